//! `scopectl completions SHELL`, and the man pages, from the clap definitions.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::Cli;

pub fn completions(shell: clap_complete::Shell) -> Result<ExitCode> {
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "scopectl",
        &mut std::io::stdout(),
    );
    Ok(ExitCode::SUCCESS)
}

/// The man pages: `scopectl.1` and `scopectl-<command>.1` for each command,
/// as `(file name, contents)`.
pub fn man_pages() -> Result<Vec<(String, Vec<u8>)>> {
    let command = Cli::command();
    let mut pages = Vec::new();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    page.extend(sections(None).into_bytes());
    pages.push(("scopectl.1".to_owned(), page));
    for sub in command.get_subcommands() {
        let name = format!("scopectl-{}", sub.get_name());
        let mut page = Vec::new();
        clap_mangen::Man::new(sub.clone().name(name.clone())).render(&mut page)?;
        page.extend(sections(Some(sub.get_name())).into_bytes());
        pages.push((format!("{name}.1"), page));
    }
    pages.push(("scope-host.1".to_owned(), host_man_page()));
    Ok(pages)
}

/// The sections clap knows nothing of, for `scopectl` (`None`) or one of
/// its commands: EXIT STATUS, ENVIRONMENT, and `serve`'s endpoints.
fn sections(command: Option<&str>) -> String {
    let mut roff = String::from(".SH \"EXIT STATUS\"\n");
    let specific = match command {
        Some("update") | None => {
            "10 \\fBupdate \\-\\-check\\fR found updates (0: all up to date);\n"
        }
        Some("run" | "serve") => {
            "the host's own status when it ends the stream; 1 the supervisor failed;\n"
        }
        Some("test") => "cargo test's own status (101: a test failed);\n",
        _ => "",
    };
    roff += "0 success (including \"nothing to change\"); 1 the operation failed and\n\
             nothing changed; 2 a usage error;\n";
    roff += specific;
    roff += if matches!(command, Some("run" | "serve")) {
        "130 / 143 stopped by SIGINT / SIGTERM, once the frames in flight were\n\
         written (a second signal stops at once, at a frame boundary).\n"
    } else {
        "130 / 143 / 129 interrupted by SIGINT / SIGTERM / SIGHUP: every child\n\
         (cargo, rustc, the host) is stopped within 2 s and nothing is committed\n\
         (a commit already under way completes, and the message names it).\n"
    };
    roff += ".SH ENVIRONMENT\n";
    for (name, what) in ENVIRONMENT {
        roff += &format!(".TP\n\\fB{name}\\fR\n{what}\n");
    }
    if command == Some("serve") {
        roff += ".SH ENDPOINTS\n";
        for (method, path, what) in crate::serve::ENDPOINTS {
            roff += &format!(".TP\n\\fB{method} {path}\\fR\n{what}\n");
        }
    }
    roff
}

/// The environment scopectl reads (SPEC §10).
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "SCOPE_HOME",
        "the home, when --home is not given (default ~/.scope)",
    ),
    ("SCOPE_LOCK_TIMEOUT", "seconds to wait for the home's lock"),
    (
        "SCOPE_HTTP_TIMEOUT",
        "seconds before a network request gives up",
    ),
    (
        "SCOPE_HTTP_RETRIES",
        "retries of transient network failures",
    ),
    ("SCOPE_NO_PROGRESS", "no progress bars"),
    ("SCOPE_LOG", "log filter for -v output"),
    (
        "SCOPE_REGISTRY_TOKEN_<NAME>",
        "token for the registry NAME of plugins.toml",
    ),
    ("SCOPE_OCI_TOKEN", "bearer token for OCI registries"),
    (
        "DOCKER_CONFIG",
        "docker's configuration directory, for OCI credentials",
    ),
    (
        "SCOPE_HOST_PROFILE",
        "release (default) or dev: how hosts are compiled",
    ),
    ("NO_COLOR", "no colour"),
    ("CARGO", "the cargo to run"),
    (
        "CARGO_HOME",
        "cargo's home: its registry configuration and caches",
    ),
    (
        "CARGO_TARGET_DIR",
        "where host builds keep compiled crates, shared by homes",
    ),
    ("CARGO_NET_OFFLINE", "true: as --offline"),
    ("RUSTC_WRAPPER", "passed to cargo (e.g. sccache)"),
];

/// `scope-host(1)`, from the host's own usage text (the host parses its
/// command line with lexopt, so there is no clap definition to render).
fn host_man_page() -> Vec<u8> {
    let usage = scope_host::cli::USAGE
        .replace('\\', "\\\\")
        .lines()
        .map(|line| match line.strip_prefix('.') {
            Some(rest) => format!("\\&.{rest}"),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        r#".TH scope-host 1 "" "scope-host {version}"
.SH NAME
scope-host \- the Scope host: runs plugin pipelines over video frames
.SH SYNOPSIS
\fBscope-host\fR <\fICOMMAND\fR> [\fIOPTIONS\fR]
.SH DESCRIPTION
The host binary that scopectl builds from the installed plugins; the active
one is \fI<home>/bin/scope-host\fR (\fBscopectl env\fR puts it on PATH).
It reads and writes YUV4MPEG2 or raw RGB24, so it sits in an ffmpeg chain.
.PP
.nf
{usage}
.fi
.SH SIGNALS
SIGINT and SIGTERM stop the input; the frames in flight are finished and
written, the summary printed, and the host exits with 128 + the signal. A
second signal stops at once, at a frame boundary.
.SH EXIT STATUS
0 success; 1 a pipeline or the stream failed; 2 a usage error; 42 asks
\fBscopectl run\fR to restart the host; 130 / 143 stopped by SIGINT / SIGTERM.
.SH EXAMPLES
.nf
scope-host pipelines --json
ffmpeg -i clip.mp4 -f yuv4mpegpipe -pix_fmt yuv420p - | scope-host run --input - --pipeline invert --output - | ffplay -
scope-host run --input testsrc --pipeline invert --frames 60 --output out.y4m
.fi
.SH SEE ALSO
\fBscopectl\fR(1), \fBscopectl-run\fR(1)
"#,
        version = env!("CARGO_PKG_VERSION"),
    )
    .into_bytes()
}

/// Writes the man pages into `dir`.
pub fn write_man_pages(dir: &Path) -> Result<()> {
    fs_err::create_dir_all(dir)?;
    for (name, contents) in man_pages()? {
        fs_err::write(dir.join(name), contents)?;
    }
    Ok(())
}
