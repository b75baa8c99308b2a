//! The host's command line, parsed with `lexopt` to keep the host's
//! dependencies lean.

use std::ffi::OsString;

use lexopt::prelude::*;

use crate::video::Rate;

pub const USAGE: &str = "\
Usage: scope-host <COMMAND>

Commands:
  help                  print this help (also `COMMAND --help`)
  pipelines [--json]    list every registered pipeline with its parameters
  self-check [--json]   report each plugin's registration; exit 0 only when all registered
  run --pipeline ID...  run a chain of pipelines over video frames

Run options:
  --pipeline ID            a pipeline in the chain (repeat for a chain, in order)
  --input PATH|-|testsrc   a file, stdin, or the built-in moving test pattern
  --input-format y4m|rgb24 default y4m; rgb24 needs --size
  --output PATH|-|null     default - (stdout)
  --output-format y4m|rgb24
  --frames N               stop after N frames
  --size WxH               frame size of generators and rgb24 input (default 512x512)
  --fps N[:D]              frame rate of generated frames (default 30)
  --set [PIPELINE[#N].]KEY=VALUE  a parameter (repeatable; #N: the Nth of a pipeline used twice)
  --prompt TEXT            the prompt, for pipelines that support prompts
  --frame-timeout SECS     a call of a pipeline that runs longer is given up: its input
                           passes through, the pipeline is unloaded (default 10; 0: none)
  --summary-json           end with the summary as one JSON line on stderr, for scripts
  --verbose                also the plugins' debug lines (scope_plugin_api::debug!)
  --quiet                  of the plugins' lines only warnings and errors
  --control SOCKET         answer `status` and `set` on a Unix socket (scopectl run does this)

Options:
  -h, --help      print this help
  -V, --version   print the host and plugin API versions
";

/// Where frames come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file.
    Path(OsString),
    /// Standard input.
    Stdin,
    /// The built-in moving pattern.
    TestSrc,
}

/// Where frames go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A file.
    Path(OsString),
    /// Standard output.
    Stdout,
    /// Nowhere (for benchmarks and checks).
    Null,
}

/// A stream format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YUV4MPEG2.
    Y4m,
    /// Raw interleaved RGB24.
    Rgb24,
}

/// The arguments of `run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunArgs {
    pub pipelines: Vec<String>,
    pub input: Option<Input>,
    pub input_format: Format,
    pub output: Output,
    pub output_format: Format,
    pub frames: Option<u64>,
    pub size: Option<(u32, u32)>,
    pub fps: Option<Rate>,
    pub sets: Vec<String>,
    pub prompt: Option<String>,
    /// A Unix socket to serve live control on (used by `scopectl run`).
    pub control: Option<OsString>,
    /// `--frame-timeout`: how long one call of a pipeline may take; `None`
    /// for no limit (`0`).
    pub frame_timeout: Option<std::time::Duration>,
    /// `--summary-json`: the summary as one JSON line.
    pub summary_json: bool,
    /// `--verbose`: the plugins' debug lines too.
    pub verbose: bool,
    /// `--quiet`: of the plugins' lines only warnings and errors.
    pub quiet: bool,
}

/// `--frame-timeout`'s default.
pub const FRAME_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Version,
    Pipelines { json: bool },
    SelfCheck { json: bool },
    Run(Box<RunArgs>),
}

/// Parses the arguments after the program name.
pub fn parse(args: Vec<OsString>) -> Result<Command, String> {
    let mut parser = lexopt::Parser::from_args(args);
    let command = match parser.next().map_err(|e| e.to_string())? {
        None => return Err("no command given".into()),
        Some(Short('h') | Long("help")) => return Ok(Command::Help),
        Some(Short('V') | Long("version")) => return Ok(Command::Version),
        Some(Value(command)) => command.string().map_err(|e| e.to_string())?,
        Some(other) => return Err(other.unexpected().to_string()),
    };
    if command == "help" {
        return Ok(Command::Help);
    }
    let result = match command.as_str() {
        "pipelines" => parse_json_flag(&mut parser).map(|json| Command::Pipelines { json }),
        "self-check" => parse_json_flag(&mut parser).map(|json| Command::SelfCheck { json }),
        "run" => parse_run(&mut parser).map(|run| Command::Run(Box::new(run))),
        other => return Err(format!("unknown command `{other}`")),
    };
    match result {
        Err(e) if e.to_string() == HELP_REQUESTED => Ok(Command::Help),
        other => other.map_err(|e| e.to_string()),
    }
}

fn parse_json_flag(parser: &mut lexopt::Parser) -> Result<bool, lexopt::Error> {
    let mut json = false;
    while let Some(arg) = parser.next()? {
        match arg {
            Long("json") => json = true,
            Short('h') | Long("help") => return Err(help()),
            other => return Err(other.unexpected()),
        }
    }
    Ok(json)
}

