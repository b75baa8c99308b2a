//! Test support: a scratch home, a scrubbed environment for the real
//! `scopectl` binary, and one shared target directory for every host the
//! tests build, so the SDK and example plugins compile once per run.

#![allow(dead_code)]

pub mod alloc;
pub mod registry;
pub mod served;
pub mod snapshot;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The target directory every test host is built in.
pub fn shared_target_dir() -> PathBuf {
    scope_test_support::shared_target_dir(&repo())
}

pub use scope_test_support::cargo_home;

/// `scope-test-support`'s scratch home, for this crate's `scopectl`.
pub struct TestContext(scope_test_support::TestContext);

impl TestContext {
    pub fn new() -> TestContext {
        TestContext(scope_test_support::TestContext::new(
            env!("CARGO_BIN_EXE_scopectl"),
            repo(),
        ))
    }
}

impl std::ops::Deref for TestContext {
    type Target = scope_test_support::TestContext;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// Scrubs a command's environment as the tests need it, with `scratch` as
/// `HOME`.
pub fn scrub(command: &mut Command, scratch: &Path) {
    scope_test_support::scrub(command, scratch, &repo());
}

/// `scopectl new NAME` in the test's scratch directory; its path.
pub fn new_plugin(context: &TestContext, name: &str) -> PathBuf {
    let out = output(
        context
            .scopectl()
            .args(["new", name])
            .current_dir(context.temp.path()),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    context.temp.path().join(name)
}

/// Runs a command and returns its output, with a readable panic if it cannot start.
pub fn output(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Whether ffmpeg is on PATH; the video tests need it (`.ci/run` installs it).
pub fn require_ffmpeg() {
    let found = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "these tests need ffmpeg on PATH: apt-get install -y ffmpeg"
    );
}

/// What ffprobe says of a video's first stream: `entries` (e.g.
/// `width,height,nb_read_frames`) as one CSV line.
pub fn probe(video: &Path, entries: &str) -> String {
    let out = output(
        Command::new("ffprobe")
            .args(["-v", "error", "-count_frames", "-show_entries"])
            .arg(format!("stream={entries}"))
            .args(["-of", "csv=p=0"])
            .arg(video),
    );
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        video.display(),
        stderr(&out)
    );
    stdout(&out).trim().to_owned()
}

/// A git repository, made on the spot, holding the `invert` example plugin.
pub fn invert_repo(dir: &Path) -> scope_test_support::GitRepo {
    let git = scope_test_support::GitRepo::init(dir);
    let source = repo().join("fixtures/plugins/invert");
    let manifest = fs_err::read_to_string(source.join("Cargo.toml")).unwrap();
    git.write("Cargo.toml", &format!("{manifest}\n[workspace]\n"));
    git.write(
        "src/lib.rs",
        &fs_err::read_to_string(source.join("src/lib.rs")).unwrap(),
    );
    git
}

/// A home whose `plugins.toml` names the fixture registry as `fixture`.
pub fn with_registry(context: &TestContext, server: &scope_test_support::FixtureRegistry) {
    fs_err::create_dir_all(context.home()).unwrap();
    let toml = format!(
        "# Plugins from the fixture registry.\n[plugins]\n\n[registries.fixture]\nindex = \"{}\"\n",
        server.index_url()
    );
    fs_err::write(context.home().join("plugins.toml"), toml).unwrap();
}

/// `scopectl install NAME --registry fixture`.
pub fn install_from_fixture(context: &TestContext, name: &str) -> Output {
    output(
        context
            .scopectl()
            .args(["install", name, "--registry", "fixture"]),
    )
}

/// Runs `command`, expects exit 1 with `expected` in stderr, and
/// `plugins.toml` exactly as it was; returns the output for more checks.
pub fn assert_refused(context: &TestContext, command: &mut Command, expected: &str) -> Output {
    let before = fs_err::read(context.home().join("plugins.toml")).ok();
    let out = output(command);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(expected), "{}", stderr(&out));
    assert_eq!(
        fs_err::read(context.home().join("plugins.toml")).ok(),
        before,
        "plugins.toml is unchanged"
    );
    out
}

