//! Prometheus metrics of this process: the supervised stream (read from the
//! supervisor and the running host when scraped) and what happened so far
//! (handoffs, restarts, gate rollbacks, `serve`'s jobs and builds, follow
//! checks), in the text exposition format (`GET /metrics`, or
//! `scopectl run --metrics ADDR`).
//!
//! Names follow Prometheus' conventions: `scope_` prefix, base units
//! (`_seconds`), counters ending in `_total`.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::supervise::control::Live;

type Labels = Vec<(String, String)>;
type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every metric of this process.
pub struct Metrics {
    registry: Mutex<Registry>,
    /// Handoffs from one host to another (new generation, restart, crash).
    pub handoffs: Counter,
    /// From the decision to hand over to the new host's first frame.
    pub handoff_gap: Histogram,
    /// Hosts started after the first, whatever the cause.
    pub restarts: Counter,
    /// Hosts that died of a signal or failed without being asked to stop.
    pub crashes: Counter,
    /// From a frame given to the host to its frame out of the host.
    pub frame_latency: Histogram,
    /// Automatic rollbacks by the health gate, by the rule that failed.
    pub gate_rollbacks: Family<Labels, Counter>,
    /// `serve`'s jobs, by kind and outcome.
    pub jobs: Family<Labels, Counter>,
    /// How long `serve`'s jobs took, by kind.
    pub job_duration: HistogramFamily,
    /// Follow mode's checks of the tag, by outcome.
    pub follow_checks: Family<Labels, Counter>,
    /// Host builds that succeeded, by how long cargo took.
    pub builds: Histogram,
}

fn seconds_histogram() -> Histogram {
    // 1 ms to ~9 min.
    Histogram::new(exponential_buckets(0.001, 2.0, 20))
}

impl Metrics {
    fn new() -> Metrics {
        let metrics = Metrics {
            registry: Mutex::new(Registry::with_prefix("scope")),
            handoffs: Counter::default(),
            handoff_gap: seconds_histogram(),
            restarts: Counter::default(),
            crashes: Counter::default(),
            frame_latency: seconds_histogram(),
            gate_rollbacks: Family::default(),
            jobs: Family::default(),
            job_duration: Family::new_with_constructor(seconds_histogram),
            follow_checks: Family::default(),
            builds: seconds_histogram(),
        };
        {
            let mut registry = lock(&metrics.registry);
            registry.register(
                "handoffs",
                "Handoffs of the stream from one host to the next",
                metrics.handoffs.clone(),
            );
            registry.register_with_unit(
                "handoff_gap",
                "From the decision to hand over to the new host's first frame out",
                Unit::Seconds,
                metrics.handoff_gap.clone(),
            );
            registry.register(
                "host_restarts",
                "Hosts started after the first one, for any reason",
                metrics.restarts.clone(),
            );
            registry.register(
                "host_crashes",
                "Hosts that died without being asked to stop",
                metrics.crashes.clone(),
            );
            registry.register_with_unit(
                "frame_latency",
                "From a frame given to the host to the host's frame for it",
                Unit::Seconds,
                metrics.frame_latency.clone(),
            );
            registry.register(
                "gate_rollbacks",
                "Switches back to the previous generation by the health gate, by rule",
                metrics.gate_rollbacks.clone(),
            );
            registry.register(
                "jobs",
                "Jobs of the API, by kind and outcome",
                metrics.jobs.clone(),
            );
            registry.register_with_unit(
                "job_duration",
                "How long the API's jobs took (builds included), by kind",
                Unit::Seconds,
                metrics.job_duration.clone(),
            );
            registry.register_with_unit(
                "build_duration",
                "How long cargo took for each host build that succeeded",
                Unit::Seconds,
                metrics.builds.clone(),
            );
            registry.register(
                "follow_checks",
                "Checks of the followed tag, by outcome",
                metrics.follow_checks.clone(),
            );
        }
        metrics
    }

    /// Adds the stream `live` describes: read from it at every scrape.
    pub fn watch(&self, live: Arc<Live>) {
        lock(&self.registry).register_collector(Box::new(StreamCollector { live }));
    }

    /// Records a job that ended.
    pub fn job(&self, kind: &str, outcome: &str, took: Duration) {
        self.jobs
            .get_or_create(&labels(&[("kind", kind), ("outcome", outcome)]))
            .inc();
        self.job_duration
            .get_or_create(&labels(&[("kind", kind)]))
            .observe(took.as_secs_f64());
    }

