//! What a person reads, compared whole: [`scopectl_snapshot!`] checks the
//! exit status, stdout and stderr of a command against a reviewed snapshot
//! in `tests/it/snapshots/`, with what changes from run to run redacted
//! (the home, the scratch directory, the repository, loopback ports,
//! times, commits and checksums). After a deliberate change of wording:
//! `INSTA_UPDATE=always cargo test --test it`, then review
//! `git diff tests/it/snapshots`.

use std::process::Output;

use super::{repo, TestContext};

/// `scopectl_snapshot!(context, "name", &output)`: the command's output,
/// redacted, is the snapshot `name` of the calling module.
macro_rules! scopectl_snapshot {
    ($context:expr, $name:expr, $out:expr) => {
        insta::assert_snapshot!($name, $crate::support::snapshot::shown($context, $out))
    };
}
pub(crate) use scopectl_snapshot;

/// stdout and stderr with the exit status, the home, the scratch directory,
/// the repository, times, commits and checksums redacted.
pub fn shown(context: &TestContext, out: &Output) -> String {
    let text = format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().map_or("signal".into(), |c| c.to_string()),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    redact(context, &text)
}

pub fn redact(context: &TestContext, text: &str) -> String {
    let home = fs_err::canonicalize(context.home()).unwrap_or(context.home());
    let scratch = fs_err::canonicalize(context.temp.path()).unwrap();
    let mut text = text
        .replace(&home.display().to_string(), "[HOME]")
        .replace(&context.home().display().to_string(), "[HOME]")
        .replace(&scratch.display().to_string(), "[SCRATCH]")
        .replace(&repo().display().to_string(), "[REPO]");
    // RFC 3339 times, and hex runs of 40 (commits) or 64 (SHA-256) digits.
    let mut redacted = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(c) = rest.chars().next() {
        let hex = rest.chars().take_while(char::is_ascii_hexdigit).count();
        if is_time(rest) {
            redacted.push_str("[TIME]");
            rest = &rest[20..];
        } else if hex == 40 || hex == 64 {
            redacted.push_str(if hex == 40 { "[COMMIT]" } else { "[SHA256]" });
            rest = &rest[hex..];
        } else if hex > 0 {
            redacted.push_str(&rest[..hex]);
            rest = &rest[hex..];
        } else {
            redacted.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    text = redacted;
    let text = redact_numbers(&redact_ports(&text), "(pid ", "", "[PID]");
    let text = redact_numbers(&text, "(", " bytes", "[SIZE]");
    let text = redact_numbers(&text, ", ", " expected)", "[SIZE]");
    let text = redact_numbers(&text, "Freed ", " MiB", "[SIZE]");
    redact_numbers(&text, " in ", " s", "[SECONDS]")
}

/// Replaces a number (digits, maybe one `.`) between `before` and `after`
/// with `placeholder`: pids, sizes of built hosts and durations change from
/// run to run.
fn redact_numbers(text: &str, before: &str, after: &str, placeholder: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(before) {
        let start = at + before.len();
        let tail = &rest[start..];
        let number = tail
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        out.push_str(&rest[..start]);
        let is_number = number > 0 && tail.as_bytes()[0].is_ascii_digit();
        if is_number && tail[number..].starts_with(after) {
            out.push_str(placeholder);
            rest = &tail[number..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// Everything from the first compiler diagnostic (`error[E…]`) on is cut
/// from stderr: its wording is rustc's, and changes with the toolchain.
pub fn without_compiler_diagnostics(out: &Output) -> Output {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kept = match stderr.find("\nerror[E") {
        Some(at) => format!("{}\n[COMPILER DIAGNOSTICS]\n", &stderr[..at]),
        None => stderr.into_owned(),
    };
    Output {
        status: out.status,
        stdout: out.stdout.clone(),
        stderr: kept.into_bytes(),
    }
}

/// `127.0.0.1:41295` → `127.0.0.1:[PORT]`: fixture servers listen on a
/// port the system picks.
fn redact_ports(text: &str) -> String {
    const LOOPBACK: &str = "127.0.0.1:";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(LOOPBACK) {
        let after = &rest[at + LOOPBACK.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(&rest[..at + LOOPBACK.len()]);
        out.push_str(if digits > 0 { "[PORT]" } else { "" });
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// `2026-11-22T04:09:30Z`.
fn is_time(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(|&i| b[i].is_ascii_digit())
}
