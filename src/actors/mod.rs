//! The actor tree (DESIGN §1): a root [`supervisor::Supervisor`] over the long-lived
//! actors. Each actor owns its files and processes; the web layer reaches them through
//! [`supervisor::Slot`]s and reads their published state from the bus.

pub mod doctor;
pub mod projects;
pub mod supervisor;

use std::sync::Arc;

use actix::prelude::*;

use crate::bus::EventBus;
use crate::config::Loaded;
use doctor::DoctorActor;
use projects::{ProjectsActor, ProjectsConfig};
use supervisor::{Backoff, ChildSpec, Intensity, Restart, Slot, Supervisor};

/// Handles to the running tree.
#[derive(Clone)]
pub struct Tree {
    pub root: Addr<Supervisor>,
    pub projects: Slot<ProjectsActor>,
    pub doctor: Slot<DoctorActor>,
}

/// Builds and starts the tree on the current actix system.
pub fn start(config: Arc<Loaded>, projects_cfg: ProjectsConfig, bus: EventBus) -> Tree {
    let projects = Slot::default();
    let doctor = Slot::default();
    let projects_cfg = Arc::new(projects_cfg);
    let root = Supervisor::new(Some(bus.clone()), Intensity::default(), Backoff::default())
        .child(ChildSpec::new("projects", Restart::Permanent, {
            let (slot, bus) = (projects.clone(), bus.clone());
            move |guard| slot.set(ProjectsActor::new(projects_cfg.clone(), bus.clone(), guard).start())
        }))
        .child(ChildSpec::new("doctor", Restart::Permanent, {
            let (slot, bus) = (doctor.clone(), bus.clone());
            move |guard| slot.set(DoctorActor::new(config.clone(), bus.clone(), guard).start())
        }))
        .start();
    Tree { root, projects, doctor }
}
