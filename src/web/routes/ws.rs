//! WebSockets: `/ws/bridge-log/{project}` (a bridge's debug log, sanitized: backlog then
//! live lines) and `/ws/events` (the state on connect, then every change).
//!
//! Each socket is one small task that forwards from a bounded channel. A closed socket is
//! noticed at once (the read half ends) and the task ends with it; a slow one skips ahead
//! with a visible note instead of making clauster buffer; clauster's shutdown closes them
//! all at once.

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, CloseReason, Message, MessageStream, Session};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::actors::bridges::SubscribeLogOf;
use crate::actors::bridges::log_tail::Subscription;
use crate::bus::{Delivery, Subscription as BusSubscription};
use crate::messages::{Event, Project, ProjectList, Snapshot};
use crate::web::state::AppState;

/// Largest text frame we build by joining lines.
const FRAME_BYTES: usize = 64 << 10;

pub async fn bridge_log(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> actix_web::Result<HttpResponse> {
    let (res, session, stream) = actix_ws::handle(&req, body)?;
    let sub = match state.tree.bridges.get() {
        Some(addr) => addr.send(SubscribeLogOf(name.into_inner())).await.ok().flatten(),
        None => None,
    };
    actix_web::rt::spawn(stream_log(session, stream, sub, state.shutdown.clone()));
    Ok(res)
}

async fn stream_log(
    mut session: Session,
    mut stream: MessageStream,
    sub: Option<Subscription>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let Some((backlog, mut rx)) = sub else {
        let reason =
            CloseReason { code: CloseCode::Policy, description: Some("no such bridge, or it has no log".into()) };
        let _ = session.close(Some(reason)).await;
        return;
    };
    let mut closing: Option<CloseReason> = None;
    for frame in frames(backlog.iter()) {
        if session.text(frame).await.is_err() {
            return;
        }
    }
    loop {
        tokio::select! {
            msg = stream.recv() => match msg {
                // A failed pong shows up on the next send.
                Some(Ok(Message::Ping(b))) => drop(session.pong(&b).await),
                // Answer a client's close with its own code, as the protocol asks.
                Some(Ok(Message::Close(reason))) => { closing = reason; break }
                Some(Err(_)) | None => break,
                _ => {}
            },
            batch = rx.recv() => {
                let text = match batch {
                    // Join whatever else is already waiting, so a fast bridge cannot
                    // outrun the socket one frame per line.
                    Ok(first) => {
                        let mut lines: Vec<String> = first.to_vec();
                        let mut bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
                        while bytes < FRAME_BYTES {
                            match rx.try_recv() {
                                Ok(more) => {
                                    bytes += more.iter().map(|l| l.len() + 1).sum::<usize>();
                                    lines.extend(more.iter().cloned());
                                }
                                Err(TryRecvError::Lagged(n)) => lines.push(skipped(n)),
                                Err(_) => break,
                            }
                        }
                        lines.join("\n")
                    }
                    Err(RecvError::Lagged(n)) => skipped(n),
                    Err(RecvError::Closed) => break,
                };
                if session.text(text).await.is_err() {
                    return;
                }
            },
            _ = shutdown.changed() => break,
        }
    }
    let _ = session.close(closing).await;
}

fn skipped(n: u64) -> String {
    format!("[clauster] {n} updates skipped: this viewer fell behind the log")
}

/// Lines joined into frames of at most `FRAME_BYTES` (a longer line is a frame of its own).
fn frames<'a>(lines: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for l in lines {
        if !cur.is_empty() && cur.len() + l.len() + 1 > FRAME_BYTES {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push('\n');
        }
        cur.push_str(l);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

pub async fn events(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> actix_web::Result<HttpResponse> {
    let (res, session, stream) = actix_ws::handle(&req, body)?;
    // Subscribe first, then take the snapshot, so no change falls between the two; the
    // snapshot waits (bounded) for the first project scan, as HTTP reads do.
    let sub = state.bus.subscribe();
    let snap = state.ready_snapshot().await.unwrap_or_else(|_| state.bus.snapshot());
    actix_web::rt::spawn(stream_events(session, stream, sub, snap, state.shutdown.clone()));
    Ok(res)
}

async fn stream_events(
    mut session: Session,
    mut stream: MessageStream,
    mut sub: BusSubscription,
    snap: Snapshot,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    if session.text(snapshot_json(&snap)).await.is_err() {
        return;
    }
    // The list this client has, so a change sends only what changed.
    let mut seen = snap.projects.clone();
    let mut closing: Option<CloseReason> = None;
    loop {
        let text = tokio::select! {
            msg = stream.recv() => match msg {
                Some(Ok(Message::Ping(b))) => { drop(session.pong(&b).await); continue }
                Some(Ok(Message::Close(reason))) => { closing = reason; break }
                Some(Err(_)) | None => break,
                _ => continue,
            },
            d = sub.recv() => match d {
                Delivery::Event(e) => match &*e {
                    Event::ProjectsChanged { projects, .. } => {
                        let text = projects_json(&seen, projects);
                        seen = projects.clone();
                        text
                    }
                    other => event_json(other),
                },
                Delivery::Resync(s) => {
                    seen = s.projects.clone();
                    snapshot_json(&s)
                }
                Delivery::Closed => break,
            },
            _ = shutdown.changed() => break,
        };
        if session.text(text).await.is_err() {
            return;
        }
    }
    let _ = session.close(closing).await;
}

/// `{"type":"snapshot", "seq", "projects", "instances", "sessions", "claude", "children"}`.
pub fn snapshot_json(s: &Snapshot) -> String {
    let projects = String::from_utf8_lossy(&s.projects.json()).into_owned();
    let rest = serde_json::json!({
        "seq": s.seq,
        "instances": s.instances.values().collect::<Vec<_>>(),
        "sessions": &*s.sessions,
        "claude": s.claude,
        "children": &*s.children,
        "projects_ready": s.projects_ready,
        "projects_error": s.projects_error,
    })
    .to_string();
    format!("{{\"type\":\"snapshot\",\"projects\":{projects},{}", &rest[1..])
}

/// A project-list change for a client that has `seen`: `{"type":"projects_delta",
/// "upsert":[…], "remove":[names], "count"}` (at 1000 projects a new folder is ~200 bytes
/// instead of the whole ~200 KB list), or the whole list when most of it changed.
pub fn projects_json(seen: &ProjectList, now: &ProjectList) -> String {
    let upsert: Vec<&Project> = now.items().iter().filter(|p| seen.get(&p.name) != Some(*p)).collect();
    let remove: Vec<&str> =
        seen.items().iter().filter(|p| now.get(&p.name).is_none()).map(|p| p.name.as_str()).collect();
    if upsert.len() + remove.len() > now.len() / 2 + 1 {
        return format!("{{\"type\":\"projects\",\"projects\":{}}}", String::from_utf8_lossy(&now.json()));
    }
    serde_json::json!({"type": "projects_delta", "upsert": upsert, "remove": remove, "count": now.len()}).to_string()
}

/// One event as the dashboard wants it; project changes carry the whole list.
pub fn event_json(e: &Event) -> String {
    match e {
        Event::ProjectsChanged { projects, .. } => {
            format!("{{\"type\":\"projects\",\"projects\":{}}}", String::from_utf8_lossy(&projects.json()))
        }
        Event::InstanceChanged(i) => serde_json::json!({"type": "instance", "instance": i}).to_string(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// `/ws/clone-progress/{job_id}`: the job's state now, then each change, then the
/// outcome and a normal close. An unknown or forgotten job closes with 1008. Closing the
/// socket does not stop the clone.
pub async fn clone_progress(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    job_id: web::Path<String>,
) -> actix_web::Result<HttpResponse> {
    let (res, session, stream) = actix_ws::handle(&req, body)?;
    let rx = state.clones.watch(&job_id);
    actix_web::rt::spawn(stream_clone(session, stream, rx, state.shutdown.clone()));
    Ok(res)
}

async fn stream_clone(
    mut session: Session,
    mut stream: MessageStream,
    rx: Option<tokio::sync::watch::Receiver<crate::clone_job::JobState>>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let Some(mut rx) = rx else {
        let reason = CloseReason { code: CloseCode::Policy, description: Some("unknown or expired clone job".into()) };
        let _ = session.close(Some(reason)).await;
        return;
    };
    let mut send = true;
    loop {
        if send {
            let state = rx.borrow_and_update().clone();
            if session.text(state.frame()).await.is_err() {
                return;
            }
            if state.outcome.is_some() {
                let _ = session.close(Some(CloseCode::Normal.into())).await;
                return;
            }
        }
        tokio::select! {
            // A value set before the job dropped its sender is still seen (Ok) first.
            changed = rx.changed() => match changed {
                Ok(()) => send = true,
                Err(_) => break,
            },
            msg = stream.recv() => {
                send = false;
                match msg {
                    Some(Ok(Message::Ping(b))) => drop(session.pong(&b).await),
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                    _ => {}
                }
            },
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
    let _ = session.close(Some(CloseCode::Away.into())).await;
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::{Value, json};

    use super::*;
    use crate::messages::TrustState;

    fn project(name: &str, trusted: bool) -> Project {
        Project {
            name: name.into(),
            path: PathBuf::from(format!("/p/{name}")),
            is_git_repo: false,
            has_claude_md: false,
            has_claude_dir: false,
            trust_state: if trusted { TrustState::Trusted } else { TrustState::Untrusted },
            allow_bypass_permissions: false,
            real_path: None,
        }
    }

    fn list(items: &[(&str, bool)]) -> ProjectList {
        ProjectList::new(items.iter().map(|&(n, t)| project(n, t)).collect())
    }

    #[test]
    fn a_project_change_sends_only_what_changed() {
        let seen = list(&[("a", false), ("b", false), ("c", false), ("d", false), ("e", false)]);
        let now = list(&[("a", false), ("b", true), ("d", false), ("e", false), ("f", false)]);
        let v: Value = serde_json::from_str(&projects_json(&seen, &now)).unwrap();
        assert_eq!(v["type"], "projects_delta");
        assert_eq!(v["remove"], json!(["c"]));
        let names: Vec<&str> = v["upsert"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["b", "f"]);
        assert_eq!((v["upsert"][0]["trust_state"].as_str(), v["count"].as_u64()), (Some("trusted"), Some(5)));

        let same: Value = serde_json::from_str(&projects_json(&now, &now)).unwrap();
        assert_eq!((same["upsert"].clone(), same["remove"].clone()), (json!([]), json!([])));

        // Most of it changed: the whole list is shorter and simpler.
        let other = list(&[("x", false), ("y", false), ("z", false)]);
        let v: Value = serde_json::from_str(&projects_json(&seen, &other)).unwrap();
        assert_eq!((v["type"].as_str(), v["projects"].as_array().unwrap().len()), (Some("projects"), 3));
    }
}
