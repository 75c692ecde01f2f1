//! The bus vocabulary: plain data that actors, web handlers and WebSocket sessions
//! exchange. Commands (`commands`) go to one actor and get a reply; events (`events`) are
//! broadcast on the [`crate::bus::EventBus`]; the snapshot (`snapshot`) is the current
//! state that read handlers serve without an actor hop.

pub mod commands;
pub mod events;
pub mod instance;
pub mod project;
pub mod snapshot;

pub use events::Event;
pub use project::{Project, ProjectList, TrustState};
pub use snapshot::{ChildState, ChildStatus, ClaudeInfo, Snapshot};
