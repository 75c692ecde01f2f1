//! clauster: a self-hosted dashboard that spawns and supervises Claude Code
//! `remote-control` bridges.
//!
//! Layers, bottom up: pure domain modules (config, discovery, trust, ...), the bus
//! vocabulary (`messages`) and the bus itself, the actor tree (`actors`), the HTTP surface
//! (`web`), and the command line (`cli`).

pub mod actors;
pub mod auth;
pub mod bus;
pub mod claude_cli;
pub mod claude_json;
pub mod claude_md;
pub mod cli;
pub mod clone_job;
pub mod config;
pub mod discovery;
pub mod doctor;
pub mod fsutil;
pub mod logging;
pub mod markers;
pub mod messages;
pub mod names;
pub mod password;
pub mod procs;
pub mod provision;
pub mod redact;
pub mod restart;
pub mod ssrf;
pub mod state_file;
pub mod tail;
pub mod time;
pub mod trust;
pub mod usage;
pub mod web;
