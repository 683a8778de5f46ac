//! Progress of runs that can take a while: applying or rolling back many
//! migrations, and `cairn verify`. (Backfills have their own display, with
//! rows and rates: [`crate::backfill`].)
//!
//! Everything goes to stderr, so stdout keeps the report:
//! - stderr is a terminal and the format is text: a bar (indicatif) that is
//!   cleared before the report is printed;
//! - stderr is not a terminal (CI, `kubectl logs`): plain lines, and only for
//!   a run that has already taken [`LINE_EVERY`], then at most one per
//!   [`LINE_EVERY`] — a quick run writes nothing; a heartbeat thread
//!   repeats the line of a long migration;
//! - `--format json`: nothing.

use std::io::Write as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};

use crate::args::Format;

/// How often plain lines are written, and how long a run goes on before the
/// first: 2 s, or `CAIRN_PROGRESS_INTERVAL` (a duration; `0s` writes a line
/// for every step, which is what the tests use).
pub const LINE_EVERY: Duration = Duration::from_secs(2);

/// [`LINE_EVERY`], or `CAIRN_PROGRESS_INTERVAL`.
fn line_every() -> Duration {
    let Some(text) = std::env::var("CAIRN_PROGRESS_INTERVAL")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        return LINE_EVERY;
    };
    cairn::directive::parse_duration(&text).unwrap_or_else(|| {
        tracing::warn!(
            value = %text,
            "CAIRN_PROGRESS_INTERVAL is not a duration (such as \"5s\"): using 2s"
        );
        LINE_EVERY
    })
}

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A bar on stderr.
    Bar,
    /// Plain lines on stderr, for long runs only.
    Lines,
    /// Nothing (`--format json`).
    Quiet,
}

impl Mode {
    /// The mode for `format` when stderr `is_terminal` or not.
    pub fn new(format: Format, stderr_is_terminal: bool) -> Mode {
        match format {
            Format::Json | Format::Sql => Mode::Quiet,
            Format::Text if stderr_is_terminal => Mode::Bar,
            Format::Text => Mode::Lines,
        }
    }

    /// The mode for `format` and this process's stderr.
    pub fn detect(format: Format) -> Mode {
        use std::io::IsTerminal as _;
        Mode::new(format, std::io::stderr().is_terminal())
    }
}

/// One step of a run: `verb index/total version name`.
#[derive(Clone, Copy, Debug)]
pub struct Step<'a> {
    /// `applying`, `rolling back`, `verifying`.
    pub verb: &'a str,
    /// From 1.
    pub index: usize,
    /// How many.
    pub total: usize,
    /// The migration.
    pub version: cairn::Version,
    /// Its name.
    pub name: &'a str,
}

/// Where plain lines go (stderr; a test collects them).
type Sink = Arc<dyn Fn(&str) + Send + Sync>;

/// The progress of one run, shared with the migrator's hooks.
pub struct Progress {
    mode: Mode,
    state: Arc<Mutex<State>>,
    sink: Sink,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct State {
    every: Duration,
    started: Instant,
    last_line: Option<Instant>,
    bar: Option<ProgressBar>,
    /// The step under way, for the heartbeat lines of a long one.
    current: Option<OwnedStep>,
    /// Whether the heartbeat thread runs.
    ticking: bool,
    /// Set by [`Progress::finish`]: nothing more is written.
    finished: bool,
}

#[derive(Clone, Debug)]
struct OwnedStep {
    verb: String,
    index: usize,
    total: usize,
    version: cairn::Version,
    name: String,
}

impl OwnedStep {
    fn of(step: &Step<'_>) -> OwnedStep {
        OwnedStep {
            verb: step.verb.to_owned(),
            index: step.index,
            total: step.total,
            version: step.version,
            name: step.name.to_owned(),
        }
    }

    fn step(&self) -> Step<'_> {
        Step {
            verb: &self.verb,
            index: self.index,
            total: self.total,
            version: self.version,
            name: &self.name,
        }
    }
}

