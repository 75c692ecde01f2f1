//! Route handlers by area. Each is a few lines: validate, send a command or read the
//! snapshot, map the reply.

pub mod assets;
pub mod auth;
pub mod claude_md;
pub mod doctor;
pub mod health;
pub mod instances;
pub mod pages;
pub mod projects;
pub mod ws;
