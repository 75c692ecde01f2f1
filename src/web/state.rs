//! What every handler can reach: the bus (for the snapshot), the actor slots (for
//! commands), the loaded config and the templates.

use std::sync::Arc;

use crate::actors::Tree;
use crate::bus::EventBus;
use crate::config::Loaded;

pub struct AppState {
    pub bus: EventBus,
    pub tree: Tree,
    pub config: Arc<Loaded>,
    pub templates: tera::Tera,
}