/// The context's home, opened (and created) as the binary would.
pub fn open_home(context: &TestContext) -> scopectl::home::Home {
    scopectl::home::Home::open(&scopectl::settings::HomeLocation {
        root: context.home(),
        from: "--home",
    })
    .unwrap()
}

/// Commits one generation per host, through the home's transaction as a
/// change would; the last one is active. Each host is `(binary, plugins.toml,
/// resolved.lock, command, changes)`.
pub fn commit_generations(
    home: &scopectl::home::Home,
    hosts: &[(&Path, String, String, String, Vec<scopectl::change::Change>)],
) {
    let transaction =
        scopectl::home::Transaction::begin(home, None, &scopectl::reporter::Silent).unwrap();
    for (host, plugins_toml, resolved_lock, command, changes) in hosts {
        transaction
            .commit(&scopectl::home::NewGeneration {
                host,
                plugins_toml,
                resolved_lock,
                command: command.clone(),
                changes: changes.clone(),
                fingerprints: Default::default(),
            })
            .unwrap();
    }
}

/// Everything a reader gives, collected on a thread as it comes.
pub struct Collector {
    /// What came so far.
    pub bytes: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    thread: std::thread::JoinHandle<()>,
}

impl Collector {
    /// Everything, once the reader ended (every writer closed the pipe;
    /// at most 30 s, so that a stray child holding it cannot hang a test).
    pub fn finish(self) -> Vec<u8> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !self.thread.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::mem::take(&mut *self.bytes.lock().unwrap())
    }
}

/// Collects what `reader` gives on a thread, as it comes.
pub fn collect(mut reader: impl std::io::Read + Send + 'static) -> Collector {
    let bytes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let thread = std::thread::spawn({
        let bytes = bytes.clone();
        move || {
            let mut buffer = vec![0; 1 << 16];
            while let Ok(n) = reader.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                bytes.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        }
    });
    Collector { bytes, thread }
}

/// `frames` frames of ffmpeg's `testsrc` at `size` (`WxH`), 4:2:0, into `path`.
pub fn testsrc(path: &Path, size: &str, frames: u32) {
    testsrc_as(path, size, frames, &["-pix_fmt", "yuv420p"]);
}

/// The same as raw rgb24 frames.
pub fn testsrc_rgb24(path: &Path, size: &str, frames: u32) {
    testsrc_as(path, size, frames, &["-f", "rawvideo", "-pix_fmt", "rgb24"]);
}

fn testsrc_as(path: &Path, size: &str, frames: u32, format: &[&str]) {
    require_ffmpeg();
    let made = output(
        Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!("testsrc=size={size}:rate=30"))
            .args(["-frames:v", &frames.to_string()])
            .args(format)
            .arg(path),
    );
    assert!(made.status.success(), "{}", stderr(&made));
}

/// Runs a command with `input` written to its stdin (a pipe) by another
/// thread, and returns its output.
pub fn output_fed(command: &mut Command, input: Vec<u8>) -> Output {
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let mut stdin = child.stdin.take().expect("piped");
    let feeder = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &input));
    let out = child.wait_with_output().unwrap();
    let fed = feeder.join().expect("the feeding thread");
    fed.unwrap_or_else(|e| panic!("cannot feed {command:?}: {e}"));
    out
}

