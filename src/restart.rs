//! Restart policy maths for bridges (the OS-process half of supervision): whether an
//! exit is restarted, after how long, and when to give up.
//!
//! A run that stays up at least `min_uptime` is healthy and resets the count; shorter runs
//! count as a crash loop, back off exponentially (with jitter) and, past `max_attempts`,
//! leave the bridge `failed` until the user acts. Permanent causes (not logged in, not
//! trusted) are never restarted: retrying cannot fix them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::actors::supervisor::Backoff;
use crate::markers::ExitClass;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Never restart (clauster 0.6.0's behaviour).
    #[default]
    Never,
    /// Restart after a crash or a network failure.
    OnFailure,
    /// Also restart after a clean exit (e.g. a session-mode bridge finishing).
    Always,
}

#[derive(Debug, Clone, Copy)]
pub struct RestartRules {
    pub policy: RestartPolicy,
    pub min_uptime: Duration,
    pub backoff: Backoff,
    pub max_attempts: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Leave it down (by policy, or because we stopped it).
    Stay,
    /// Start again after `delay`; `attempt` counts the crash loop (1 = first retry).
    Restart { delay: Duration, attempt: u32 },
    /// Too many quick failures in a row.
    GiveUp { reason: String },
}

impl RestartRules {
    /// Decides what follows an exit of class `class` after `uptime`, given how many quick
    /// failures came right before it. Returns the decision and the new count.
    pub fn decide(&self, class: ExitClass, uptime: Duration, quick_failures: u32, unit_random: f64) -> (Decision, u32) {
        let wanted = match class {
            ExitClass::Stopped | ExitClass::LoggedOut | ExitClass::Untrusted => false,
            ExitClass::Crash | ExitClass::Offline => self.policy != RestartPolicy::Never,
            ExitClass::Completed => self.policy == RestartPolicy::Always,
        };
        if !wanted {
            return (Decision::Stay, 0);
        }
        let count = if uptime >= self.min_uptime { 1 } else { quick_failures + 1 };
        if count > self.max_attempts {
            let reason = format!(
                "gave up after {} restarts: each run ended within {}s of starting (last exit: {})",
                self.max_attempts,
                self.min_uptime.as_secs_f64(),
                serde_json::to_value(class).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
            );
            return (Decision::GiveUp { reason }, count);
        }
        (Decision::Restart { delay: self.backoff.delay(count - 1, unit_random), attempt: count }, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rules(policy: RestartPolicy) -> RestartRules {
        RestartRules {
            policy,
            min_uptime: Duration::from_secs(10),
            backoff: Backoff {
                initial: Duration::from_secs(1),
                factor: 2.0,
                max: Duration::from_secs(60),
                jitter: 0.2,
            },
            max_attempts: 3,
        }
    }

    const QUICK: Duration = Duration::from_secs(1);

    #[test]
    fn policies() {
        for class in [ExitClass::Stopped, ExitClass::LoggedOut, ExitClass::Untrusted] {
            for p in [RestartPolicy::Never, RestartPolicy::OnFailure, RestartPolicy::Always] {
                assert_eq!(rules(p).decide(class, QUICK, 0, 0.5).0, Decision::Stay, "{class:?} {p:?}");
            }
        }
        assert_eq!(rules(RestartPolicy::Never).decide(ExitClass::Crash, QUICK, 0, 0.5).0, Decision::Stay);
        assert!(matches!(
            rules(RestartPolicy::OnFailure).decide(ExitClass::Offline, QUICK, 0, 0.5).0,
            Decision::Restart { .. }
        ));
        assert_eq!(rules(RestartPolicy::OnFailure).decide(ExitClass::Completed, QUICK, 0, 0.5).0, Decision::Stay);
        assert!(matches!(
            rules(RestartPolicy::Always).decide(ExitClass::Completed, QUICK, 0, 0.5).0,
            Decision::Restart { .. }
        ));
    }

    #[test]
    fn a_crash_loop_backs_off_then_gives_up() {
        let r = rules(RestartPolicy::OnFailure);
        let mut n = 0;
        let mut delays = vec![];
        loop {
            let (d, next) = r.decide(ExitClass::Crash, QUICK, n, 0.5);
            n = next;
            match d {
                Decision::Restart { delay, attempt } => {
                    assert_eq!(attempt, n);
                    delays.push(delay.as_secs());
                }
                Decision::GiveUp { reason } => {
                    assert!(reason.contains("gave up after 3 restarts") && reason.contains("crash"), "{reason}");
                    break;
                }
                Decision::Stay => panic!("stayed"),
            }
        }
        assert_eq!(delays, [1, 2, 4]);
    }

    #[test]
    fn a_healthy_run_resets_the_count() {
        let r = rules(RestartPolicy::OnFailure);
        let (d, n) = r.decide(ExitClass::Crash, Duration::from_secs(3600), 3, 0.5);
        assert_eq!(n, 1);
        assert_eq!(d, Decision::Restart { delay: Duration::from_secs(1), attempt: 1 });
    }

    proptest! {
        /// Whatever happens, delays stay within [initial·(1−j), max·(1+j)] and the loop ends.
        #[test]
        fn delays_are_bounded_and_loops_end(uptimes in proptest::collection::vec(0u64..30, 1..40), unit in 0.0f64..1.0) {
            let r = rules(RestartPolicy::Always);
            let mut n = 0;
            let mut quick_in_a_row = 0;
            for up in uptimes {
                let up = Duration::from_secs(up);
                quick_in_a_row = if up >= r.min_uptime { 1 } else { quick_in_a_row + 1 };
                let (d, next) = r.decide(ExitClass::Crash, up, n, unit);
                n = next;
                match d {
                    Decision::Restart { delay, .. } => {
                        prop_assert!(delay >= Duration::from_millis(800) && delay <= Duration::from_secs(72));
                        prop_assert!(quick_in_a_row <= 3);
                    }
                    Decision::GiveUp { .. } => { prop_assert!(quick_in_a_row > 3); break; }
                    Decision::Stay => prop_assert!(false, "Always never stays on a crash"),
                }
            }
        }
    }
}
