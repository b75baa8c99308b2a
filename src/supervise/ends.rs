//! The two ends of a supervised stream: the input, read whole frame by
//! whole frame on its own thread into a bounded queue, and the output,
//! created once and written only whole frames.

use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use scope_host::cli::{Format, Input, Output as HostOutput, RunArgs};

use super::held::HeldReader;
use super::session::{Feed, Output, OutputFraming, Shared, Sink};

/// Input read ahead, and held while hosts hand over, in bytes (at least two
/// frames; beyond it the producer waits).
const HOLD_BYTES: usize = 32 << 20;

/// The stream's two ends, as the supervisor holds them.
pub struct Stream {
    pub feed: Option<Feed>,
    pub stop_input: Arc<AtomicBool>,
    pub output: Option<(Arc<Output>, OutputFraming)>,
    /// Frames the hosts generate themselves (`testsrc`, a text pipeline):
    /// each new host is told how many are left.
    pub limit: Option<u64>,
}

impl Stream {
    #[allow(clippy::disallowed_methods)] // the output is created once, here
    pub fn open(run: &RunArgs) -> Result<Stream> {
        let stop_input = Arc::new(AtomicBool::new(false));
        let raw: Option<File> = match &run.input {
            // By descriptor: a pipe or a file on stdin gives frames to
            // splice(2) as a named one does.
            Some(Input::Stdin) => {
                use std::os::fd::AsFd;
                let fd = std::io::stdin()
                    .as_fd()
                    .try_clone_to_owned()
                    .context("cannot read stdin")?;
                // A megabyte of room in the producer's pipe, as the bare
                // host makes (`widen_own_pipes`): at the default 64 KiB a
                // 1080p frame came in 48 rounds of wake-ups of both ends
                // (`cat FILE |`: 13,700 context switches per 120 frames,
                // 6,000 after).
                #[cfg(target_os = "linux")]
                let _ = rustix::pipe::fcntl_setpipe_size(&fd, 1 << 20);
                Some(File::from(fd))
            }
            Some(Input::Path(path)) => Some(
                File::open(path)
                    .with_context(|| format!("cannot open input `{}`", path.to_string_lossy()))?,
            ),
            Some(Input::TestSrc) | None => None,
        };
        let mut in_size = run.size;
        let feed = match raw {
            None => None,
            Some(input) => {
                let reader = match run.input_format {
                    Format::Y4m => HeldReader::y4m(input)
                        .map_err(|e| anyhow::anyhow!("cannot read the input {e}"))?,
                    Format::Rgb24 => {
                        let (w, h) = run.size.ok_or_else(|| {
                            anyhow::anyhow!(
                                "raw rgb24 input has no header: give its frame size with `--size WxH`"
                            )
                        })?;
                        HeldReader::rgb24(input, w, h)
                    }
                };
                in_size = Some(reader.framing().size());
                Some(read_input(reader, run.frames, stop_input.clone()))
            }
        };
        let writer: Option<Sink> = match &run.output {
            // Taken and discarded here, so the frames are counted (the
            // summary, `ctl status`, a frame limit across restarts) and a
            // new host's first frame ends its handoff.
            HostOutput::Null => Some(Sink::Null),
            HostOutput::Stdout => Some(stdout()),
            HostOutput::Path(path) => {
                Some(Sink::File(File::create(path).with_context(|| {
                    format!("cannot create output `{}`", path.to_string_lossy())
                })?))
            }
        };
        let output = writer.map(|writer| {
            let framing = match run.output_format {
                Format::Y4m => OutputFraming::Y4m,
                Format::Rgb24 => {
                    let (w, h) = in_size.unwrap_or((512, 512));
                    OutputFraming::Rgb24(w, h)
                }
            };
            (Arc::new(Output::new(writer)), framing)
        });
        let limit = if feed.is_some() { None } else { run.frames };
        Ok(Stream {
            feed,
            stop_input,
            output,
            limit,
        })
    }
}

/// Our stdout, by descriptor where possible.
fn stdout() -> Sink {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = std::io::stdout().as_fd().try_clone_to_owned() {
            let file = File::from(fd);
            // Room for a frame or two in the consumer's pipe, when it is one.
            #[cfg(target_os = "linux")]
            let _ = rustix::pipe::fcntl_setpipe_size(&file, 1 << 20);
            return Sink::File(file);
        }
    }
    Sink::Other(Box::new(std::io::stdout()))
}

/// Reads the input on its own thread into a bounded queue: the frames held
/// while hosts hand over. Stops at the end of the input, after `limit`
/// frames, or when told to.
fn read_input(mut reader: HeldReader<File>, limit: Option<u64>, stop: Arc<AtomicBool>) -> Feed {
    let framing = reader.framing().clone();
    #[cfg(target_os = "linux")]
    let input_file = reader
        .input_file()
        .and_then(|file| super::by_offset::read_only(&file));
    let bound = (HOLD_BYTES / reader.framing().frame_len().max(1)).max(2);
    let (tx, rx): (SyncSender<Shared>, Receiver<Shared>) = sync_channel(bound);
    let counted = Arc::new(AtomicU64::new(0));
    let count = counted.clone();
    let unreadable = Arc::new(AtomicBool::new(false));
    let failed = unreadable.clone();
    std::thread::spawn(move || {
        let mut read = 0u64;
        while limit.is_none_or(|n| read < n) && !stop.load(Ordering::SeqCst) {
            match reader.read() {
                Ok(Some(frame)) => {
                    read += 1;
                    count.store(read, Ordering::Relaxed);
                    if tx.send(Arc::new(frame)).is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    eprintln!("error: cannot read the input {e}; the stream ends here");
                    failed.store(true, Ordering::SeqCst);
                    return;
                }
            }
        }
    });
    Feed {
        framing,
        frames: Arc::new(Mutex::new(rx)),
        read: counted,
        ended: Arc::new(AtomicBool::new(false)),
        unreadable,
        #[cfg(target_os = "linux")]
        input_file,
    }
}
