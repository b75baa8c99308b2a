//! `--gate WINDOW:RULE[,RULE…]`: after every switch to another generation,
//! the supervisor watches the new host for WINDOW and compares it with the
//! generation before; when a rule fails it switches back (an automatic
//! rollback, recorded in `history` with the rule and what was measured).
//!
//! Rules: `lost=N` (frames dropped between hosts, at most N),
//! `unloaded=N` (stages whose plugin failed and now pass frames through),
//! `restarts=N` (hosts of the new generation started again), `fps>=R` (the
//! frames out over the window, at least R × the previous generation's over
//! the window before the switch).

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use super::control::Figures;

/// A health gate.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    pub window: Duration,
    pub rules: Vec<Rule>,
}

/// One rule of a gate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    Lost(u64),
    Unloaded(u64),
    Restarts(u64),
    Fps(f64),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Lost(n) => write!(f, "lost={n}"),
            Rule::Unloaded(n) => write!(f, "unloaded={n}"),
            Rule::Restarts(n) => write!(f, "restarts={n}"),
            Rule::Fps(r) => write!(f, "fps>={r}"),
        }
    }
}

impl Rule {
    /// The rule's name, for a metric's label.
    pub fn name(&self) -> &'static str {
        match self {
            Rule::Lost(_) => "lost",
            Rule::Unloaded(_) => "unloaded",
            Rule::Restarts(_) => "restarts",
            Rule::Fps(_) => "fps",
        }
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules: Vec<String> = self.rules.iter().map(ToString::to_string).collect();
        write!(f, "{}:{}", describe_window(self.window), rules.join(","))
    }
}

fn describe_window(window: Duration) -> String {
    match window.subsec_millis() {
        0 => format!("{}s", window.as_secs()),
        _ => format!("{}ms", window.as_millis()),
    }
}

