//! The health gate inside a supervised stream (`--gate`): after a switch to
//! another generation the new host is watched for the gate's window, and a
//! failed rule rolls the home back (see [`crate::supervise::gate`] for the
//! rules and their verdicts).

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::Supervisor;
use crate::supervise::session::Session;
use crate::supervise::{control, gate, generation_of};

/// What the health gate needs to remember between hosts.
#[derive(Default)]
pub(super) struct GateState {
    /// Frames out lately: the rate before a switch.
    pub(super) rate: gate::Rate,
    /// The rate when the running handoff was decided.
    pub(super) baseline: Option<f64>,
    /// The generation handed over from.
    pub(super) previous: Option<u64>,
    /// The generation under watch.
    pub(super) watch: Option<gate::Watch>,
    /// The next handoff goes back after a failed gate: not watched.
    pub(super) going_back: bool,
}

impl Supervisor<'_> {
    /// After a switch to another generation: watch it, when gated.
    pub(super) fn start_gate(&mut self, to: Option<u64>) {
        let going_back = std::mem::take(&mut self.gate.going_back);
        let (Some(gate), Some(from), Some(to)) = (&self.options.gate, self.gate.previous, to)
        else {
            return;
        };
        if going_back || from == to {
            return;
        }
        let watch = gate::Watch::start(
            gate.clone(),
            from,
            to,
            &self.live.figures(),
            self.live.restarts(),
            self.gate.baseline,
        );
        self.reporter.status(
            "Watching",
            &format!(
                "generation {to} for {} (gate {gate}); it goes back to generation {from} if a rule fails",
                crate::time::human_duration(gate.window)
            ),
        );
        self.live.gate(|status| status.watching = Some(to));
        self.gate.watch = Some(watch);
    }

    /// Samples the rate; judges the generation under watch.
    pub(super) fn check_gate(&mut self, session: &Session) {
        let Some(gate) = &self.options.gate else {
            return;
        };
        self.gate
            .rate
            .sample(Instant::now(), self.live.frames_out(), gate.window);
        let Some(watch) = self.gate.watch.take() else {
            return;
        };
        // Someone switched elsewhere meanwhile: nothing to judge.
        if generation_of(&session.binary) != Some(watch.to) && self.handoff.is_none() {
            self.live.gate(|status| status.watching = None);
            return;
        }
        let verdict = watch.check(&self.live.figures(), self.live.restarts());
        let event = |outcome: &str, reason: Option<String>, to: Option<u64>| control::GateEvent {
            at: crate::time::now_rfc3339(),
            generation: watch.to,
            outcome: outcome.to_owned(),
            reason,
            to,
        };
        match verdict {
            None if watch.over() => {
                self.reporter.status(
                    "Passed",
                    &format!("generation {} kept its gate {}", watch.to, watch.gate),
                );
                let passed = event("passed", None, None);
                self.live.gate(|status| {
                    status.watching = None;
                    status.events.push(passed);
                });
            }
            None => self.gate.watch = Some(watch),
            Some(verdict) => {
                self.reporter.warn(&format!(
                    "generation {} failed its gate: {verdict}; going back to generation {}",
                    watch.to, watch.from
                ));
                crate::metrics::global()
                    .gate_rollbacks
                    .get_or_create(&crate::metrics::labels(&[("rule", verdict.rule.name())]))
                    .inc();
                let reason = verdict.to_string();
                match crate::ops::rollback::automatic(
                    self.home,
                    watch.to,
                    watch.from,
                    &reason,
                    self.reporter,
                ) {
                    Ok(true) => {
                        self.gate.going_back = true;
                        self.signals.restart.store(true, Ordering::SeqCst);
                    }
                    Ok(false) => {}
                    Err(e) => self.reporter.warn(&format!(
                        "cannot go back to generation {}: {e:#}",
                        watch.from
                    )),
                }
                let back = event("rolled_back", Some(reason), Some(watch.from));
                self.live.gate(|status| {
                    status.watching = None;
                    status.events.push(back);
                });
            }
        }
    }
}