fn parse_run(parser: &mut lexopt::Parser) -> Result<RunArgs, lexopt::Error> {
    let mut run = RunArgs {
        pipelines: Vec::new(),
        input: None,
        input_format: Format::Y4m,
        output: Output::Stdout,
        output_format: Format::Y4m,
        frames: None,
        size: None,
        fps: None,
        sets: Vec::new(),
        prompt: None,
        control: None,
        frame_timeout: Some(FRAME_TIMEOUT),
        summary_json: false,
        verbose: false,
        quiet: false,
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => return Err(help()),
            Long("pipeline") => run.pipelines.push(parser.value()?.string()?),
            Long("input") => {
                let value = parser.value()?;
                run.input = Some(match value.to_str() {
                    Some("-") => Input::Stdin,
                    Some("testsrc") => Input::TestSrc,
                    _ => Input::Path(value),
                });
            }
            Long("output") => {
                let value = parser.value()?;
                run.output = match value.to_str() {
                    Some("-") => Output::Stdout,
                    Some("null") => Output::Null,
                    _ => Output::Path(value),
                };
            }
            Long("input-format") => {
                run.input_format = option(parser, "--input-format", parse_format)?
            }
            Long("output-format") => {
                run.output_format = option(parser, "--output-format", parse_format)?
            }
            Long("frames") => {
                run.frames = Some(option(parser, "--frames", |s| {
                    s.parse().map_err(|_| "expected a whole number of frames")
                })?)
            }
            Long("size") => run.size = Some(option(parser, "--size", parse_size)?),
            Long("fps") => {
                run.fps = Some(option(parser, "--fps", |s| {
                    Rate::parse(s)
                        .ok_or("expected a positive frame rate such as `30` or `30000:1001`")
                })?);
            }
            Long("set") => run.sets.push(parser.value()?.string()?),
            Long("prompt") => run.prompt = Some(parser.value()?.string()?),
            Long("control") => run.control = Some(parser.value()?),
            Long("summary-json") => run.summary_json = true,
            Long("verbose") => run.verbose = true,
            Long("quiet") => run.quiet = true,
            Long("frame-timeout") => {
                let seconds: f64 = option(parser, "--frame-timeout", |s| {
                    s.parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite() && *v >= 0.0)
                        .ok_or("expected seconds, such as `10` or `0.5` (`0`: no limit)")
                })?;
                run.frame_timeout =
                    (seconds > 0.0).then(|| std::time::Duration::from_secs_f64(seconds));
            }
            other => return Err(other.unexpected()),
        }
    }
    Ok(run)
}

impl RunArgs {
    /// Which of the plugins' log lines are shown (`--quiet`, `--verbose`).
    pub(crate) fn plugin_lines(&self) -> crate::plugin_log::Shown {
        use crate::plugin_log::Shown;
        match (self.quiet, self.verbose) {
            (true, _) => Shown::Quiet,
            (false, true) => Shown::Verbose,
            (false, false) => Shown::Normal,
        }
    }

    /// The command line that parses back to these arguments (`run …`).
    pub fn to_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["run".into()];
        let mut push = |option: &str, value: OsString| {
            args.push(option.into());
            args.push(value);
        };
        for pipeline in &self.pipelines {
            push("--pipeline", pipeline.into());
        }
        if let Some(input) = &self.input {
            push(
                "--input",
                match input {
                    Input::Path(path) => path.clone(),
                    Input::Stdin => "-".into(),
                    Input::TestSrc => "testsrc".into(),
                },
            );
        }
        let format = |f: Format| OsString::from(if f == Format::Y4m { "y4m" } else { "rgb24" });
        push("--input-format", format(self.input_format));
        push(
            "--output",
            match &self.output {
                Output::Path(path) => path.clone(),
                Output::Stdout => "-".into(),
                Output::Null => "null".into(),
            },
        );
        push("--output-format", format(self.output_format));
        if let Some(frames) = self.frames {
            push("--frames", frames.to_string().into());
        }
        if let Some((w, h)) = self.size {
            push("--size", format!("{w}x{h}").into());
        }
        if let Some(fps) = self.fps {
            push("--fps", format!("{}:{}", fps.num, fps.den).into());
        }
        for set in &self.sets {
            push("--set", set.into());
        }
        if let Some(prompt) = &self.prompt {
            push("--prompt", prompt.into());
        }
        if let Some(control) = &self.control {
            push("--control", control.clone());
        }
        if self.frame_timeout != Some(FRAME_TIMEOUT) {
            let seconds = self.frame_timeout.map_or(0.0, |t| t.as_secs_f64());
            push("--frame-timeout", seconds.to_string().into());
        }
        if self.summary_json {
            args.push("--summary-json".into());
        }
        if self.verbose {
            args.push("--verbose".into());
        }
        if self.quiet {
            args.push("--quiet".into());
        }
        args
    }
}

