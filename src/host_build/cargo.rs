//! Running cargo on the generated host crate.

use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cargo_metadata::{Message, MetadataCommand, PackageId, TargetKind};

use crate::policy::Sandbox;
use crate::sandbox::{sandbox_build, BuildPaths, Enforced};

use scope_lockfile::CratePin;

use super::{describe_spawn_error, Graph, HostBuilder};
use crate::cancel::Waited;
use crate::error::Hinted;
use crate::plugin_crate::PluginCrate;
use crate::reporter::Reporter;
use crate::settings::Profile;

/// How often a plain progress line is printed when no bar is drawn.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// A host build that failed, with what cargo and the compiler said.
#[derive(Debug)]
pub struct BuildFailure {
    /// The plugins whose code did not compile.
    pub plugins: Vec<String>,
    /// The compiler's rendered diagnostics, or cargo's own error output.
    pub diagnostics: String,
}

impl std::fmt::Display for BuildFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.plugins.as_slice() {
            [] => write!(f, "the host build failed:\n{}", self.diagnostics.trim_end()),
            [one] => write!(
                f,
                "plugin `{one}` does not compile:\n{}",
                self.diagnostics.trim_end()
            ),
            many => write!(
                f,
                "plugins {} do not compile:\n{}",
                many.iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                self.diagnostics.trim_end()
            ),
        }
    }
}

impl std::error::Error for BuildFailure {}

