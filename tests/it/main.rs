//! Integration tests: the real `clauster` binary, a throwaway HOME, the repo's fake
//! `claude`, loopback only. One test binary (modules below) keeps linking cheap.

mod auth;
mod bridges;
mod browser;
mod claude_md;
mod cli;
mod clone;
mod clone_real;
mod common;
mod config;
mod discovery;
mod http_api;
mod lifecycle;
mod live;
mod projects_create;
mod sessions;
mod trust;
mod usage;