/// `500ms`, `10s`, `2m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: write e.g. 500ms, 10s or 2m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" | "" => value,
        "m" => value * 60.0,
        _ => return Err(format!("`{text}`: the unit is ms, s or m")),
    };
    if !(seconds > 0.0 && seconds < 86_400.0) {
        return Err(format!("`{text}`: a duration between 1 ms and a day"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

impl FromStr for Gate {
    type Err = String;

    fn from_str(text: &str) -> Result<Gate, String> {
        const FORM: &str = "write WINDOW:RULE[,RULE…], e.g. `10s:lost=0,unloaded=0,fps>=0.9` (rules: lost=N, unloaded=N, restarts=N, fps>=R)";
        let (window, rules) = text
            .split_once(':')
            .ok_or_else(|| format!("`{text}` has no window; {FORM}"))?;
        let window = parse_duration(window)?;
        let rules = rules
            .split(',')
            .map(|rule| parse_rule(rule.trim()).map_err(|e| format!("{e}; {FORM}")))
            .collect::<Result<Vec<Rule>, String>>()?;
        Ok(Gate { window, rules })
    }
}

fn parse_rule(rule: &str) -> Result<Rule, String> {
    if let Some(ratio) = rule.strip_prefix("fps>=") {
        let ratio: f64 = ratio
            .parse()
            .ok()
            .filter(|r: &f64| r.is_finite() && *r >= 0.0)
            .ok_or_else(|| format!("`{rule}`: fps>= takes a ratio such as 0.9"))?;
        return Ok(Rule::Fps(ratio));
    }
    let (name, count) = rule
        .split_once('=')
        .ok_or_else(|| format!("`{rule}` is not a rule"))?;
    let count: u64 = count
        .parse()
        .map_err(|_| format!("`{rule}`: {name}= takes a whole number"))?;
    match name {
        "lost" => Ok(Rule::Lost(count)),
        "unloaded" => Ok(Rule::Unloaded(count)),
        "restarts" => Ok(Rule::Restarts(count)),
        _ => Err(format!("`{name}` is not a rule")),
    }
}

/// A rule that failed, and what was measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub rule: Rule,
    /// `1 (invert unloaded)`, `14.2 fps against 30.0 before (0.47×)`.
    pub measured: String,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` failed: measured {}", self.rule, self.measured)
    }
}

/// Frames out over time, to know the rate before a switch.
#[derive(Debug, Default)]
pub struct Rate {
    samples: VecDeque<(Instant, u64)>,
}

impl Rate {
    /// Records `frames` out at `now`, keeping `keep` of history.
    pub fn sample(&mut self, now: Instant, frames: u64, keep: Duration) {
        while self
            .samples
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > keep)
        {
            self.samples.pop_front();
        }
        self.samples.push_back((now, frames));
    }

    /// Frames per second over what is kept (none before half a second).
    pub fn fps(&self) -> Option<f64> {
        let (first, last) = (self.samples.front()?, self.samples.back()?);
        let seconds = last.0.duration_since(first.0).as_secs_f64();
        (seconds >= 0.5).then(|| last.1.saturating_sub(first.1) as f64 / seconds)
    }

    pub fn clear(&mut self) {
        self.samples.clear();
    }
}

/// A new generation under watch.
#[derive(Debug, Clone)]
pub struct Watch {
    pub gate: Gate,
    /// The generation switched from (what a failure goes back to).
    pub from: u64,
    /// The generation under watch.
    pub to: u64,
    pub started: Instant,
    frames_at_start: u64,
    lost_at_start: u64,
    restarts_at_start: u64,
    /// The previous generation's frames per second before the switch.
    baseline_fps: Option<f64>,
}

impl Watch {
    /// Starts watching generation `to` (switched to from `from`) with the
    /// stream as it is now.
    pub fn start(
        gate: Gate,
        from: u64,
        to: u64,
        now: &Figures,
        restarts: u64,
        baseline_fps: Option<f64>,
    ) -> Watch {
        Watch {
            gate,
            from,
            to,
            started: Instant::now(),
            frames_at_start: now.frames_out,
            lost_at_start: now.frames_lost,
            restarts_at_start: restarts,
            baseline_fps,
        }
    }

    /// Whether the window is over.
    pub fn over(&self) -> bool {
        self.started.elapsed() >= self.gate.window
    }

    /// The first rule that fails now: counts at any time, the rate once
    /// the window is over.
    pub fn check(&self, now: &Figures, restarts: u64) -> Option<Verdict> {
        for rule in &self.gate.rules {
            let failed = match *rule {
                Rule::Lost(most) => {
                    let lost = now.frames_lost.saturating_sub(self.lost_at_start);
                    (lost > most).then(|| format!("{lost} frames lost"))
                }
                Rule::Unloaded(most) => {
                    let unloaded: Vec<&str> = now
                        .stages
                        .iter()
                        .filter(|s| s.passed > 0)
                        .map(|s| s.name.as_str())
                        .collect();
                    (unloaded.len() as u64 > most)
                        .then(|| format!("{} unloaded ({})", unloaded.len(), unloaded.join(", ")))
                }
                Rule::Restarts(most) => {
                    let count = restarts.saturating_sub(self.restarts_at_start);
                    (count > most).then(|| format!("{count} restarts"))
                }
                Rule::Fps(ratio) => match (self.over(), self.baseline_fps) {
                    (true, Some(before)) if before > 0.0 => {
                        let seconds = self.started.elapsed().as_secs_f64();
                        let fps =
                            now.frames_out.saturating_sub(self.frames_at_start) as f64 / seconds;
                        (fps < ratio * before).then(|| {
                            format!(
                                "{fps:.1} fps against {before:.1} before ({:.2}×)",
                                fps / before
                            )
                        })
                    }
                    _ => None,
                },
            };
            if let Some(measured) = failed {
                return Some(Verdict {
                    rule: *rule,
                    measured,
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervise::control::StageFigures;

    #[test]
    fn the_binding_form_parses_and_prints_back() {
        let gate: Gate = "10s:lost=0,unloaded=0,fps>=0.9".parse().unwrap();
        assert_eq!(gate.window, Duration::from_secs(10));
        assert_eq!(
            gate.rules,
            [Rule::Lost(0), Rule::Unloaded(0), Rule::Fps(0.9)]
        );
        assert_eq!(gate.to_string(), "10s:lost=0,unloaded=0,fps>=0.9");
        let short: Gate = "500ms:restarts=2".parse().unwrap();
        assert_eq!(short.to_string(), "500ms:restarts=2");
    }

    #[test]
    fn bad_gates_say_the_form() {
        for (text, says) in [
            ("lost=0", "has no window"),
            ("10x:lost=0", "the unit is ms, s or m"),
            ("10s:lost", "is not a rule"),
            ("10s:speed=3", "`speed` is not a rule"),
            ("10s:fps>=fast", "fps>= takes a ratio"),
            ("10s:lost=-1", "takes a whole number"),
        ] {
            let err = text.parse::<Gate>().unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    fn figures(out: u64, lost: u64, unloaded: &[&str]) -> Figures {
        Figures {
            frames_out: out,
            frames_lost: lost,
            stages: unloaded
                .iter()
                .map(|name| StageFigures {
                    name: (*name).to_owned(),
                    passed: 3,
                    ..StageFigures::default()
                })
                .chain([StageFigures {
                    name: "fine".into(),
                    frames: 9,
                    ..StageFigures::default()
                }])
                .collect(),
            ..Figures::default()
        }
    }

    #[test]
    fn counts_fail_at_once_and_name_what_was_measured() {
        let gate: Gate = "10s:lost=0,unloaded=0,restarts=1".parse().unwrap();
        let watch = Watch::start(gate, 1, 2, &figures(100, 4, &[]), 0, Some(30.0));
        assert_eq!(watch.check(&figures(150, 4, &[]), 1), None);
        let verdict = watch.check(&figures(150, 4, &["bad-fx"]), 1).unwrap();
        assert_eq!(verdict.rule, Rule::Unloaded(0));
        assert_eq!(
            verdict.to_string(),
            "`unloaded=0` failed: measured 1 unloaded (bad-fx)"
        );
        assert_eq!(
            watch.check(&figures(150, 6, &[]), 0).unwrap().rule,
            Rule::Lost(0)
        );
        assert_eq!(
            watch.check(&figures(150, 4, &[]), 2).unwrap().rule,
            Rule::Restarts(1)
        );
    }

    #[test]
    fn the_rate_is_judged_when_the_window_is_over() {
        let gate: Gate = "1ms:fps>=0.9".parse().unwrap();
        let mut watch = Watch::start(gate, 1, 2, &figures(0, 0, &[]), 0, Some(1e9));
        std::thread::sleep(Duration::from_millis(2));
        let verdict = watch.check(&figures(10, 0, &[]), 0).unwrap();
        assert_eq!(verdict.rule, Rule::Fps(0.9));
        assert!(verdict.measured.contains("fps against"), "{verdict}");
        // Without a rate before the switch there is nothing to compare.
        watch.baseline_fps = None;
        assert_eq!(watch.check(&figures(10, 0, &[]), 0), None);
    }

    #[test]
    fn the_rate_before_comes_from_the_samples_kept() {
        let mut rate = Rate::default();
        let start = Instant::now();
        rate.sample(start, 0, Duration::from_secs(10));
        assert_eq!(rate.fps(), None);
        rate.sample(start + Duration::from_secs(2), 60, Duration::from_secs(10));
        assert_eq!(rate.fps(), Some(30.0));
        // Older samples than kept are forgotten.
        rate.sample(
            start + Duration::from_secs(11),
            600,
            Duration::from_secs(10),
        );
        assert_eq!(rate.fps(), Some(60.0), "(600 - 60) frames over 9 s");
    }
}
