//! The Store actor: the one owner of `state.json`. Bridges send it their records; it
//! keeps the merged map (records of projects not running now are kept, as 0.6.0 did) and
//! writes it atomically, coalescing bursts of changes into one write.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;

use super::supervisor::ExitGuard;
use crate::state_file::{self, Record};

/// Upsert one project's record.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Put {
    pub project: String,
    pub record: Record,
}

/// Write now if anything is pending, and reply when it is on disk.
#[derive(Debug, Message, Default)]
#[rtype(result = "()")]
pub struct Flush;

/// The current record of one project.
#[derive(Debug, Message)]
#[rtype(result = "Option<Record>")]
pub struct GetRecord(pub String);

/// The records as last accepted, shared with the factories so a restarted Store (or
/// Bridges actor) begins from them without reading the disk on the actor thread.
pub type Shared = Arc<Mutex<BTreeMap<String, Record>>>;

pub struct Store {
    path: Arc<PathBuf>,
    records: BTreeMap<String, Record>,
    shared: Shared,
    dirty: bool,
    writing: bool,
    timer: Option<SpawnHandle>,
    /// Flush requests waiting for everything pending to be on disk.
    flushes: Vec<tokio::sync::oneshot::Sender<()>>,
    _guard: ExitGuard,
}

/// How long a burst of changes may gather before it is written.
const COALESCE: Duration = Duration::from_millis(25);

impl Store {
    pub fn new(path: PathBuf, shared: Shared, guard: ExitGuard) -> Store {
        let records = shared.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Store {
            path: Arc::new(path),
            records,
            shared,
            dirty: false,
            writing: false,
            timer: None,
            flushes: Vec::new(),
            _guard: guard,
        }
    }

    fn schedule(&mut self, ctx: &mut Context<Self>) {
        if self.timer.is_none() {
            self.timer = Some(ctx.run_later(COALESCE, |act, ctx| {
                act.timer = None;
                act.write(ctx);
            }));
        }
    }

    fn write(&mut self, ctx: &mut Context<Self>) {
        if self.writing || !self.dirty {
            return;
        }
        self.dirty = false;
        self.writing = true;
        let (path, records) = (self.path.clone(), self.records.clone());
        let job = tokio::task::spawn_blocking(move || state_file::save(&path, &records));
        ctx.wait(job.into_actor(self).map(|res, act, ctx| {
            act.writing = false;
            match res {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(path = %act.path.display(), error = %e, "cannot save bridge state"),
                Err(e) => tracing::error!(error = %e, "state save crashed"),
            }
            if act.dirty && !act.flushes.is_empty() {
                act.write(ctx);
            } else if act.dirty {
                act.schedule(ctx);
            } else {
                for f in act.flushes.drain(..) {
                    let _ = f.send(());
                }
            }
        }));
    }
}

impl Actor for Store {
    type Context = Context<Self>;
}

impl Handler<Put> for Store {
    type Result = ();
    fn handle(&mut self, msg: Put, ctx: &mut Context<Self>) {
        if self.records.get(&msg.project) != Some(&msg.record) {
            self.shared.lock().unwrap_or_else(|e| e.into_inner()).insert(msg.project.clone(), msg.record.clone());
            self.records.insert(msg.project, msg.record);
            self.dirty = true;
            self.schedule(ctx);
        }
    }
}

impl Handler<Flush> for Store {
    type Result = ResponseFuture<()>;

    /// Replies once every change received so far is on disk.
    fn handle(&mut self, _: Flush, ctx: &mut Context<Self>) -> Self::Result {
        if !self.dirty && !self.writing {
            return Box::pin(async {});
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.flushes.push(tx);
        self.write(ctx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

impl Handler<GetRecord> for Store {
    type Result = Option<Record>;
    fn handle(&mut self, msg: GetRecord, _: &mut Context<Self>) -> Option<Record> {
        self.records.get(&msg.0).cloned()
    }
}