/// Builds the crate and returns the path of the binary.
pub fn build(
    builder: &HostBuilder,
    target_dir: &Path,
    bin_name: &str,
    plugins: &[PluginCrate],
    graph: &Graph<'_>,
    reporter: &dyn Reporter,
) -> Result<PathBuf> {
    let manifest = builder.crate_dir.join("Cargo.toml");
    // Only a progress bar needs the number of crates up front, and asking
    // cargo for the resolved graph costs a run of its own.
    let total = if reporter.shows_progress() {
        crate_count(builder)?
    } else {
        0
    };

    let settings = &builder.settings;
    let sandboxed = settings.sandbox != Sandbox::Off;
    // Everything the build needs is fetched first, with the network and
    // the user's credentials; the build itself runs offline, scrubbed and
    // under Landlock.
    // (A build held to a recorded graph whose every crate is in cargo's
    // cache has nothing to fetch: the `sync --locked` of CI and servers.)
    let all_cached = matches!(graph, Graph::Locked(crates) if missing_from_cache(builder, crates).is_empty() && crates.iter().all(|c| !c.source.as_deref().unwrap_or_default().starts_with("git+")));
    if sandboxed && !settings.offline && !all_cached {
        fetch(builder, target_dir, graph)?;
    }
    let mut command = std::process::Command::new(&settings.cargo);
    let enforced = sandbox_build(
        &mut command,
        &settings.environment,
        build_paths(builder, target_dir, plugins)?,
        settings.sandbox,
        settings.sandbox_unsupported,
    )?;
    if let Enforced::EnvironmentOnly(why) = &enforced {
        reporter.warn(&format!(
            "building without Landlock ({why}): the build's environment is scrubbed, but build scripts can still read your files and reach the network"
        ));
    }
    if sandboxed {
        command.env("TMPDIR", target_dir.join("tmp"));
    }
    // In the crate's directory, so that cargo reads the configuration that
    // applies there, as it would for a crate a user builds by hand.
    command
        .current_dir(&builder.crate_dir)
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--message-format=json")
        .env("CARGO_TARGET_DIR", target_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if builder.settings.profile == Profile::Release {
        command.arg("--release");
    }
    if builder.settings.offline || sandboxed {
        command.arg("--offline");
    }
    if let Graph::Locked(_) = graph {
        command.arg("--locked");
    }
    reporter.running(&format!("{command:?}"));
    let mut child = crate::cancel::spawn(&mut command).map_err(describe_spawn_error)?;
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    // Drain stderr on its own thread so a chatty cargo never blocks on a full pipe.
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let bar = reporter.progress("Compiling", Some(total));
    let mut binary = None;
    let mut diagnostics = String::new();
    let mut failed_plugins = Vec::new();
    let mut warnings: BTreeMap<String, usize> = BTreeMap::new();
    // Off a terminal (CI logs), a plain line now and then instead of a bar.
    let mut compiled = 0;
    let mut last_line = Instant::now();
    let mut used = super::usage::Used::default();
    for message in Message::parse_stream(BufReader::new(stdout)) {
        match message.context("cannot read cargo's output")? {
            Message::BuildScriptExecuted(script) => used.note(script.out_dir.as_std_path()),
            Message::CompilerArtifact(artifact) => {
                for file in &artifact.filenames {
                    used.note(file.as_std_path());
                }
                if !artifact.target.kind.contains(&TargetKind::CustomBuild) {
                    bar.inc(1);
                    bar.set_message(&artifact.target.name);
                    compiled += 1;
                    if !reporter.shows_progress() && last_line.elapsed() >= PLAIN_PROGRESS_EVERY {
                        last_line = Instant::now();
                        reporter.status(
                            "Compiling",
                            &format!("{compiled} crates so far (now {})", artifact.target.name),
                        );
                    }
                }
                if artifact.target.name == bin_name {
                    binary = artifact.executable.map(|p| p.into_std_path_buf());
                }
            }
            Message::CompilerMessage(msg)
                if msg.message.level == cargo_metadata::diagnostic::DiagnosticLevel::Error =>
            {
                if let Some(plugin) = plugin_of(plugins, &msg.package_id) {
                    if !failed_plugins.contains(&plugin) {
                        failed_plugins.push(plugin);
                    }
                }
                if let Some(rendered) = &msg.message.rendered {
                    diagnostics.push_str(rendered);
                }
            }
            Message::CompilerMessage(msg) => {
                if let Some(rendered) = &msg.message.rendered {
                    reporter.output(rendered);
                }
                let warning =
                    msg.message.level == cargo_metadata::diagnostic::DiagnosticLevel::Warning;
                if let (true, Some(plugin)) = (warning, plugin_of(plugins, &msg.package_id)) {
                    *warnings.entry(plugin).or_default() += 1;
                }
            }
            _ => {}
        }
    }
    bar.finish();
    for (plugin, count) in &warnings {
        reporter.warn(&format!(
            "{plugin}: {count} compiler warning(s); run with -v to see them"
        ));
    }
    let status = child.wait_and_forget().context("cargo did not finish")?;
    let cargo_stderr = stderr_reader.join().unwrap_or_default();
    reporter.output(&cargo_stderr);
    if !status.success() {
        if builder.settings.offline && cargo_stderr.contains("offline") {
            return Err(not_cached(builder, graph, &cargo_stderr));
        }
        if let (Graph::Locked(recorded), true) = (graph, cargo_stderr.contains("--locked")) {
            return Err(graph_would_change(
                builder,
                &manifest,
                recorded,
                &cargo_stderr,
            ));
        }
        if diagnostics.is_empty() {
            diagnostics = cargo_stderr;
        }
        return Err(BuildFailure {
            plugins: failed_plugins,
            diagnostics,
        }
        .into());
    }
    reporter.detail("Built", &format!("host from {compiled} crates"));
    // Only in the user cache's directory, which `gc` tidies: a target
    // directory of the user's own is theirs.
    if builder.settings.shared_target_dir.as_deref() == Some(builder.target_dir.as_path()) {
        if let Err(e) = used.record(target_dir) {
            reporter.warn(&format!(
                "cannot record what this build used in {} (`gc` may remove it): {e:#}",
                target_dir.display()
            ));
        }
    }
    binary.with_context(|| format!("cargo finished but reported no `{bin_name}` binary"))
}

/// `cargo fetch`: every crate the host's build needs, into cargo's cache.
pub fn fetch(builder: &HostBuilder, target_dir: &Path, graph: &Graph<'_>) -> Result<()> {
    let manifest = builder.crate_dir.join("Cargo.toml");
    let mut command = std::process::Command::new(&builder.settings.cargo);
    command
        .current_dir(&builder.crate_dir)
        .arg("fetch")
        .arg("--manifest-path")
        .arg(&manifest)
        // The build's target directory: cargo keeps what it learnt of
        // rustc there (`.rustc_info.json`) and need not ask it again.
        .env("CARGO_TARGET_DIR", target_dir)
        .stdin(Stdio::null());
    if builder.settings.offline {
        command.arg("--offline");
    }
    if let Graph::Locked(_) = graph {
        command.arg("--locked");
    }
    let out = crate::cancel::output(&mut command).map_err(describe_spawn_error)?;
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stderr);
    if let (Graph::Locked(recorded), true) = (graph, said.contains("--locked")) {
        return Err(graph_would_change(builder, &manifest, recorded, &said));
    }
    Err(BuildFailure {
        plugins: Vec::new(),
        diagnostics: said.into_owned(),
    }
    .into())
}