    /// Every metric, in the text exposition format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        let registry = lock(&self.registry);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        text
    }
}

/// Serves `GET /metrics` on `address` from a thread of its own
/// (`scopectl run --metrics ADDR`); returns the address bound.
pub fn serve(address: std::net::SocketAddr) -> anyhow::Result<std::net::SocketAddr> {
    use anyhow::Context;
    let listener = std::net::TcpListener::bind(address)
        .with_context(|| format!("cannot listen on {address} for metrics"))?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let Ok(runtime) = runtime else { return };
        runtime.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            let app = axum::Router::new().route(
                "/metrics",
                axum::routing::get(|| async {
                    (
                        [(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)],
                        tokio::task::spawn_blocking(|| global().encode())
                            .await
                            .unwrap_or_default(),
                    )
                }),
            );
            let _ = axum::serve(listener, app).await;
        });
    });
    Ok(bound)
}

/// This process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// Labels from pairs.
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The stream's figures, read when scraped.
struct StreamCollector {
    live: Arc<Live>,
}

impl std::fmt::Debug for StreamCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StreamCollector")
    }
}

impl Collector for StreamCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let figures = self.live.figures();
        let mut counter = |name: &str, help: &str, unit: Option<&Unit>, rows: &[(Labels, f64)]| {
            let mut family = encoder.encode_descriptor(
                name,
                help,
                unit,
                prometheus_client::metrics::MetricType::Counter,
            )?;
            for (labels, value) in rows {
                ConstCounter::new(*value).encode(family.encode_family(labels)?)?;
            }
            Ok::<(), std::fmt::Error>(())
        };
        counter(
            "frames",
            "Frames read from the stream's input and written to its output",
            None,
            &[
                (labels(&[("direction", "in")]), figures.frames_in as f64),
                (labels(&[("direction", "out")]), figures.frames_out as f64),
            ],
        )?;
        counter(
            "frames_lost",
            "Frames dropped by the supervisor while hosts handed over (--on-restart drop)",
            None,
            &[(Labels::new(), figures.frames_lost as f64)],
        )?;
        let stage = |s: &crate::supervise::control::StageFigures| {
            labels(&[("stage", &s.name), ("pipeline", &s.pipeline)])
        };
        let rows = |value: &dyn Fn(&crate::supervise::control::StageFigures) -> f64| {
            figures
                .stages
                .iter()
                .map(|s| (stage(s), value(s)))
                .collect::<Vec<_>>()
        };
        counter(
            "stage_frames",
            "Frames each stage of the running host processed",
            None,
            &rows(&|s| s.frames as f64),
        )?;
        counter(
            "stage_frames_passed_through",
            "Frames each stage of the running host passed on unprocessed after its plugin failed",
            None,
            &rows(&|s| s.passed as f64),
        )?;
        counter(
            "stage_busy",
            "Time each stage of the running host spent in its plugin's calls",
            Some(&Unit::Seconds),
            &rows(&|s| s.busy_s),
        )?;
        let mut gauge = |name: &str, help: &str, rows: &[(Labels, f64)]| {
            let mut family = encoder.encode_descriptor(
                name,
                help,
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            for (labels, value) in rows {
                ConstGauge::new(*value).encode(family.encode_family(labels)?)?;
            }
            Ok::<(), std::fmt::Error>(())
        };
        gauge(
            "stage_unloaded",
            "1 when the stage's plugin failed and the stage passes frames through",
            &rows(&|s| f64::from(u8::from(s.passed > 0))),
        )?;
        gauge(
            "fps",
            "Frames per second out of the running host, over the last 3 s",
            &[(Labels::new(), figures.fps)],
        )?;
        if let Some(generation) = figures.generation {
            gauge(
                "active_generation",
                "The generation of the running host",
                &[(Labels::new(), generation as f64)],
            )?;
            let info = Info::new(labels(&[
                ("generation", &generation.to_string()),
                ("digest", &figures.digest.clone().unwrap_or_default()),
            ]));
            let descriptor = encoder.encode_descriptor(
                "generation",
                "The running host's generation and digest",
                None,
                info.metric_type(),
            )?;
            info.encode(descriptor)?;
        }
        Ok(())
    }
}
