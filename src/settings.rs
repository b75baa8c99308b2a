//! Settings, resolved once: the command line's global flags, the
//! environment and the defaults become one [`Settings`] value at the start
//! of a command, and everything below the command layer takes what it needs
//! from it. This is the only module that reads the process environment
//! (`clippy.toml` refuses `std::env` reads anywhere else).
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use scope_registry_client::http::HttpSettings;

use crate::cli::{ColorChoice, GlobalArgs};
use crate::output::Verbosity;

const TOKEN_PREFIX: &str = "SCOPE_REGISTRY_TOKEN_";

/// Everything a command needs to know about its surroundings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The home directory, and how it was chosen.
    pub home: HomeLocation,
    /// Use only what is cached (`--offline`, `--frozen` or `CARGO_NET_OFFLINE=true`).
    pub offline: bool,
    /// Fail if `resolved.lock` is missing or would change (`--locked` or `--frozen`).
    pub locked: bool,
    /// How long to wait for the home's lock (`SCOPE_LOCK_TIMEOUT`); `None`: as long as it takes.
    pub lock_timeout: Option<Duration>,
    /// How hosts are built.
    pub build: BuildSettings,
    /// Timeouts and retries for registries.
    pub http: HttpSettings,
    /// `SCOPE_REGISTRY_TOKEN_<NAME>` values, by variable name.
    pub registry_tokens: BTreeMap<String, String>,
    /// What reaches the terminal.
    pub output: OutputSettings,
    /// The command line, without `--home DIR`, for a generation's metadata.
    pub command_line: String,
    /// The working directory, against which relative plugin paths are read.
    pub working_dir: PathBuf,
    /// The user's home directory, for `~/` in plugin paths.
    pub user_home: Option<PathBuf>,
    /// Debug builds only: the failpoint armed by `SCOPE_FAILPOINT`.
    pub failpoint: Option<String>,
    /// OCI registries: `SCOPE_OCI_TOKEN`, and docker's `config.json`
    /// (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`).
    pub oci: OciSettings,
    /// `--policy FILE`: the policy instead of the home's `policy.toml`.
    pub policy: Option<PathBuf>,
    /// `UPDATE_GOLDEN`, which `scope-plugin-test` reads: passed to the
    /// tests `scopectl test` runs.
    pub update_golden: Option<OsString>,
    /// `NOTIFY_SOCKET` and `WATCHDOG_USEC`: systemd's `Type=notify`.
    pub systemd: Option<crate::supervise::notify::Systemd>,
    /// The user's cache, shared by every home: `SCOPE_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/scope`, else `~/.cache/scope`.
    pub cache_dir: Option<PathBuf>,
    /// `SCOPE_ARTIFACT_MIRROR`: a base URL serving artifacts by SHA-256
    /// (`BASE/<hex>`), tried before the declared URLs (air-gapped sites).
    pub artifact_mirror: Option<String>,
}

/// How OCI registries are reached.
#[derive(Debug, Clone, Default)]
pub struct OciSettings {
    /// `SCOPE_OCI_TOKEN`: a bearer token for every registry.
    pub token: Option<String>,
    /// Docker's `config.json`, for `auths`.
    pub docker_config: Option<PathBuf>,
    /// `SCOPE_KEY_PASSWORD`: opens (and seals) signing keys; may be empty.
    pub key_password: Option<String>,
}

/// Where the home is and which setting chose it.
#[derive(Debug, Clone)]
pub struct HomeLocation {
    /// The directory.
    pub root: PathBuf,
    /// `--home`, `SCOPE_HOME` or the default.
    pub from: &'static str,
}

/// The cargo profile a host is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Optimised: what users run.
    Release,
    /// Unoptimised and quick to build: for tests and plugin development.
    Dev,
}

