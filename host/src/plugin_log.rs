//! Where plugins' log lines go (`scope_plugin_api::warn!` and the rest):
//! each stage thread names its pipeline and the run's log, and a line is
//! written there as `[PIPELINE] LEVEL: …`; debug lines only with
//! `--verbose`. A line from a thread that is not a stage's (a plugin's own
//! thread pool) goes to stderr, prefixed `[plugin]`.

use std::cell::RefCell;
use std::fmt;
use std::io::Write;

use scope_plugin_api::log::{set_sink, Level};

use crate::guard::lock;
use crate::run::Log;

struct Stage {
    name: String,
    log: Log,
    verbose: bool,
}

thread_local! {
    static STAGE: RefCell<Option<Stage>> = const { RefCell::new(None) };
}

/// Routes plugins' lines through [`sink`] (once per process).
pub fn install() {
    set_sink(sink);
}

/// This thread runs pipeline `name`: its lines go to `log`.
pub fn on_this_thread(name: &str, log: &Log, verbose: bool) {
    STAGE.with(|stage| {
        *stage.borrow_mut() = Some(Stage {
            name: name.to_owned(),
            log: log.clone(),
            verbose,
        });
    });
}

fn sink(level: Level, args: fmt::Arguments<'_>) {
    STAGE.with(|stage| match &*stage.borrow() {
        Some(stage) if level == Level::Debug && !stage.verbose => {}
        Some(stage) => {
            let _ = writeln!(lock(&stage.log), "[{}] {level}: {args}", stage.name);
        }
        None => eprintln!("[plugin] {level}: {args}"),
    });
}