impl Progress {
    /// A display in `mode`, its clock started now.
    pub fn new(mode: Mode) -> Arc<Progress> {
        Progress::with(
            mode,
            line_every(),
            Arc::new(|line: &str| {
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            }),
        )
    }

    fn with(mode: Mode, every: Duration, sink: Sink) -> Arc<Progress> {
        Arc::new(Progress {
            mode,
            state: Arc::new(Mutex::new(State {
                every,
                started: Instant::now(),
                last_line: None,
                bar: None,
                current: None,
                ticking: false,
                finished: false,
            })),
            sink,
        })
    }

    /// Shows that `step` starts.
    pub fn step(&self, step: &Step<'_>) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.finished {
            return;
        }
        match self.mode {
            Mode::Quiet => {}
            Mode::Bar => {
                let bar = state.bar.get_or_insert_with(|| new_bar(step));
                bar.set_length(step.total as u64);
                bar.set_position(step.index.saturating_sub(1) as u64);
                bar.set_prefix(step.verb.to_owned());
                bar.set_message(format!("{} {}", step.version, step.name));
            }
            Mode::Lines => {
                state.current = Some(OwnedStep::of(step));
                if let Some(line) = state.line(step, Instant::now()) {
                    (self.sink)(&line);
                }
                if !state.ticking {
                    state.ticking = true;
                    self.heartbeat();
                }
            }
        }
    }

    /// A thread that repeats the line of the step under way once it is due,
    /// so that one long migration (an index build) still shows in a log.
    fn heartbeat(&self) {
        let state = Arc::clone(&self.state);
        let sink = Arc::clone(&self.sink);
        let spawned = std::thread::Builder::new()
            .name("cairn-progress".to_owned())
            .spawn(move || loop {
                let pause = match state.lock() {
                    Ok(s) => s.every.max(Duration::from_millis(100)),
                    Err(_) => return,
                };
                std::thread::sleep(pause);
                let Ok(mut s) = state.lock() else {
                    return;
                };
                if s.finished {
                    return;
                }
                if let Some(current) = s.current.clone() {
                    if let Some(line) = s.line(&current.step(), Instant::now()) {
                        sink(&line);
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::debug!(error = %e, "no progress heartbeat");
        }
    }

    /// Clears the bar and stops the lines, before the report is printed.
    pub fn finish(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.finished = true;
            if let Some(bar) = state.bar.take() {
                bar.finish_and_clear();
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

impl State {
    /// The plain line for `step` at `now`, if one is due.
    fn line(&mut self, step: &Step<'_>, now: Instant) -> Option<String> {
        let elapsed = now.saturating_duration_since(self.started);
        let due = elapsed >= self.every
            && self
                .last_line
                .is_none_or(|last| now.saturating_duration_since(last) >= self.every);
        if !due {
            return None;
        }
        self.last_line = Some(now);
        Some(format!(
            "{} {}/{} {} {} ({}s so far)",
            step.verb,
            step.index,
            step.total,
            step.version,
            step.name,
            elapsed.as_secs()
        ))
    }
}

/// Every bar of the process, drawn together on stderr: a backfill's bar
/// appears under the bar of the migration it belongs to.
fn bars() -> &'static MultiProgress {
    static BARS: OnceLock<MultiProgress> = OnceLock::new();
    BARS.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
}

/// A bar of `len`, not drawn until [`show`]n: set its style first, so
/// that its first frame is already the right one.
pub fn bar(len: Option<u64>) -> ProgressBar {
    ProgressBar::with_draw_target(len, ProgressDrawTarget::hidden())
}

/// Draws `bar` on stderr with the others (see [`bars`]).
pub fn show(bar: ProgressBar) -> ProgressBar {
    bars().add(bar)
}

fn new_bar(step: &Step<'_>) -> ProgressBar {
    let bar = bar(Some(step.total as u64)).with_finish(ProgressFinish::AndClear);
    let style =
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {elapsed:>3} {wide_msg}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(step.verb.to_owned());
    bar.set_message(format!("{} {}", step.version, step.name));
    bar.set_position(step.index.saturating_sub(1) as u64);
    let bar = show(bar);
    // The elapsed time keeps moving during one long migration.
    bar.enable_steady_tick(Duration::from_millis(500));
    bar
}

/// Shows the migrations of `up`, `down` and `redo` as they start.
pub fn attach(migrator: &mut cairn::Migrator, progress: &Arc<Progress>) {
    let progress = Arc::clone(progress);
    migrator.on_step(Arc::new(move |s: &cairn::migrator::StepStart<'_>| {
        progress.step(&Step {
            verb: match s.direction {
                cairn::Direction::Up => "applying",
                cairn::Direction::Down => "rolling back",
            },
            index: s.index,
            total: s.total,
            version: s.version,
            name: s.name,
        });
    }));
}

/// Shows `cairn verify`'s progress.
pub fn verify_printer(format: Format) -> impl FnMut(cairn::verify::VerifyEvent) {
    let progress = Progress::new(Mode::detect(format));
    move |event| {
        if let cairn::verify::VerifyEvent::Verifying {
            index,
            total,
            version,
            name,
        } = event
        {
            progress.step(&Step {
                verb: "verifying",
                index,
                total,
                version,
                name: &name,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(index: usize) -> Step<'static> {
        Step {
            verb: "applying",
            index,
            total: 40,
            version: (20260101000000 + index as i64).into(),
            name: "add_users",
        }
    }

    #[test]
    fn the_mode_follows_the_format_and_the_terminal() {
        assert_eq!(Mode::new(Format::Text, true), Mode::Bar);
        assert_eq!(Mode::new(Format::Text, false), Mode::Lines);
        assert_eq!(Mode::new(Format::Json, true), Mode::Quiet);
        assert_eq!(Mode::new(Format::Json, false), Mode::Quiet);
    }

    #[test]
    fn plain_lines_only_for_a_long_run_and_at_most_one_per_interval() {
        let start = Instant::now();
        let mut state = State {
            every: LINE_EVERY,
            started: start,
            last_line: None,
            bar: None,
            current: None,
            ticking: false,
            finished: false,
        };
        let at = |ms: u64| start + Duration::from_millis(ms);
        assert_eq!(
            state.line(&step(1), at(0)),
            None,
            "a quick run says nothing"
        );
        assert_eq!(state.line(&step(2), at(1_900)), None);
        assert_eq!(
            state.line(&step(3), at(2_100)).as_deref(),
            Some("applying 3/40 20260101000003 add_users (2s so far)")
        );
        assert_eq!(state.line(&step(4), at(3_000)), None, "throttled");
        assert_eq!(
            state.line(&step(5), at(4_200)).as_deref(),
            Some("applying 5/40 20260101000005 add_users (4s so far)")
        );
    }

    #[test]
    fn a_long_step_keeps_writing_lines_until_the_run_finishes() {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&lines);
        let progress = Progress::with(
            Mode::Lines,
            Duration::from_millis(10),
            Arc::new(move |line: &str| sink.lock().unwrap().push(line.to_owned())),
        );
        progress.step(&step(1));
        // The heartbeat wakes every 100 ms; give it a few chances.
        let deadline = Instant::now() + Duration::from_secs(30);
        while lines.lock().unwrap().len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        progress.finish();
        let written = lines.lock().unwrap().clone();
        assert!(written.len() >= 2, "{written:?}");
        assert!(
            written
                .iter()
                .all(|l| l.starts_with("applying 1/40 20260101000001 add_users (")),
            "{written:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            lines.lock().unwrap().len(),
            written.len(),
            "nothing after finish"
        );
        progress.step(&step(2));
        assert_eq!(lines.lock().unwrap().len(), written.len());
    }

    #[test]
    fn quiet_and_lines_never_make_a_bar() {
        for mode in [Mode::Quiet, Mode::Lines] {
            let progress = Progress::new(mode);
            progress.step(&step(1));
            assert!(progress.state.lock().unwrap().bar.is_none(), "{mode:?}");
        }
        let progress = Progress::new(Mode::Bar);
        progress.step(&step(1));
        assert!(progress.state.lock().unwrap().bar.is_some());
        progress.finish();
        assert!(progress.state.lock().unwrap().bar.is_none());
    }
}