/// How hosts are built.
#[derive(Debug, Clone)]
pub struct BuildSettings {
    /// The cargo to run (`CARGO`, else `cargo` on `PATH`).
    pub cargo: OsString,
    /// `CARGO_TARGET_DIR`, shared by homes when set.
    pub target_dir: Option<PathBuf>,
    /// Where hosts are compiled when `CARGO_TARGET_DIR` is unset: one
    /// directory of the user's cache per plugin API, so every home (and
    /// every generation) reuses the third-party crates compiled once.
    pub shared_target_dir: Option<PathBuf>,
    /// `SCOPE_HOST_PROFILE`.
    pub profile: Profile,
    /// Build from cargo's cache only (as [`Settings::offline`]; cargo's own
    /// configuration, read in the host crate's directory, may say so too).
    pub offline: bool,
    /// cargo's home (`CARGO_HOME`, else `~/.cargo`), to say which crates
    /// its cache lacks when an offline build fails.
    pub cargo_home: Option<PathBuf>,
    /// rustup's home (`RUSTUP_HOME`, else `~/.rustup`): the toolchains a
    /// sandboxed build reads.
    pub rustup_home: Option<PathBuf>,
    /// The variables of [`crate::sandbox::BUILD_ENVIRONMENT`] that are set:
    /// all a sandboxed build sees.
    pub environment: Vec<(String, OsString)>,
    /// How the build is sandboxed: `--sandbox`, else the policy's
    /// `sandbox`, else best-effort (the policy is read per change).
    pub sandbox: crate::policy::Sandbox,
    /// `--sandbox` was given (it wins over the policy).
    pub sandbox_given: bool,
    /// Debug builds only: `SCOPE_SANDBOX_UNSUPPORTED` simulates a kernel
    /// without Landlock.
    pub sandbox_unsupported: bool,
}

/// What reaches the terminal.
#[derive(Debug, Clone, Copy)]
pub struct OutputSettings {
    /// How much to say.
    pub verbosity: Verbosity,
    /// `--color`, with `NO_COLOR` folded in: `None` is "when stderr is a terminal".
    pub color: Option<bool>,
    /// `SCOPE_NO_PROGRESS` unset.
    pub progress: bool,
}

impl Settings {
    /// Reads the global flags, `argv` and this process's environment.
    pub fn resolve(global: &GlobalArgs, argv: &[OsString]) -> Result<Settings> {
        let tokens: Vec<String> = std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .filter(|k| k.starts_with(TOKEN_PREFIX))
            .collect();
        Settings::resolve_with(global, argv, &tokens, &|key| std::env::var_os(key))
    }

    /// The process's arguments, for [`Settings::resolve`].
    pub fn argv() -> Vec<OsString> {
        std::env::args_os().collect()
    }

