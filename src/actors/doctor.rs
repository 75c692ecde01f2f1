//! The Doctor actor: owns the `claude --version` probe and the host checks. The probe
//! runs once when clauster starts and again on every doctor run, never per request;
//! `/healthz` reads its last result from the snapshot.

use std::sync::Arc;

use actix::prelude::*;

use super::supervisor::ExitGuard;
use crate::bus::EventBus;
use crate::claude_cli;
use crate::config::Loaded;
use crate::doctor::{self, Host, Report};
use crate::messages::{ClaudeInfo, Event};

/// Run every doctor check now (the port check is CLI-only).
#[derive(Debug, Message)]
#[rtype(result = "Report")]
pub struct RunDoctor;

pub struct DoctorActor {
    config: Arc<Loaded>,
    bus: EventBus,
    _guard: ExitGuard,
}

impl DoctorActor {
    pub fn new(config: Arc<Loaded>, bus: EventBus, guard: ExitGuard) -> DoctorActor {
        DoctorActor { config, bus, _guard: guard }
    }
}

fn publish(bus: &EventBus, probe: &Result<String, claude_cli::ProbeError>) {
    let info = match probe {
        Ok(v) => ClaudeInfo { ok: Some(true), version: Some(v.clone()), error: None },
        Err(e) => ClaudeInfo { ok: Some(false), version: None, error: Some(e.to_string()) },
    };
    if bus.snapshot().claude == info {
        return;
    }
    if let Some(e) = &info.error {
        tracing::warn!(error = %e, "claude CLI is not usable; bridges cannot start until it is");
    } else {
        tracing::info!(version = info.version.as_deref().unwrap_or(""), "claude CLI found");
    }
    let snap_info = info.clone();
    bus.update(move |s| s.claude = snap_info, Event::ClaudeProbed(info));
}

impl Actor for DoctorActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let (binary, bus) = (self.config.config.claude.binary.clone(), self.bus.clone());
        ctx.spawn(fut::wrap_future(async move { publish(&bus, &claude_cli::probe_version(&binary).await) }));
    }
}

impl Handler<RunDoctor> for DoctorActor {
    type Result = ResponseFuture<Report>;

    fn handle(&mut self, _: RunDoctor, _: &mut Context<Self>) -> Self::Result {
        let (config, bus) = (self.config.clone(), self.bus.clone());
        Box::pin(async move {
            let probe = claude_cli::probe_version(&config.config.claude.binary).await;
            publish(&bus, &probe);
            doctor::run(&config, Host::from_env(), probe, false).await
        })
    }
}
