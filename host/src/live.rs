//! What a running chain shares with its control channel: every stage's
//! runtime parameters (changed between two frames) and its counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scope_plugin_api::json::Json;
use scope_plugin_api::{Params, PipelineConfig, Value};

use crate::guard::lock;
use crate::plan::{instance_name, targets_of};
use crate::plugin_log::Recent;

/// One stage of the chain, as the control channel sees it.
pub struct LiveStage {
    /// How the stage is addressed (`invert`, or `invert#2`).
    pub name: String,
    config: PipelineConfig,
    /// The load-time parameters it was constructed with (fixed for the run).
    load: Params,
    runtime: Mutex<Params>,
    version: AtomicU64,
    /// Frames the stage has put out.
    pub frames: AtomicU64,
    /// Frames that went on unprocessed since the stage's pipeline failed
    /// (the frame contract); non-zero means it was unloaded.
    pub passed: AtomicU64,
    /// Time spent in the pipeline's calls, in microseconds.
    pub busy_us: AtomicU64,
}

/// The shared state of one run.
pub struct Live {
    chain: Vec<String>,
    /// The stages, in chain order; the source and the sink are not stages.
    pub stages: Vec<LiveStage>,
    /// Frames read from the input (or generated).
    pub frames_in: AtomicU64,
    /// Frames written to the output.
    pub frames_out: AtomicU64,
    started: Instant,
    samples: Mutex<Vec<(Instant, Vec<u64>)>>,
    /// The plugins' last log lines.
    pub log: Recent,
}

/// How far back `status` looks for the recent frame rates.
const WINDOW: Duration = Duration::from_secs(3);

impl Live {
    /// The state of a chain whose stages were loaded with these load-time
    /// parameters and start with these runtime ones.
    pub fn new(chain: &[String], stages: Vec<(PipelineConfig, Params, Params)>) -> Arc<Live> {
        let stages = stages
            .into_iter()
            .enumerate()
            .map(|(i, (config, load, runtime))| LiveStage {
                name: instance_name(chain, i),
                config,
                load,
                runtime: Mutex::new(runtime),
                version: AtomicU64::new(0),
                frames: AtomicU64::new(0),
                passed: AtomicU64::new(0),
                busy_us: AtomicU64::new(0),
            })
            .collect();
        Arc::new(Live {
            chain: chain.to_vec(),
            stages,
            frames_in: AtomicU64::new(0),
            frames_out: AtomicU64::new(0),
            started: Instant::now(),
            samples: Mutex::new(Vec::new()),
            log: Recent::default(),
        })
    }

    /// The runtime parameters of stage `i` if they changed since `seen`
    /// (which is then updated).
    pub fn changed(&self, i: usize, seen: &mut u64) -> Option<Params> {
        let stage = &self.stages[i];
        let version = stage.version.load(Ordering::Acquire);
        if version == *seen {
            return None;
        }
        *seen = version;
        Some(lock(&stage.runtime).clone())
    }

    /// Applies `[PIPELINE[#N].]KEY=VALUE` settings, all or none, checked as
    /// `--set` is. A load-time parameter needs a restart.
    pub fn set(&self, sets: &[String]) -> Result<(), String> {
        let configs: Vec<&PipelineConfig> = self.stages.iter().map(|s| &s.config).collect();
        let mut updated: Vec<Option<Params>> = vec![None; self.stages.len()];
        for set in sets {
            let (targets, key, raw) = targets_of(set, &self.chain, &configs)?;
            for i in targets {
                let config = configs[i];
                let value = config.parse_value(key, raw).map_err(|e| e.to_string())?;
                if config.find_param(key).is_some_and(|p| p.is_load_param()) {
                    return Err(format!(
                        "`{key}` of `{}` is a load-time parameter and needs a restart: `scopectl ctl restart --set {set}`",
                        self.stages[i].name
                    ));
                }
                let params =
                    updated[i].get_or_insert_with(|| lock(&self.stages[i].runtime).clone());
                config
                    .update_runtime(params, key, value)
                    .map_err(|e| e.to_string())?;
            }
        }
        for (stage, params) in self.stages.iter().zip(updated) {
            if let Some(params) = params {
                *lock(&stage.runtime) = params;
                stage.version.fetch_add(1, Ordering::Release);
            }
        }
        Ok(())
    }

    /// Records the counters, for the recent rates of `status`.
    pub fn sample(&self) {
        let now = Instant::now();
        let mut samples = lock(&self.samples);
        samples.retain(|(at, _)| now.duration_since(*at) <= WINDOW);
        samples.push((now, self.counters()));
    }