/// An offline build that needs crates cargo's cache lacks: names them (the
/// registry crates of the recorded graph with no `.crate` in the cache) and
/// points to `scopectl fetch` instead of quoting cargo's offline error.
fn not_cached(builder: &HostBuilder, graph: &Graph<'_>, cargo_said: &str) -> anyhow::Error {
    let recorded = match graph {
        Graph::Keep(crates) | Graph::Locked(crates) => *crates,
        Graph::Fresh => &[],
    };
    let missing = missing_from_cache(builder, recorded);
    let what = match missing.as_slice() {
        [] => format!("cargo said:\n  {}", cargo_said.trim().replace('\n', "\n  ")),
        some => some.join(", "),
    };
    Hinted::new(
        format!(
            "cargo's cache lacks crates the host needs, and offline (`--offline`, `--frozen`) nothing is downloaded:\n  {what}"
        ),
        "run `scopectl fetch --locked` once where there is a network (it fills every cache the build needs), then run this command again",
    )
    .into()
}

/// The registry crates of `crates` with no `.crate` in cargo's cache, as
/// `name vX`.
fn missing_from_cache(builder: &HostBuilder, crates: &[CratePin]) -> Vec<String> {
    let caches: Vec<PathBuf> = builder
        .settings
        .cargo_home
        .iter()
        .filter_map(|home| fs_err::read_dir(home.join("registry/cache")).ok())
        .flat_map(|dirs| dirs.flatten().map(|d| d.path()))
        .collect();
    crates
        .iter()
        .filter(|c| c.checksum.is_some())
        .filter(|c| {
            let file = format!("{}-{}.crate", c.name, c.version);
            !caches.iter().any(|dir| dir.join(&file).is_file())
        })
        .map(|c| format!("{} v{}", c.name, c.version))
        .collect()
}

/// `cargo update --dry-run`: what would move, read from cargo's
/// `Updating NAME vA -> vB` lines.
pub fn update_dry_run(builder: &HostBuilder) -> Result<Vec<(String, String, String)>> {
    let mut command = std::process::Command::new(&builder.settings.cargo);
    command
        .current_dir(&builder.crate_dir)
        .args(["update", "--dry-run", "--manifest-path"])
        .arg(builder.crate_dir.join("Cargo.toml"))
        .stdin(Stdio::null());
    if builder.settings.offline {
        command.arg("--offline");
    }
    let out = crate::cancel::output(&mut command).map_err(describe_spawn_error)?;
    let said = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        anyhow::bail!("cargo cannot check the host's crates: {}", said.trim());
    }
    Ok(said
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("Updating ")?;
            let (name, versions) = rest.split_once(' ')?;
            let (from, to) = versions.split_once(" -> ")?;
            let to = to.split_whitespace().next()?;
            let version = |v: &str| v.trim_start_matches('v').to_owned();
            Some((name.to_owned(), version(from), version(to)))
        })
        .collect())
}