/// `--help` after a command: the caller prints the usage.
fn help() -> lexopt::Error {
    lexopt::Error::Custom(HELP_REQUESTED.into())
}

/// What [`help`] carries, so that `parse` can tell it from a mistake.
const HELP_REQUESTED: &str = "help requested";

/// The value of `name`, parsed, with errors that name the option.
fn option<T>(
    parser: &mut lexopt::Parser,
    name: &str,
    parse: impl FnOnce(&str) -> Result<T, &'static str>,
) -> Result<T, lexopt::Error> {
    let value = parser.value()?;
    let text = value.to_string_lossy().into_owned();
    parse(&text).map_err(|why| {
        lexopt::Error::Custom(format!("invalid value `{text}` for {name}: {why}").into())
    })
}

fn parse_format(text: &str) -> Result<Format, &'static str> {
    match text {
        "y4m" => Ok(Format::Y4m),
        "rgb24" => Ok(Format::Rgb24),
        _ => Err("expected `y4m` or `rgb24`"),
    }
}

fn parse_size(text: &str) -> Result<(u32, u32), &'static str> {
    let invalid = "expected WIDTHxHEIGHT, such as `512x512`";
    let (w, h) = text.split_once(['x', 'X']).ok_or(invalid)?;
    let (w, h): (u32, u32) = (
        w.parse().map_err(|_| invalid)?,
        h.parse().map_err(|_| invalid)?,
    );
    if w == 0 || h == 0 || w > 16384 || h > 16384 {
        return Err("width and height must be between 1 and 16384");
    }
    Ok((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &str) -> Result<Command, String> {
        parse(args.split_whitespace().map(OsString::from).collect())
    }

    #[test]
    fn parses_a_full_run() {
        let Command::Run(run) = parse_str(
            "run --pipeline a --pipeline b --input testsrc --output null --frames 3 --size 64x32 --fps 25 --set a.k=1 --set j=x --output-format rgb24",
        )
        .unwrap() else {
            panic!("not a run")
        };
        assert_eq!(run.pipelines, ["a", "b"]);
        assert_eq!(run.input, Some(Input::TestSrc));
        assert_eq!(run.output, Output::Null);
        assert_eq!(run.frames, Some(3));
        assert_eq!(run.size, Some((64, 32)));
        assert_eq!(run.fps, Some(Rate::new(25, 1)));
        assert_eq!(run.sets, ["a.k=1", "j=x"]);
        assert_eq!(run.output_format, Format::Rgb24);
    }

    #[test]
    fn run_arguments_print_back_to_what_parses_to_them() {
        let mut args: Vec<OsString> = "run --pipeline a --pipeline b --input in.y4m --output - --frames 9 --fps 25:1 --prompt hi --control /tmp/s --frame-timeout 2.5 --summary-json --verbose --quiet"
            .split(' ')
            .map(OsString::from)
            .collect();
        args.extend(["--set".into(), "a.k=some value".into()]);
        let Ok(Command::Run(run)) = parse(args) else {
            panic!("parses")
        };
        assert_eq!(run.sets, ["a.k=some value"]);
        assert_eq!(parse(run.to_args()), Ok(Command::Run(run)));
    }

    #[test]
    fn help_works_on_every_command() {
        for args in [
            "help",
            "--help",
            "run --help",
            "pipelines --help",
            "self-check -h",
            "run --pipeline x --help",
        ] {
            assert_eq!(parse_str(args), Ok(Command::Help), "{args}");
        }
    }

    #[test]
    fn a_bad_value_names_its_option() {
        assert_eq!(
            parse_str("run --size 0x0").unwrap_err(),
            "invalid value `0x0` for --size: width and height must be between 1 and 16384"
        );
        assert!(parse_str("run --frames many")
            .unwrap_err()
            .starts_with("invalid value `many` for --frames"));
    }

    #[test]
    fn refuses_bad_values_with_the_accepted_form() {
        let err = parse_str("run --size 12by4").unwrap_err();
        assert!(err.contains("WIDTHxHEIGHT"), "{err}");
        let err = parse_str("run --input-format mp4").unwrap_err();
        assert!(err.contains("`y4m` or `rgb24`"), "{err}");
        assert!(parse_str("pipelines --yaml")
            .unwrap_err()
            .contains("--yaml"));
        assert!(parse_str("launch")
            .unwrap_err()
            .contains("unknown command `launch`"));
    }
}
