//! Backfills on the command line: the data migrations the binary knows, the
//! Ctrl-C / SIGTERM handling, the progress display, and `cairn backfill status`.
//!
//! Progress goes to stderr, so stdout keeps the report: a bar with rows done
//! of the total, rows/s and ETA when stderr is a terminal (and `--format
//! text`); otherwise a plain line every few seconds and one at the end, which
//! is what a CI log or `kubectl logs` wants.

use std::io::{IsTerminal as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn::backfill::{Checkpoint, Progress, StopSignal};
use cairn::url::DatabaseUrl;
use cairn::{Driver, Migrator};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::Format;
use crate::commands::Outcome;
use crate::config::Config;
use crate::output::json_string;

/// The documented example of a data migration in Rust, shared with the
/// `us_address` example program.
#[path = "../examples/us_address/data_migration.rs"]
mod us_address;

use us_address::UsAddress;

/// How often plain progress lines are written.
const LINE_EVERY: Duration = Duration::from_secs(2);

/// Registers the data migrations written in Rust that this binary ships:
/// `us_address`, the documented example ([`us_address`], from
/// `examples/us_address/`).
pub fn register(migrator: &mut Migrator) {
    migrator.register_data_migration("us_address", UsAddress::default());
}

/// Everything `up` and `redo` need for backfills: the data migrations, a stop
/// signal wired to Ctrl-C and SIGTERM, and the progress display.
pub fn prepare(migrator: &mut Migrator, config: &Config) {
    register(migrator);
    let stop = StopSignal::new();
    watch_signals(stop.clone());
    migrator.set_stop_signal(stop);
    let bar = config.format == Format::Text && std::io::stderr().is_terminal();
    let display = Display {
        bar,
        state: Mutex::new(None),
    };
    migrator.on_progress(Arc::new(move |p: &Progress<'_>| display.show(p)));
}

/// The first signal asks backfills to stop at the next batch boundary; a
/// second one ends the process at once (the batch in flight rolls back).
fn watch_signals(stop: StopSignal) {
    tokio::spawn(async move {
        first_signal().await;
        stop.stop();
        let _ = writeln!(
            std::io::stderr(),
            "cairn: stopping after the migration, zero-downtime step or backfill batch in flight (press Ctrl-C again to stop now; what is in flight is rolled back where the engine can)"
        );
        first_signal().await;
        std::process::exit(i32::from(crate::exit::INTERRUPTED));
    });
}

#[cfg(unix)]
async fn first_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn first_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// The backfill being shown: which one, its bar, when the last line was written.
struct Shown {
    id: (i64, usize),
    bar: Option<ProgressBar>,
    last_line: Instant,
}

struct Display {
    bar: bool,
    state: Mutex<Option<Shown>>,
}

impl Display {
    fn show(&self, p: &Progress<'_>) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let c = p.checkpoint;
        if c.rows_total == 0 && c.rows_done == 0 && p.rejected.is_empty() {
            return; // nothing to backfill: no line, no bar
        }
        let id = (p.version.key(), p.step);
        if state.as_ref().is_none_or(|s| s.id != id) {
            if let Some(Shown { bar: Some(bar), .. }) = state.take() {
                bar.finish_and_clear();
            }
            *state = Some(Shown {
                id,
                bar: self.bar.then(|| new_bar(p)),
                last_line: Instant::now() - LINE_EVERY,
            });
        }
        let Some(shown) = state.as_mut() else {
            return;
        };
        match &shown.bar {
            Some(bar) => {
                bar.set_length(c.rows_total.max(c.rows_done) as u64);
                bar.set_position(c.rows_done as u64);
                for r in p.rejected {
                    bar.println(format!("rejected row ({}): {}", r.key.join(", "), r.reason));
                }
                if p.finished {
                    bar.finish_with_message("done");
                }
            }
            None => {
                let mut err = std::io::stderr().lock();
                for r in p.rejected {
                    let _ = writeln!(err, "rejected row ({}): {}", r.key.join(", "), r.reason);
                }
                if p.finished || shown.last_line.elapsed() >= LINE_EVERY {
                    shown.last_line = Instant::now();
                    let _ = writeln!(err, "{}", progress_line(p));
                }
            }
        }
    }
}

fn new_bar(p: &Progress<'_>) -> ProgressBar {
    let bar = crate::progress::bar(Some(p.checkpoint.rows_total.max(0) as u64));
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:30}] {human_pos}/{human_len} rows, {per_sec}, ETA {eta} {msg}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(format!(
        "backfill {} ({}/{}) {}",
        p.version,
        p.step + 1,
        p.steps,
        p.checkpoint.table
    ));
    bar.set_position(p.checkpoint.rows_done.max(0) as u64);
    crate::progress::show(bar)
}

/// `backfill 20260101090400 (1/1) addresses: 12000/50000 rows (24%), 8000 rows/s, ETA 4s`.
fn progress_line(p: &Progress<'_>) -> String {
    let c = p.checkpoint;
    let percent = if c.rows_total > 0 {
        c.rows_done * 100 / c.rows_total
    } else {
        100
    };
    let secs = p.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        p.rows_this_run as f64 / secs
    } else {
        0.0
    };
    let tail = if p.finished {
        format!("done in {:.1}s", secs)
    } else if rate > 0.0 {
        format!(
            "ETA {:.0}s",
            (c.rows_total - c.rows_done).max(0) as f64 / rate
        )
    } else {
        "ETA unknown".to_owned()
    };
    format!(
        "backfill {} ({}/{}) {}: {}/{} rows ({percent}%), {:.0} rows/s, {tail}",
        p.version,
        p.step + 1,
        p.steps,
        c.table,
        c.rows_done,
        c.rows_total,
        rate
    )
}

/// `cairn backfill status`: the checkpoints, read without any lock, so it
/// works from another shell while a backfill runs.
pub async fn status(
    migrator: &Migrator,
    driver: &mut dyn Driver,
    config: &Config,
    url: &DatabaseUrl,
) -> anyhow::Result<Outcome> {
    let checkpoints = migrator.backfill_status(driver).await?;
    if config.format == Format::Json {
        print(&json_string(&serde_json::json!({
            "database": url.redacted(),
            "backfills": checkpoints,
        })));
    } else {
        print(&status_text(&checkpoints, url));
    }
    Ok(Outcome::Success)
}

fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn status_text(checkpoints: &[Checkpoint], url: &DatabaseUrl) -> String {
    let mut out = format!("backfills on {}\n", url.redacted());
    if checkpoints.is_empty() {
        out.push_str("no backfill has run\n");
        return out;
    }
    for c in checkpoints {
        let percent = if c.rows_total > 0 {
            format!("{}%", c.rows_done * 100 / c.rows_total)
        } else {
            "-".to_owned()
        };
        out.push_str(&format!(
            "{} #{} {}: {} — {}/{} rows ({percent}), {} changed, {} rejected, {} batches (size {}, longest {} ms), last key {}, updated {}\n",
            c.version,
            c.step + 1,
            c.table,
            c.state,
            c.rows_done,
            c.rows_total,
            c.rows_changed,
            c.rows_rejected,
            c.batches,
            c.batch_size,
            c.longest_batch_ms,
            c.last_key
                .as_ref()
                .map_or_else(|| "-".to_owned(), |k| format!("({})", k.join(", "))),
            c.updated_at,
        ));
        if let Some(error) = &c.error {
            out.push_str(&format!("    error: {error}\n"));
        }
    }
    out
}