/// `--locked` refused to change the recorded crate graph: finds out what
/// cargo would have changed (a `cargo metadata` run updates the disposable
/// build's `Cargo.lock` as little as it can) and names it.
fn graph_would_change(
    builder: &HostBuilder,
    manifest: &Path,
    recorded: &[CratePin],
    cargo_said: &str,
) -> anyhow::Error {
    let mut metadata = MetadataCommand::new();
    metadata
        .manifest_path(manifest)
        .cargo_path(&builder.settings.cargo);
    if builder.settings.offline {
        metadata.other_options(vec!["--offline".to_owned()]);
    }
    let resolved = crate::cancel::metadata(&metadata)
        .map_err(|e| e.to_string())
        .and_then(|_| {
            let path = builder.crate_dir.join("Cargo.lock");
            let text = fs_err::read_to_string(&path).map_err(|e| e.to_string())?;
            CratePin::from_cargo_lock(&path, &text).map_err(|e| e.to_string())
        });
    let what = match resolved {
        Ok(now) => {
            let changes = CratePin::changes(recorded, &now);
            if changes.is_empty() {
                "the crates it records would be regrouped".to_owned()
            } else {
                let lines: Vec<String> = changes
                    .into_iter()
                    .map(|c| crate::change::Change::from(c).to_string())
                    .collect();
                lines.join("\n  ")
            }
        }
        Err(why) => format!("cargo cannot resolve the host's crates: {why}"),
    };
    Hinted::new(
        format!(
            "the host's crate graph in resolved.lock cannot be built as it is, and --locked forbids changing it:\n  {what}\ncargo said:\n  {}",
            cargo_said.trim().replace('\n', "\n  ")
        ),
        "run `scopectl sync` without --locked to let the crates move, then commit the new resolved.lock",
    )
    .into()
}

/// The plugin a package id belongs to: a path package's id names its directory
/// (`path+file:///dir#name@version`).
fn plugin_of(plugins: &[PluginCrate], id: &PackageId) -> Option<String> {
    plugins
        .iter()
        .find(|p| {
            id.repr
                .starts_with(&format!("path+file://{}#", p.dir.display()))
        })
        .map(|p| p.name.clone())
}

/// The packages of the host crate in `builder.crate_dir` (the crate
/// itself and the SDK under `sdk` left out), from `cargo metadata`.
pub fn packages(builder: &HostBuilder, sdk: &Path) -> Result<Vec<super::Package>> {
    let metadata = resolved_graph(builder)?;
    let ours = |p: &cargo_metadata::Package| {
        p.manifest_path.starts_with(sdk) || p.manifest_path.starts_with(&builder.crate_dir)
    };
    let by_id: std::collections::HashMap<&PackageId, &cargo_metadata::Package> =
        metadata.packages.iter().map(|p| (&p.id, p)).collect();
    let nodes = metadata
        .resolve
        .as_ref()
        .map(|r| r.nodes.as_slice())
        .unwrap_or_default();
    let mut packages: Vec<super::Package> = metadata
        .packages
        .iter()
        .filter(|p| !ours(p))
        .map(|p| {
            let mut dependencies: Vec<String> = nodes
                .iter()
                .find(|n| n.id == p.id)
                .map(|n| {
                    n.dependencies
                        .iter()
                        .filter_map(|d| by_id.get(d))
                        .filter(|d| !ours(d))
                        .map(|d| format!("{}@{}", d.name, d.version))
                        .collect()
                })
                .unwrap_or_default();
            dependencies.sort();
            super::Package {
                name: p.name.to_string(),
                version: p.version.to_string(),
                license: p.license.clone(),
                source: p.source.as_ref().map(|s| s.repr.clone()),
                dependencies,
                dir: p
                    .source
                    .is_none()
                    .then(|| {
                        p.manifest_path
                            .parent()
                            .map(|d| d.as_std_path().to_path_buf())
                    })
                    .flatten(),
            }
        })
        .collect();
    packages.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    Ok(packages)
}

