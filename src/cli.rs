//! The command line, as clap definitions. Man pages and completions are
//! generated from these same definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Plugin manager for the Scope real-time video host.
#[derive(Debug, Parser)]
#[command(name = "scopectl", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The home directory holding plugins.toml, resolved.lock and generations
    /// [default: $SCOPE_HOME, else ~/.scope]
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Use only what is cached; name what is missing
    #[arg(long, global = true)]
    pub offline: bool,
    /// Fail if resolved.lock is missing or would change (plugin pins and the host's crates)
    #[arg(long, global = true)]
    pub locked: bool,
    /// --locked and --offline together
    #[arg(long, global = true)]
    pub frozen: bool,
    /// Print only data and errors (-qq: errors only)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,
    /// Print more: cargo's build output (-vv: also every command run)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to use colour
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Draw no progress bars (as SCOPE_NO_PROGRESS=1)
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// The policy to check changes against [default: policy.toml beside plugins.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// How host builds are sandboxed [default: the policy's `sandbox`, else best-effort]
    #[arg(long, global = true, value_enum, value_name = "MODE")]
    pub sandbox: Option<crate::policy::Sandbox>,
}

/// `env --shell`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// sh, bash, zsh and other POSIX shells
    #[value(alias = "bash", alias = "zsh", alias = "dash", alias = "ksh")]
    Sh,
    /// fish
    Fish,
}

/// `export`/`push --artifacts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CarryArtifacts {
    /// As layers of the artifact
    Include,
    /// Left out: the importer fetches them from the URLs resolved.lock records
    Reference,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when stderr is a terminal and NO_COLOR is unset
    Auto,
    /// Always colour
    Always,
    /// Never colour
    Never,
}

/// The commands.
/// How `run` and `serve` supervise a stream.
#[derive(Debug, Args)]
pub struct StreamArgs {
    /// Run a named instance (its own control socket), so one home can run several streams
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub name: String,
    /// What happens to input frames while one host hands over to the next
    #[arg(long, value_enum, value_name = "WHAT", default_value = "hold")]
    pub on_restart: crate::supervise::OnRestart,
    /// After every switch, watch the new generation for WINDOW and switch back when a rule fails, e.g. `10s:lost=0,unloaded=0,fps>=0.9` (rules: lost=N, unloaded=N, restarts=N, fps>=R)
    #[arg(long, value_name = "WINDOW:RULES")]
    pub gate: Option<crate::supervise::gate::Gate>,
}

impl StreamArgs {
    /// The options of a supervised stream whose host shows its plugins'
    /// log lines as `verbosity` asks (`-q`: warnings and errors, `-v`:
    /// debug lines too).
    pub fn options(
        self,
        verbosity: crate::output::Verbosity,
        settings: &crate::settings::Settings,
    ) -> crate::supervise::RunOptions {
        let build = &settings.build;
        crate::supervise::RunOptions {
            name: self.name,
            on_restart: self.on_restart,
            gate: self.gate,
            verbosity,
            sandbox: build.sandbox_given.then_some(build.sandbox),
            sandbox_unsupported: build.sandbox_unsupported,
            systemd: settings.systemd.clone(),
            artifacts: settings.cache_dir.as_ref().map(|d| d.join("artifacts")),
        }
    }
}