    fn counters(&self) -> Vec<u64> {
        let mut counters = vec![self.frames_in.load(Ordering::Relaxed)];
        counters.extend(self.stages.iter().map(|s| s.frames.load(Ordering::Relaxed)));
        counters.push(self.frames_out.load(Ordering::Relaxed));
        counters
    }

    /// The state as one JSON line: uptime, frames in and out, and each
    /// stage's frames, recent rate and current runtime parameters.
    pub fn status_json(&self) -> String {
        let now = Instant::now();
        let counters = self.counters();
        let rates: Vec<f64> = {
            let samples = lock(&self.samples);
            match samples.first() {
                Some((at, old)) if now.duration_since(*at) > Duration::from_millis(100) => {
                    let seconds = now.duration_since(*at).as_secs_f64();
                    counters
                        .iter()
                        .zip(old)
                        .map(|(new, old)| new.saturating_sub(*old) as f64 / seconds)
                        .collect()
                }
                _ => vec![0.0; counters.len()],
            }
        };
        let stages = self.stages.iter().enumerate().map(|(i, stage)| {
            let values = |params: &Params| {
                params
                    .iter()
                    .map(|(key, value)| (key.to_owned(), value_json(value)))
                    .collect()
            };
            let params = values(&lock(&stage.runtime));
            Json::object([
                ("pipeline", Json::str(&self.chain[i])),
                ("name", Json::str(&stage.name)),
                ("frames", Json::Int(counters[i + 1] as i64)),
                (
                    "passed",
                    Json::Int(stage.passed.load(Ordering::Relaxed) as i64),
                ),
                ("fps", Json::Float(round(rates[i + 1]))),
                (
                    "busy_s",
                    Json::Float(stage.busy_us.load(Ordering::Relaxed) as f64 / 1e6),
                ),
                ("params", Json::Object(params)),
                ("load_params", Json::Object(values(&stage.load))),
            ])
        });
        Json::object([
            (
                "uptime_s",
                Json::Float(round(self.started.elapsed().as_secs_f64())),
            ),
            ("frames_in", Json::Int(counters[0] as i64)),
            ("frames_out", Json::Int(counters[counters.len() - 1] as i64)),
            ("fps_in", Json::Float(round(rates[0]))),
            ("fps_out", Json::Float(round(rates[rates.len() - 1]))),
            ("stages", Json::Array(stages.collect())),
            (
                "log",
                Json::Array(self.log.lines().into_iter().map(Json::str).collect()),
            ),
        ])
        .to_string()
    }
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn value_json(value: &Value) -> Json {
    match value {
        Value::Bool(b) => Json::Bool(*b),
        Value::Integer(i) => Json::Int(*i),
        Value::Float(x) => Json::Float(*x),
        Value::String(s) => Json::str(s),
    }
}

#[cfg(test)]
mod tests {
    use scope_plugin_api::{Mode, Param};

    use super::*;

    fn live() -> Arc<Live> {
        let config = PipelineConfig::new("fx", "Fx")
            .param(Param::float("amount", 1.0).range(0.0, 1.0))
            .param(Param::integer("seed", 1).load_param());
        let (load, runtime) = config.resolve(Mode::Video, &[], None).unwrap();
        Live::new(&["fx".to_owned()], vec![(config, load, runtime)])
    }

    #[test]
    fn a_change_reaches_the_stage_once_and_a_bad_one_changes_nothing() {
        let live = live();
        let mut seen = 0;
        assert!(live.changed(0, &mut seen).is_none());
        live.set(&["fx.amount=0.5".into()]).unwrap();
        let params = live.changed(0, &mut seen).expect("changed");
        assert_eq!(params.float("amount"), 0.5);
        assert!(live.changed(0, &mut seen).is_none());

        let error = live
            .set(&["amount=0.2".into(), "amount=7".into()])
            .unwrap_err();
        assert!(error.contains("amount"), "{error}");
        assert!(
            live.changed(0, &mut seen).is_none(),
            "all or nothing: 0.2 was not applied"
        );
        let error = live.set(&["seed=3".into()]).unwrap_err();
        assert!(
            error.contains("needs a restart: `scopectl ctl restart --set seed=3`"),
            "{error}"
        );
    }

    #[test]
    fn status_names_the_parameters_and_counts() {
        let live = live();
        live.frames_in.store(5, Ordering::Relaxed);
        let status = live.status_json();
        assert!(status.contains(r#""frames_in":5"#), "{status}");
        assert!(
            status.contains(r#""params":{"amount":1.0},"load_params":{"seed":1}"#),
            "{status}"
        );
    }
}
