//! `ctl status|set|restart|snapshot`: talk to a running `scopectl run`.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{bail, Result};

use super::Context;
use crate::cli::CtlVerb;
use crate::error::Hinted;
use crate::supervise::control::{self, by_generation, Command, StreamStatus};
use crate::supervise::Instance;

pub fn ctl(context: &Context, name: &str, verb: CtlVerb) -> Result<ExitCode> {
    let home = context.existing_home()?;
    let instance = Instance::new(&home, name)?;
    let command = match &verb {
        CtlVerb::Status { .. } => Command::Status,
        CtlVerb::Set { params } => Command::Set {
            params: params.clone(),
        },
        CtlVerb::Restart { params } => Command::Restart {
            params: params.clone(),
        },
        CtlVerb::Snapshot { .. } => Command::Snapshot,
    };
    let (answer, bytes) = control::request(&instance, &command)?;
    if answer["ok"] != serde_json::Value::Bool(true) {
        let error = answer["error"].as_str().unwrap_or("the supervisor refused");
        bail!(Hinted::new(
            error.to_owned(),
            "`scopectl ctl status` shows the chain and its parameters"
        ));
    }
    match verb {
        CtlVerb::Status { json: true } => {
            println!("{}", serde_json::to_string_pretty(&answer["status"])?);
        }
        CtlVerb::Status { json: false } => {
            let status: StreamStatus = serde_json::from_value(answer["status"].clone())?;
            print!("{}", describe(&status));
        }
        CtlVerb::Set { params } => context
            .printer
            .status("Set", format!("{} on the running host", params.join(" "))),
        CtlVerb::Restart { .. } => context
            .printer
            .status("Restarted", "the host; the stream goes on"),
        CtlVerb::Snapshot { output } => {
            fs_err::write(&output, bytes)?;
            context
                .printer
                .status("Wrote", format!("the latest frame to {}", output.display()));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `ctl status` for a person.
fn describe(status: &StreamStatus) -> String {
    let mut out = String::new();
    let generation = status
        .generation
        .map_or_else(|| "no generation".into(), |n| format!("generation {n}"));
    let host = status
        .host_pid
        .map_or_else(|| "between hosts".into(), |pid| format!("host pid {pid}"));
    let _ = writeln!(
        out,
        "instance `{}`: {generation}, {host}, up {:.1} s (this host {:.1} s), {} restart{}",
        status.name,
        status.uptime_s,
        status.host_uptime_s,
        status.restarts,
        if status.restarts == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        out,
        "frames out: {} ({})",
        status.frames_out,
        by_generation(&status.frames_by_host)
    );
    if !status.gaps_ms.is_empty() {
        let gaps: Vec<String> = status.gaps_ms.iter().map(u64::to_string).collect();
        let _ = writeln!(out, "handoff gaps: {} ms", gaps.join(", "));
    }
    if let Some(host) = &status.host {
        let _ = writeln!(
            out,
            "  {:<16} {:>8} frames {:>8} fps",
            "input", host["frames_in"], host["fps_in"]
        );
        for stage in host["stages"].as_array().into_iter().flatten() {
            let values = |key: &str| -> Vec<String> {
                stage[key]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect()
            };
            let mut params = values("params");
            let load = values("load_params");
            if !load.is_empty() {
                // Fixed until a restart (`ctl restart --set`).
                params.push(format!("(loaded with {})", load.join(" ")));
            }
            let passed = match stage["passed"].as_u64() {
                Some(n) if n > 0 => format!("  UNLOADED, {n} passed through unprocessed"),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "  {:<16} {:>8} frames {:>8} fps  {}{passed}",
                stage["name"].as_str().unwrap_or("?"),
                stage["frames"],
                stage["fps"],
                params.join(" ")
            );
        }
        let _ = writeln!(
            out,
            "  {:<16} {:>8} frames {:>8} fps",
            "output", host["frames_out"], host["fps_out"]
        );
        let log: Vec<&str> = host["log"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|line| line.as_str())
            .collect();
        if let Some(sandbox) = &status.sandbox {
            let grants: Vec<String> = sandbox
                .grants
                .iter()
                .map(|(plugin, caps)| format!("{plugin}: {}", caps.join(", ")))
                .collect();
            let granted = match grants.is_empty() {
                true => "no plugin has a grant".to_owned(),
                false => grants.join("; "),
            };
            let _ = writeln!(out, "sandbox: {} ({granted})", sandbox.enforced);
        }
        if let Some(gate) = &status.gate {
            let watching = match gate.watching {
                Some(n) => format!("watching generation {n}"),
                None => "no switch under watch".to_owned(),
            };
            let _ = writeln!(out, "gate: {} ({watching})", gate.gate);
            if let Some(last) = gate.events.last() {
                let what = match (&last.reason, last.to) {
                    (Some(reason), Some(to)) => {
                        format!("rolled back to generation {to}: {reason}")
                    }
                    _ => "passed".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "  last: generation {} {what} ({})",
                    last.generation, last.at
                );
            }
        }
        if !log.is_empty() {
            let _ = writeln!(out, "recent plugin log:");
            for line in log {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_shows_its_runtime_and_its_load_time_values() {
        let status = StreamStatus {
            version: 1,
            name: "default".into(),
            supervisor_pid: 1,
            host_pid: Some(2),
            generation: Some(3),
            uptime_s: 1.0,
            host_uptime_s: 1.0,
            restarts: 0,
            chain: vec!["blend".into()],
            frames_out: 10,
            frames_by_host: Vec::new(),
            gaps_ms: Vec::new(),
            params_set: Vec::new(),
            handing_over: false,
            host: Some(serde_json::json!({
                "frames_in": 10, "fps_in": 30.0, "frames_out": 10, "fps_out": 30.0,
                "stages": [{"name": "blend", "frames": 10, "fps": 30.0, "passed": 0,
                    "params": {"mix": 0.5}, "load_params": {"window": 4}}],
                "log": ["[blend] warn: mix is high"]
            })),
            sandbox: Some(control::SandboxStatus {
                enforced: "landlock".into(),
                grants: [("blend".to_owned(), vec!["gpu".to_owned()])].into(),
            }),
            gate: Some(control::GateStatus {
                gate: "10s:unloaded=0".into(),
                watching: None,
                events: vec![control::GateEvent {
                    at: "2026-12-03T08:00:00Z".into(),
                    generation: 4,
                    outcome: "rolled_back".into(),
                    reason: Some("`unloaded=0` failed: measured 1 unloaded (blend)".into()),
                    to: Some(3),
                }],
            }),
        };
        let text = describe(&status);
        assert!(text.contains("mix=0.5 (loaded with window=4)"), "{text}");
        assert!(text.contains("sandbox: landlock (blend: gpu)\n"), "{text}");
        assert!(
            text.contains("gate: 10s:unloaded=0 (no switch under watch)\n  last: generation 4 rolled back to generation 3: `unloaded=0` failed: measured 1 unloaded (blend) (2026-12-03T08:00:00Z)\n"),
            "{text}"
        );
        assert!(
            text.ends_with("recent plugin log:\n  [blend] warn: mix is high\n"),
            "{text}"
        );
    }
}