/// What `ctl` does.
#[derive(Debug, Subcommand)]
pub enum CtlVerb {
    /// Generation, host pid, uptime, the chain, current parameters, frames and recent fps, restarts
    Status {
        /// Print the status document as JSON (the README's "Headless servers" section lists its keys)
        #[arg(long)]
        json: bool,
    },
    /// Change runtime parameters between two frames, checked as `--set` is
    Set {
        /// `[PIPELINE[#N].]KEY=VALUE`
        #[arg(required = true, value_name = "[PIPELINE.]KEY=VALUE")]
        params: Vec<String>,
    },
    /// Restart the host (same generation) without breaking the stream
    Restart {
        /// Parameters for the new host, load-time ones included (repeatable)
        #[arg(long = "set", value_name = "[PIPELINE.]KEY=VALUE")]
        params: Vec<String>,
    },
    /// Write the latest output frame as a PNG
    Snapshot {
        /// Where to write it
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a host with the example plugins and run a text → video chain
    ///
    /// Installs the example plugins shipped inside scopectl into a home of its
    /// own (by default `demo` under the default home, so your plugin set is
    /// untouched), builds the host, runs `color-generator → invert` and writes
    /// a short y4m video.
    Demo(DemoArgs),
    /// Add plugins: resolve, build, probe and switch to a new generation
    Install(InstallArgs),
    /// Remove plugins, rebuild and switch
    Uninstall {
        /// The plugins to remove
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Installed plugins: name, version, source, editable, dependency of, pipelines
    List {
        /// Print one JSON object (see the README)
        #[arg(long)]
        json: bool,
    },
    /// The active host's pipelines, with their parameters
    Pipelines {
        /// Print one JSON object (the host's `pipelines --json`)
        #[arg(long)]
        json: bool,
    },
    /// Make the active generation match plugins.toml
    Sync {
        /// Resolve and print what would change, touching nothing
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        grant: GrantArgs,
    },
    /// Download everything resolved.lock needs, so that `sync --frozen` works without a network
    Fetch,
    /// Rebuild the active pins into a new generation
    ///
    /// A host byte-identical to the active one makes no new generation.
    Build {
        /// Make a new generation even when the host is byte-identical
        #[arg(long)]
        force: bool,
    },
    /// Delete old generations (never the current one), the cache only they used, and compiled crates no host build used in 30 days
    Gc {
        /// How many of the newest generations to keep besides the current one
        #[arg(long, value_name = "N", default_value_t = 3)]
        keep: usize,
    },
    /// Move plugins to the newest versions the constraints allow (all when none are named)
    Update {
        /// The plugins to move
        #[arg(value_name = "NAME")]
        names: Vec<String>,
        /// Report available updates instead (exit 10 when there are some)
        #[arg(long, conflicts_with = "dry_run")]
        check: bool,
        /// With --check: print one JSON object (see the README)
        #[arg(long, requires = "check")]
        json: bool,
        /// Resolve and print what would change, touching nothing
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        grant: GrantArgs,
    },
    /// Why a plugin is installed, and why at this version
    Why {
        /// The plugin
        name: String,
    },
    /// Rebuild an editable (local) plugin from its directory as it is now, and switch
    Reload {
        /// The plugin
        name: String,
        /// Make a new generation even when the host is byte-identical
        #[arg(long)]
        force: bool,
    },
    /// Run the active host, restarting it when it exits with 42 or a new generation is activated
    Run {
        #[command(flatten)]
        stream: StreamArgs,
        /// Serve Prometheus metrics at http://ADDR/metrics (IP:PORT or localhost:PORT)
        #[arg(long, value_name = "ADDR", value_parser = listen_address)]
        metrics: Option<std::net::SocketAddr>,
        /// Arguments for the host (after `--`)
        #[arg(last = true, value_name = "HOST-ARGS")]
        args: Vec<std::ffi::OsString>,
    },
    /// Write a generation as an OCI artifact: a tar of an OCI image layout, or the layout itself
    Export {
        /// The generation [default: the active one]
        #[arg(long, value_name = "N")]
        generation: Option<u64>,
        /// Write a tar of the layout
        #[arg(
            long,
            value_name = "FILE.tar",
            required_unless_present = "oci_layout",
            conflicts_with = "oci_layout"
        )]
        output: Option<PathBuf>,
        /// Write the layout into this directory
        #[arg(long, value_name = "DIR")]
        oci_layout: Option<PathBuf>,
        /// The tag recorded in the layout's index
        #[arg(long, value_name = "TAG", default_value = "latest")]
        tag: String,
        /// Sign the generation with this cosign private key (SCOPE_KEY_PASSWORD opens it)
        #[arg(long, value_name = "KEY")]
        sign: Option<PathBuf>,
        /// Carry the plugins' artifacts as layers, or leave them as references the importer fetches
        #[arg(long, value_enum, value_name = "HOW", default_value = "include")]
        artifacts: CarryArtifacts,
    },
    /// Push a generation to an OCI registry (oci://REGISTRY/REPOSITORY:TAG)
    Push {
        /// Where to: oci://REGISTRY/REPOSITORY:TAG (http only for a loopback registry)
        reference: String,
        /// The generation [default: the active one]
        #[arg(long, value_name = "N")]
        generation: Option<u64>,
        /// Sign it with this cosign private key, at the `sha256-<digest>.sig` tag (SCOPE_KEY_PASSWORD opens it)
        #[arg(long, value_name = "KEY")]
        sign: Option<PathBuf>,
        /// Carry the plugins' artifacts as layers (a registry stores each once), or leave them as references the importer fetches
        #[arg(long, value_enum, value_name = "HOW", default_value = "include")]
        artifacts: CarryArtifacts,
    },
    /// Make a generation built elsewhere active here, without building: oci://…, FILE.tar or DIR
    Import {
        /// oci://REGISTRY/REPOSITORY:TAG, a tar of an OCI image layout, or a layout directory
        source: String,
        /// Refuse it unless one of these cosign public keys signed it (repeatable)
        #[arg(long = "verify", value_name = "KEY.pub")]
        verify: Vec<PathBuf>,
    },
    /// Check the cosign signature of a generation: oci://…, FILE.tar or DIR
    Verify {
        /// oci://REGISTRY/REPOSITORY:TAG, a tar of an OCI image layout, or a layout directory
        target: String,
        /// A trusted public key (repeatable) [default: the keys of the policy's [imports]]
        #[arg(long, value_name = "KEY.pub")]
        key: Vec<PathBuf>,
        /// Print a JSON document on stdout
        #[arg(long)]
        json: bool,
    },
    /// The bill of materials of a generation's host: every plugin and crate (CycloneDX 1.5 JSON)
    Sbom {
        /// The generation [default: the active one]
        #[arg(long, value_name = "N")]
        generation: Option<u64>,
        /// The document's format
        #[arg(long, value_enum, default_value_t = SbomFormat::CyclonedxJson)]
        format: SbomFormat,
        /// Write it to FILE instead of stdout
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Check the home's plugins and lock against its policy.toml (exit 1 with the findings)
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Signing keys in cosign's format
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// `run` plus an HTTP API: plugins, jobs, the stream, a status page (README: Headless servers)
    Serve {
        /// Address to listen on (IP:PORT or localhost:PORT); anything but loopback needs --token-file
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7860", value_parser = listen_address)]
        listen: std::net::SocketAddr,
        /// Bearer token for the API (a missing file is created with a new token, owner-only)
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Converge on the generation this tag points at (oci://REGISTRY/REPOSITORY:TAG), under a gate (default 10s:lost=0,unloaded=0,restarts=0)
        #[arg(long, value_name = "OCI-TAG")]
        follow: Option<String>,
        /// How often to look at the followed tag (e.g. 30s, 2m)
        #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::supervise::gate::parse_duration, requires = "follow")]
        interval: std::time::Duration,
        /// Import only generations signed by this key (repeatable; the policy's keys count too)
        #[arg(long = "verify", value_name = "KEY.pub", requires = "follow")]
        verify: Vec<PathBuf>,
        #[command(flatten)]
        stream: StreamArgs,
        /// Arguments for the host (after `--`); none: the API without a stream
        #[arg(last = true, value_name = "HOST-ARGS")]
        args: Vec<std::ffi::OsString>,
    },
    /// Talk to the host that `scopectl run` supervises: status, live parameters, restart, snapshot
    Ctl {
        /// The instance, as given to `scopectl run --name`
        #[arg(long, value_name = "NAME", default_value = "default", global = true)]
        name: String,
        #[command(subcommand)]
        verb: CtlVerb,
    },
    /// Create a plugin crate that builds, passes its test and installs as generated
    New {
        /// The plugin's name
        name: String,
        /// Where to create it [default: ./NAME]
        #[arg(long, value_name = "DIR")]
        path: Option<PathBuf>,
    },
    /// Check that a plugin crate would install: a scratch host built with it, its self-check, its metadata
    ///
    /// Builds a host with the plugin alone (under DIR/target, no home
    /// touched), runs its self-check (registration, parameter schemas),
    /// checks its scope-plugin-api requirement against this scopectl's SDK,
    /// its package metadata, dependencies a registry cannot hold (by path
    /// or git without a version) and that `cargo package` keeps every file
    /// the build reads. One line per finding; exit 1 when any is an error.
    Check {
        /// The plugin crate [default: the current directory]
        dir: Option<PathBuf>,
        /// Print one JSON object: {"version":1,"plugin","version_of_plugin","findings":[{"level","message"}]}
        #[arg(long)]
        json: bool,
    },
    /// Run a plugin crate's tests with this scopectl's SDK supplied
    ///
    /// Runs `cargo test` in DIR with `scope-plugin-api` patched in through
    /// cargo's `--config`, so nothing in the plugin's repository names a
    /// machine path. Arguments after `--` go to `cargo test`.
    Test {
        /// The plugin crate [default: the current directory]
        dir: Option<PathBuf>,
        /// Arguments for `cargo test` (after `--`)
        #[arg(last = true, value_name = "CARGO-TEST-ARGS")]
        args: Vec<std::ffi::OsString>,
    },
    /// Check the toolchain, the home's consistency and the caches
    Doctor {
        /// Fix what is safe to fix, and say what was done
        #[arg(long)]
        repair: bool,
        /// Print one JSON object: {"version":1,"checks":[{"status","message","repairable"}]}
        #[arg(long)]
        json: bool,
    },
    /// Print the line that puts the home's `bin/` (with `scope-host`) on PATH
    ///
    /// `eval "$(scopectl env)"` in sh, bash or zsh; `scopectl env --shell fish | source` in fish.
    Env {
        /// The shell to print for
        #[arg(long, value_enum, default_value_t = Shell::Sh)]
        shell: Shell,
    },
    /// Print shell completions
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Switch to the previous generation (or generation N) without rebuilding
    Rollback {
        /// The generation to switch to
        #[arg(long, value_name = "N")]
        to: Option<u64>,
    },
    /// List the generations: number, time, command, what changed, which is current
    History {
        /// Print one JSON object (see the README)
        #[arg(long)]
        json: bool,
    },
}

/// `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many frames to write
    #[arg(long, default_value_t = 60)]
    pub frames: u64,
    /// Where to write the video [default: demo.y4m in the home]
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// What to install: NAME, NAME@REQ, NAME==VERSION, a git URL (optionally URL@REV), a local
    /// directory, or a scope://install-plugin deep link
    #[arg(required = true, value_name = "SPEC")]
    pub specs: Vec<String>,
    /// The registry (named in plugins.toml) for registry specs
    #[arg(long, value_name = "NAME")]
    pub registry: Option<String>,
    /// A git branch
    #[arg(long, conflicts_with_all = ["tag", "rev"])]
    pub branch: Option<String>,
    /// A git tag
    #[arg(long, conflicts_with = "rev")]
    pub tag: Option<String>,
    /// A git commit or revision
    #[arg(long)]
    pub rev: Option<String>,
    /// Resolve and print what would change, touching nothing
    #[arg(long, conflicts_with = "no_build")]
    pub dry_run: bool,
    /// Record the change in plugins.toml and resolved.lock without building;
    /// `scopectl sync` builds it later
    #[arg(long)]
    pub no_build: bool,
    #[command(flatten)]
    pub grant: GrantArgs,
}

/// Capabilities granted by this command (recorded under `[allow]` in plugins.toml).
#[derive(Debug, Clone, Default, Args)]
pub struct GrantArgs {
    /// Grant plugins that ask for it this capability: net:connect[=PORT], net:listen=PORT,
    /// fs:read=PATH, fs:write=PATH, exec, gpu (repeatable)
    #[arg(long = "allow", value_name = "CAP")]
    pub allow: Vec<String>,
    /// Grant every capability the plugins ask for
    #[arg(long)]
    pub allow_all: bool,
}

impl GrantArgs {
    /// The grant, with every capability checked.
    pub fn grant(&self) -> anyhow::Result<crate::capability::Grant> {
        Ok(crate::capability::Grant {
            capabilities: self
                .allow
                .iter()
                .map(|c| c.parse())
                .collect::<Result<_, _>>()?,
            all: self.allow_all,
            ask: std::io::IsTerminal::is_terminal(&std::io::stdin()),
        })
    }
}

/// `scopectl key …`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Write a new ECDSA P-256 key pair: PREFIX.key (encrypted with SCOPE_KEY_PASSWORD, or asked) and PREFIX.pub
    Generate {
        /// Where to write the two files
        #[arg(long, value_name = "PREFIX", default_value = "scope")]
        output: PathBuf,
    },
}

/// `scopectl policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Evaluate plugins.toml and resolved.lock against the policy; exit 1 with the findings
    Check {
        /// Print a JSON document on stdout
        #[arg(long)]
        json: bool,
    },
}

/// `sbom --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SbomFormat {
    /// CycloneDX 1.5, JSON
    CyclonedxJson,
}

/// `--listen`: `IP:PORT`, or `localhost:PORT` (loopback, IPv4).
fn listen_address(text: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(address) = text.parse() {
        return Ok(address);
    }
    match text.strip_prefix("localhost:").map(str::parse::<u16>) {
        Some(Ok(port)) => Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port))),
        _ => Err(format!(
            "`{text}` is not an address to listen on: write IP:PORT (e.g. 127.0.0.1:7860, 0.0.0.0:7860, [::1]:7860) or localhost:PORT"
        )),
    }
}