/// What a sandboxed build reads (the toolchain, cargo's home, the plugins'
/// sources) and writes (the target and crate directories, cargo's
/// registry sources, which it unpacks as it builds).
fn build_paths(
    builder: &HostBuilder,
    target_dir: &Path,
    plugins: &[PluginCrate],
) -> Result<BuildPaths> {
    let settings = &builder.settings;
    let tmp = target_dir.join("tmp");
    fs_err::create_dir_all(&tmp)?;
    let mut read: Vec<PathBuf> = plugins.iter().map(|p| p.dir.clone()).collect();
    // Crates the plugins take by `path`, wherever they are (asking cargo
    // costs a run of its own: only when some plugin's manifest may name
    // one). When cargo cannot resolve the graph, the build fails anyway,
    // and says why.
    if plugins.iter().any(|p| may_take_paths(&p.dir)) {
        let sdk = target_dir.join("scope-sdk");
        if let Ok(packages) = packages(builder, &sdk) {
            read.extend(packages.into_iter().filter_map(|p| p.dir));
        }
    }
    let crates: Vec<&Path> = plugins
        .iter()
        .map(|p| p.dir.as_path())
        .chain([builder.crate_dir.as_path(), target_dir])
        .collect();
    let write = vec![target_dir.to_path_buf(), builder.crate_dir.clone(), tmp];
    Ok(BuildPaths::around(settings, &crates, read, write))
}

/// Whether the crate in `dir` may depend on a crate by `path`: a `path`
/// key in any dependency table (target-specific ones too), or a dependency
/// inherited from a workspace (which may be one). An unreadable manifest
/// may too.
fn may_take_paths(dir: &Path) -> bool {
    let Ok(text) = fs_err::read_to_string(dir.join("Cargo.toml")) else {
        return true;
    };
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        return true;
    };
    let by_path = |table: Option<&toml_edit::Item>| {
        table
            .and_then(toml_edit::Item::as_table_like)
            .is_some_and(|deps| {
                deps.iter().any(|(_, dep)| {
                    dep.as_table_like()
                        .is_some_and(|d| d.contains_key("path") || d.contains_key("workspace"))
                })
            })
    };
    let kinds = ["dependencies", "build-dependencies"];
    let top = kinds.iter().any(|kind| by_path(doc.get(kind)));
    let targets = doc
        .get("target")
        .and_then(toml_edit::Item::as_table_like)
        .is_some_and(|targets| {
            targets
                .iter()
                .any(|(_, target)| kinds.iter().any(|kind| by_path(target.get(kind))))
        });
    top || targets
}

/// `cargo metadata` of the host crate: every package and the resolved
/// graph (offline when the settings say so); a failure reads as a build's.
fn resolved_graph(builder: &HostBuilder) -> Result<cargo_metadata::Metadata> {
    let mut metadata = MetadataCommand::new();
    metadata
        .manifest_path(builder.crate_dir.join("Cargo.toml"))
        .current_dir(&builder.crate_dir)
        .cargo_path(&builder.settings.cargo);
    if builder.settings.offline {
        metadata.other_options(vec!["--offline".to_owned()]);
    }
    crate::cancel::metadata(&metadata).map_err(|err| {
        let diagnostics = match &err {
            cargo_metadata::Error::CargoMetadata { stderr } => stderr.clone(),
            other => other.to_string(),
        };
        anyhow::Error::new(BuildFailure {
            plugins: Vec::new(),
            diagnostics,
        })
    })
}

/// How many crates the host build has, from cargo's resolved graph.
fn crate_count(builder: &HostBuilder) -> Result<u64> {
    let metadata = resolved_graph(builder)?;
    Ok(metadata.resolve.as_ref().map_or(0, |r| r.nodes.len()) as u64)
}
