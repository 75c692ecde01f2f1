//! The actor tree (DESIGN §1): a root [`supervisor::Supervisor`] over the long-lived
//! actors. Each actor owns its files and processes; the web layer reaches them through
//! [`supervisor::Slot`]s and reads their published state from the bus.

pub mod bridges;
pub mod doctor;
pub mod projects;
pub mod sessions;
pub mod store;
pub mod supervisor;

use std::sync::Arc;

use actix::prelude::*;

use crate::bus::EventBus;
use crate::config::Loaded;
use bridges::BridgesActor;
use bridges::env::BridgeEnv;
use doctor::DoctorActor;
use projects::{ProjectsActor, ProjectsConfig};
use sessions::SessionsActor;
use store::Store;
use supervisor::{Backoff, ChildSpec, Intensity, Restart, Slot, Supervisor};

/// Handles to the running tree.
#[derive(Clone)]
pub struct Tree {
    pub root: Addr<Supervisor>,
    pub projects: Slot<ProjectsActor>,
    pub doctor: Slot<DoctorActor>,
    pub store: Slot<Store>,
    pub bridges: Slot<BridgesActor>,
}

/// What the bridge side of the tree starts from.
pub struct BridgesSetup {
    pub env: BridgeEnv,
    pub state_path: std::path::PathBuf,
    pub saved: store::Shared,
}

/// Builds and starts the tree on the current actix system.
pub fn start(config: Arc<Loaded>, projects_cfg: ProjectsConfig, bridges_setup: BridgesSetup, bus: EventBus) -> Tree {
    let projects = Slot::default();
    let doctor = Slot::default();
    let store = Slot::<Store>::default();
    let bridges = Slot::default();
    let BridgesSetup { env, state_path, saved } = bridges_setup;
    let env = Arc::new(env);
    let projects_cfg = Arc::new(projects_cfg);
    let root = Supervisor::new(Some(bus.clone()), Intensity::default(), Backoff::default())
        .child(ChildSpec::new("projects", Restart::Permanent, {
            let (slot, bus) = (projects.clone(), bus.clone());
            move |guard| slot.set(ProjectsActor::new(projects_cfg.clone(), bus.clone(), guard).start())
        }))
        .child(ChildSpec::new("doctor", Restart::Permanent, {
            let (slot, bus, config) = (doctor.clone(), bus.clone(), config.clone());
            move |guard| slot.set(DoctorActor::new(config.clone(), bus.clone(), guard).start())
        }))
        .child(ChildSpec::new("sessions", Restart::Permanent, {
            let (bus, binary) = (bus.clone(), config.config.claude.binary.clone());
            let interval = std::time::Duration::from_secs(config.config.claude.agents_json_poll_interval_seconds.get());
            move |guard| drop(SessionsActor::new(binary.clone(), interval, bus.clone(), guard).start())
        }))
        .child(ChildSpec::new("store", Restart::Permanent, {
            let (slot, saved) = (store.clone(), saved.clone());
            move |guard| slot.set(Store::new(state_path.clone(), saved.clone(), guard).start())
        }))
        .child(ChildSpec::new("bridges", Restart::Permanent, {
            let (slot, store, bus) = (bridges.clone(), store.clone(), bus.clone());
            move |guard| {
                let records = saved.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let store = store.get().expect("the store starts before the bridges");
                slot.set(BridgesActor::new(config.clone(), env.clone(), bus.clone(), store, records, guard).start())
            }
        }))
        .start();
    Tree { root, projects, doctor, store, bridges }
}