    /// Like [`Settings::resolve`], with `env` standing for the environment.
    /// `token_variables` names the `SCOPE_REGISTRY_TOKEN_*` variables set.
    pub fn resolve_with(
        global: &GlobalArgs,
        argv: &[OsString],
        token_variables: &[String],
        env: &dyn Fn(&str) -> Option<OsString>,
    ) -> Result<Settings> {
        let var = |key: &str| env(key).filter(|v| !v.is_empty());
        let text = |key: &str| -> Result<Option<String>> {
            var(key)
                .map(|v| {
                    v.into_string()
                        .map_err(|_| anyhow::anyhow!("{key} is not valid UTF-8"))
                })
                .transpose()
        };
        let user_home = var("HOME")
            .or_else(|| var("USERPROFILE"))
            .map(PathBuf::from);
        let home = match (&global.home, var("SCOPE_HOME")) {
            (Some(dir), _) => HomeLocation {
                root: dir.clone(),
                from: "--home",
            },
            (None, Some(dir)) => HomeLocation {
                root: PathBuf::from(dir),
                from: "SCOPE_HOME",
            },
            (None, None) => HomeLocation {
                root: user_home
                    .as_ref()
                    .context(
                        "cannot tell where the home is: set `SCOPE_HOME` or pass `--home DIR`",
                    )?
                    .join(".scope"),
                from: "the default",
            },
        };
        // cargo's own switch means the same here as in cargo.
        let offline = global.offline
            || global.frozen
            || var("CARGO_NET_OFFLINE").is_some_and(|v| v == "true");
        let profile = match text("SCOPE_HOST_PROFILE")?.as_deref() {
            None | Some("release") => Profile::Release,
            Some("dev" | "debug") => Profile::Dev,
            Some(other) => bail!("SCOPE_HOST_PROFILE is `{other}`; use `release` or `dev`"),
        };
        let http = HttpSettings::from_values(
            text("SCOPE_HTTP_TIMEOUT")?.as_deref(),
            text("SCOPE_HTTP_RETRIES")?.as_deref(),
        )?;
        let mut registry_tokens = BTreeMap::new();
        for key in token_variables {
            if let Some(token) = text(key)? {
                registry_tokens.insert(key.clone(), token);
            }
        }
        let color = match global.color {
            ColorChoice::Always => Some(true),
            ColorChoice::Never => Some(false),
            ColorChoice::Auto if var("NO_COLOR").is_some() => Some(false),
            ColorChoice::Auto => None,
        };
        let verbosity = match (global.quiet, global.verbose) {
            (0, 0) => Verbosity::Normal,
            (1, _) => Verbosity::Quiet,
            (_, 0) => Verbosity::Silent,
            (_, 1) => Verbosity::Verbose,
            _ => Verbosity::Trace,
        };
        let working_dir = std::env::current_dir().context("cannot read the working directory")?;
        let cache_dir = var("SCOPE_CACHE_DIR")
            .map(|dir| working_dir.join(dir))
            .or_else(|| var("XDG_CACHE_HOME").map(|dir| PathBuf::from(dir).join("scope")))
            .or_else(|| user_home.as_ref().map(|h| h.join(".cache").join("scope")));
        let oci = OciSettings {
            token: text("SCOPE_OCI_TOKEN")?,
            docker_config: var("DOCKER_CONFIG")
                .map(PathBuf::from)
                .or_else(|| user_home.as_ref().map(|h| h.join(".docker")))
                .map(|dir| dir.join("config.json")),
            key_password: env("SCOPE_KEY_PASSWORD")
                .map(|v| {
                    v.into_string()
                        .map_err(|_| anyhow::anyhow!("SCOPE_KEY_PASSWORD is not valid UTF-8"))
                })
                .transpose()?,
        };
        Ok(Settings {
            home,
            offline,
            locked: global.locked || global.frozen,
            lock_timeout: lock_timeout(text("SCOPE_LOCK_TIMEOUT")?.as_deref())?,
            build: BuildSettings {
                cargo: var("CARGO").unwrap_or_else(|| "cargo".into()),
                target_dir: var("CARGO_TARGET_DIR").map(PathBuf::from),
                shared_target_dir: cache_dir.as_ref().map(|dir| {
                    dir.join("targets")
                        .join(format!("api-{}", scope_plugin_api::API_VERSION))
                }),
                profile,
                offline,
                cargo_home: var("CARGO_HOME")
                    .map(PathBuf::from)
                    .or_else(|| user_home.as_ref().map(|h| h.join(".cargo"))),
                rustup_home: var("RUSTUP_HOME")
                    .map(PathBuf::from)
                    .or_else(|| user_home.as_ref().map(|h| h.join(".rustup"))),
                environment: crate::sandbox::BUILD_ENVIRONMENT
                    .iter()
                    .filter_map(|k| Some(((*k).to_owned(), env(k)?)))
                    .collect(),
                sandbox: global.sandbox.unwrap_or(crate::policy::Sandbox::BestEffort),
                sandbox_given: global.sandbox.is_some(),
                sandbox_unsupported: cfg!(debug_assertions)
                    && var("SCOPE_SANDBOX_UNSUPPORTED").is_some(),
            },
            http,
            registry_tokens,
            output: OutputSettings {
                verbosity,
                color,
                progress: !global.no_progress && var("SCOPE_NO_PROGRESS").is_none(),
            },
            command_line: command_line(argv),
            user_home,
            failpoint: text("SCOPE_FAILPOINT")?.filter(|_| cfg!(debug_assertions)),
            oci,
            policy: global.policy.as_ref().map(|p| working_dir.join(p)),
            update_golden: env("UPDATE_GOLDEN"),
            systemd: text("NOTIFY_SOCKET")?.map(|socket| crate::supervise::notify::Systemd {
                socket,
                watchdog: var("WATCHDOG_USEC")
                    .and_then(|v| v.to_str()?.parse::<u64>().ok())
                    .map(Duration::from_micros),
            }),
            cache_dir,
            artifact_mirror: text("SCOPE_ARTIFACT_MIRROR")?,
            working_dir,
        })
    }