/// How many files are under `dir` (not following links).
pub fn count_files(dir: &Path) -> usize {
    fs_err::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => count_files(&e.path()),
                    _ => 1,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// A copy of the `invert` example named `name`, with `lib_extra` appended
/// to its library and `build_rs` as its build script when given.
pub fn invert_copy(dir: &Path, name: &str, lib_extra: &str, build_rs: Option<&str>) -> PathBuf {
    let source = repo().join("fixtures/plugins/invert");
    let plugin = dir.join(name);
    fs_err::create_dir_all(plugin.join("src")).unwrap();
    let manifest = fs_err::read_to_string(source.join("Cargo.toml"))
        .unwrap()
        .replace("scope-invert", name)
        .replace("scope_invert", &name.replace('-', "_"));
    fs_err::write(
        plugin.join("Cargo.toml"),
        format!("{manifest}\n[workspace]\n"),
    )
    .unwrap();
    let lib = fs_err::read_to_string(source.join("src/lib.rs"))
        .unwrap()
        .replace("\"invert\"", &format!("\"{name}\""));
    fs_err::write(plugin.join("src/lib.rs"), format!("{lib}\n{lib_extra}\n")).unwrap();
    if let Some(build_rs) = build_rs {
        fs_err::write(plugin.join("build.rs"), build_rs).unwrap();
    }
    plugin
}

/// A plugin whose build script writes the returned marker file, then
/// sleeps a minute: a build to cancel while cargo runs. The marker is in
/// the shared target directory, one of the few places a sandboxed build
/// may write.
pub fn slow_build_plugin(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let markers = shared_target_dir().join("markers");
    fs_err::create_dir_all(&markers).unwrap();
    let marker = markers.join(format!("{name}-{}-build-script-started", fastrand::u64(..)));
    let build_rs = format!(
        "fn main() {{\n    std::fs::write({marker:?}, \"\").unwrap();\n    std::thread::sleep(std::time::Duration::from_secs(60));\n}}\n"
    );
    (invert_copy(dir, name, "", Some(&build_rs)), marker)
}

/// Waits (at most 240 s) until `path` exists.
pub fn wait_for_file(path: &Path) {
    wait_until(
        || path.exists(),
        || format!("{} never appeared", path.display()),
    );
}

/// Waits until `done` says so; fails the test with `what` after 240 s
/// (a bound against hanging, not a measure of speed).
pub fn wait_until(mut done: impl FnMut() -> bool, what: impl Fn() -> String) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(240);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{}", what());
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

impl Collector {
    /// What came so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap()).into_owned()
    }

    /// Waits until what came contains `text`.
    pub fn wait_for_text(&self, text: &str) {
        wait_until(
            || self.text().contains(text),
            || format!("never said {text:?}:\n{}", self.text()),
        );
    }
}

/// Live processes (not zombies) started for this test: every child of
/// scopectl inherits the scratch `HOME`.
pub fn processes_of(context: &TestContext) -> Vec<String> {
    let marker = format!("HOME={}", context.temp.path().display());
    let mut found = Vec::new();
    for entry in fs_err::read_dir("/proc").unwrap().flatten() {
        let dir = entry.path();
        let Ok(environ) = fs_err::read(dir.join("environ")) else {
            continue;
        };
        if environ.split(|&b| b == 0).any(|v| v == marker.as_bytes()) {
            let cmdline = fs_err::read(dir.join("cmdline")).unwrap_or_default();
            found.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
        }
    }
    found
}

/// The four pieces of a home a user sees, as bytes (absent as `None`):
/// what a change either moves all together or leaves as they were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeState {
    /// Where `current` points (`generations/N`).
    pub current: Option<String>,
    pub plugins_toml: Option<Vec<u8>>,
    pub resolved_lock: Option<Vec<u8>>,
    /// `bin/scope-host`, through its link.
    pub host: Option<Vec<u8>>,
}

impl HomeState {
    /// The state of the home at `home` now.
    pub fn of(home: &Path) -> HomeState {
        let read = |file: &str| fs_err::read(home.join(file)).ok();
        HomeState {
            current: fs_err::read_link(home.join("current"))
                .ok()
                .map(|p| p.display().to_string()),
            plugins_toml: read("plugins.toml"),
            resolved_lock: read("resolved.lock"),
            host: read("bin/scope-host"),
        }
    }
}

/// Feeds 64x64 frames (a diagonal gradient) at about 50 fps until the
/// stream's input closes.
pub fn feed_forever(stdin: std::process::ChildStdin) {
    std::thread::spawn(move || {
        use std::io::Write;
        let mut stdin = stdin;
        let luma = (0..64 * 64).map(|i| ((i % 64 + i / 64) * 2) as u8);
        let frame: Vec<u8> = b"FRAME\n"
            .iter()
            .copied()
            .chain(luma)
            .chain(std::iter::repeat_n(128, 2 * 32 * 32))
            .collect();
        if stdin
            .write_all(b"YUV4MPEG2 W64 H64 F30:1 Ip A1:1 C420jpeg\n")
            .is_err()
        {
            return;
        }
        while stdin.write_all(&frame).is_ok() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
}
