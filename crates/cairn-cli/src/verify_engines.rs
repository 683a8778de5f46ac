//! `cairn verify --engines postgres,mysql,sqlite`: the same verification on a
//! disposable database of each engine (`cairn::verify::scratch`), one
//! after the other, with one report per engine. This file only reads the
//! arguments and prints; the scratch lifecycle is the core's.
//!
//! Every engine's source is checked before anything is created, so a missing
//! server fails at once and names the variable to set. An engine whose
//! database cannot be created or whose verification stops with an error does
//! not stop the others; the run then ends with exit code 1 after printing all
//! reports. Otherwise the exit code is 3 when a migration fails on any engine.

use std::fmt::Write as _;

use anyhow::bail;
use cairn::verify::{self, scratch, VerifyOptions, VerifyReport};
use cairn::{Engine, Migrator};
use serde_json::{json, Value};

use crate::args::{Format, VerifyArgs};
use crate::commands::{connect_driver, print, Outcome};
use crate::config::{Config, Env as _, ProcessEnv};
use crate::output::{self, Style};

/// What verification on one engine gave.
struct EngineRun {
    engine: Engine,
    /// The disposable database, redacted (none when it could not be created).
    database: Option<cairn::url::DatabaseUrl>,
    report: Option<VerifyReport>,
    /// Why verification on this engine did not complete.
    error: Option<String>,
}

impl EngineRun {
    fn failed(&self) -> bool {
        self.report.as_ref().is_some_and(VerifyReport::has_failures)
    }

    /// The error, or the migration verification stopped at.
    fn error(&self) -> Option<String> {
        if let Some(error) = &self.error {
            return Some(error.clone());
        }
        let stopped = self.report.as_ref()?.error()?;
        Some(format!(
            "verification stopped at migration {} ({}): {}",
            stopped.version,
            stopped.name,
            stopped.error.as_deref().unwrap_or("it failed")
        ))
    }
}

/// Runs `cairn verify --engines ...`.
pub async fn run(
    config: &Config,
    migrator: &Migrator,
    args: &VerifyArgs,
) -> anyhow::Result<Outcome> {
    let sources = scratch::sources(&args.engines, &|key| ProcessEnv.var(key))?;
    let options = VerifyOptions {
        from: args.from,
        to: args.to,
        seed_data: args.seed_data,
        ignore_column_order: args.ignore_column_order,
    };
    let mut runs = Vec::new();
    for (engine, source) in &sources {
        runs.push(on_engine(*engine, source, migrator, &options, config.format).await);
    }
    let style = Style::new(config.color);
    if config.format == Format::Json {
        print(&output::json_string(&json_report(&runs)));
    } else {
        print(&text_report(&runs, style));
    }
    let errors: Vec<String> = runs
        .iter()
        .filter_map(|run| run.error().map(|e| format!("{}: {e}", run.engine)))
        .collect();
    if !errors.is_empty() {
        bail!("verification did not complete on {}", errors.join("; "));
    }
    Ok(if runs.iter().any(EngineRun::failed) {
        Outcome::ProblemsFound
    } else {
        Outcome::Success
    })
}

/// Verifies on a disposable database of `engine`, made and removed by the core.
async fn on_engine(
    engine: Engine,
    source: &scratch::Source,
    migrator: &Migrator,
    options: &VerifyOptions,
    format: Format,
) -> EngineRun {
    let mut progress = crate::progress::verify_printer(format);
    let run = verify::verify_on_scratch(
        migrator,
        engine,
        source,
        options,
        &connect_driver,
        &mut progress,
    )
    .await;
    let message = |error: cairn::Error| crate::exit::message(&error.into());
    let (report, mut error) = match run.outcome {
        Ok(report) => (Some(report), None),
        Err(error) => (None, Some(message(error))),
    };
    if let Some(removal) = run.removal {
        let removal = message(removal);
        error = Some(match error.take() {
            Some(first) => format!("{first}; then {removal}"),
            None => removal,
        });
    }
    EngineRun {
        engine,
        database: run.database,
        report,
        error,
    }
}

fn text_report(runs: &[EngineRun], style: Style) -> String {
    let mut out = String::new();
    let mut summary = Vec::new();
    for run in runs {
        let _ = writeln!(out, "{}", style.bold(&format!("== {}", run.engine)));
        if let (Some(report), Some(url)) = (&run.report, &run.database) {
            out.push_str(&output::verify_text(report, url, style));
        }
        if let Some(error) = &run.error {
            let _ = writeln!(out, "{}: {error}", style.red("ERROR"));
        }
        let verdict = if run.error().is_some() {
            style.red("error")
        } else if run.failed() {
            style.red("FAILED")
        } else {
            style.green("ok")
        };
        summary.push(format!("{} {verdict}", run.engine));
    }
    let _ = writeln!(out, "engines: {}", summary.join(", "));
    out
}

fn json_report(runs: &[EngineRun]) -> Value {
    let engines: Vec<Value> = runs
        .iter()
        .map(|run| {
            json!({
                "engine": run.engine,
                "database": run.database.as_ref().map(ToString::to_string),
                "ok": run.error().is_none() && !run.failed(),
                "report": run.report,
                "error": run.error(),
            })
        })
        .collect();
    json!({
        "ok": runs.iter().all(|run| run.error().is_none() && !run.failed()),
        "engines": engines,
    })
}
