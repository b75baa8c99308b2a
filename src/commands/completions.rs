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
    pages.push(("scopectl.1".to_owned(), page));
    for sub in command.get_subcommands() {
        let name = format!("scopectl-{}", sub.get_name());
        let mut page = Vec::new();
        clap_mangen::Man::new(sub.clone().name(name.clone())).render(&mut page)?;
        pages.push((format!("{name}.1"), page));
    }
    pages.push(("scope-host.1".to_owned(), host_man_page()));
    Ok(pages)
}

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