    /// The token for a registry named `name`, if one is set.
    pub fn registry_token(&self, name: &str) -> Option<String> {
        let variable = scope_registry_client::registry::token_variable(name);
        self.registry_tokens.get(&variable).cloned()
    }

    /// The same settings for another home (`demo` uses its own).
    pub fn with_home(&self, root: &Path, from: &'static str) -> Settings {
        let mut settings = self.clone();
        settings.home = HomeLocation {
            root: root.to_owned(),
            from,
        };
        settings
    }
}

/// `SCOPE_LOCK_TIMEOUT`: seconds to wait for the home's lock.
fn lock_timeout(value: Option<&str>) -> Result<Option<Duration>> {
    let Some(value) = value else { return Ok(None) };
    let secs: f64 = value
        .parse()
        .ok()
        .filter(|s: &f64| *s >= 0.0 && s.is_finite())
        .with_context(|| format!("SCOPE_LOCK_TIMEOUT is `{value}`; give a number of seconds"))?;
    Ok(Some(Duration::from_secs_f64(secs)))
}

/// The command line for a generation's metadata, without `--home DIR`.
fn command_line(argv: &[OsString]) -> String {
    let mut words = vec!["scopectl".to_owned()];
    let mut args = argv.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(arg) = args.next() {
        if arg == "--home" {
            args.next();
        } else if !arg.starts_with("--home=") {
            words.push(arg.into_owned());
        }
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn resolve(args: &[&str], env: &[(&str, &str)]) -> Result<Settings> {
        let argv: Vec<OsString> = args.iter().map(OsString::from).collect();
        let cli = crate::cli::Cli::try_parse_from(&argv).unwrap();
        let env: BTreeMap<String, OsString> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect();
        let tokens: Vec<String> = env.keys().cloned().collect();
        Settings::resolve_with(&cli.global, &argv, &tokens, &|key| env.get(key).cloned())
    }

    #[test]
    fn the_home_comes_from_the_flag_then_the_environment_then_the_default() {
        let s = resolve(
            &["scopectl", "--home", "/h", "list"],
            &[("SCOPE_HOME", "/e")],
        )
        .unwrap();
        assert_eq!(
            (s.home.root.as_path(), s.home.from),
            (Path::new("/h"), "--home")
        );
        let s = resolve(
            &["scopectl", "list"],
            &[("SCOPE_HOME", "/e"), ("HOME", "/u")],
        )
        .unwrap();
        assert_eq!(
            (s.home.root.as_path(), s.home.from),
            (Path::new("/e"), "SCOPE_HOME")
        );
        let s = resolve(&["scopectl", "list"], &[("HOME", "/u")]).unwrap();
        assert_eq!(s.home.root, Path::new("/u/.scope"));
        assert!(resolve(&["scopectl", "list"], &[]).is_err());
    }

    #[test]
    fn build_and_network_settings_are_read_once_and_checked() {
        let s = resolve(
            &["scopectl", "--home=/h", "install", "./fx"],
            &[
                ("CARGO", "/bin/cargo"),
                ("CARGO_NET_OFFLINE", "true"),
                ("SCOPE_HOST_PROFILE", "dev"),
                ("SCOPE_LOCK_TIMEOUT", "1.5"),
            ],
        )
        .unwrap();
        assert_eq!(s.build.cargo, OsString::from("/bin/cargo"));
        assert!(s.offline && s.build.offline);
        assert_eq!(s.build.profile, Profile::Dev);
        assert_eq!(s.lock_timeout, Some(Duration::from_millis(1500)));
        assert_eq!(s.command_line, "scopectl install ./fx");
        let err = resolve(
            &["scopectl", "--home", "/h", "list"],
            &[("SCOPE_HOST_PROFILE", "fast")],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "SCOPE_HOST_PROFILE is `fast`; use `release` or `dev`"
        );
        let err = resolve(
            &["scopectl", "--home", "/h", "list"],
            &[("SCOPE_LOCK_TIMEOUT", "soon")],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "SCOPE_LOCK_TIMEOUT is `soon`; give a number of seconds"
        );
    }
}
