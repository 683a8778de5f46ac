//! How reports look: text for people (coloured only on a terminal without
//! `NO_COLOR`) and JSON for programs.
//!
//! Every function here is pure: it turns a core report into a `String` or a
//! JSON value, and the commands print it. URLs are only ever shown redacted.

use std::fmt::Write as _;

use cairn::migrator::{Applied, ExpandedMigration, PlannedMigration, RepairAction, StatusReport};
use cairn::operation::Phase;
use cairn::schema::Difference;
use cairn::url::DatabaseUrl;
use cairn::verify::{Outcome as VerifyOutcome, Stage, VerifyReport};
use cairn::{Direction, HistoryState, Problem, RunReport, State};
use serde_json::{json, Value};

/// ANSI colours, or none.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    color: bool,
}

impl Style {
    /// Colours if `color`, plain text otherwise.
    pub fn new(color: bool) -> Self {
        Style { color }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Success.
    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Attention.
    pub fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }

    /// Trouble.
    pub fn red(self, text: &str) -> String {
        self.paint("31", text)
    }

    /// Headings.
    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    /// Secondary information.
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Pads `text` to `width` and then colours it, so columns line up with colours on.
fn cell(text: &str, width: usize, paint: impl Fn(&str) -> String) -> String {
    let padding = width.saturating_sub(text.chars().count());
    format!("{}{}", paint(text), " ".repeat(padding))
}

/// The zero-downtime states, between expand and contract: in progress, not trouble.
const PHASE_STATES: [&str; 6] = [
    "expanding",
    "expanded",
    "contracting",
    "aborting",
    "uncontracting",
    "backfilling",
];

fn paint_state(style: Style, state: State) -> impl Fn(&str) -> String {
    move |text: &str| match state {
        State::Applied => style.green(text),
        State::Pending => style.yellow(text),
        State::Baselined | State::Baseline => style.dim(text),
        State::Backfilling => style.yellow(text),
        _ if PHASE_STATES.contains(&state.as_str()) => style.yellow(text),
        _ => style.red(text),
    }
}

/// What a command asked for, for the words of its report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asked {
    /// `up` (and `redo`).
    Up,
    /// `down`.
    Down,
    /// `contract`.
    Contract,
    /// `abort`.
    Abort,
}

impl Asked {
    /// The subcommand (`cairn <command>`).
    pub fn command(self) -> &'static str {
        match self {
            Asked::Up => "up",
            Asked::Down => "down",
            Asked::Contract => "contract",
            Asked::Abort => "abort",
        }
    }

    fn nothing(self) -> &'static str {
        match self {
            Asked::Up => "nothing to apply: the database is up to date",
            Asked::Down => "nothing to roll back",
            Asked::Contract => "nothing to contract: no migration is expanded",
            Asked::Abort => "nothing to abort: no migration is expanding or expanded",
        }
    }
}

impl From<Direction> for Asked {
    fn from(direction: Direction) -> Self {
        match direction {
            Direction::Up => Asked::Up,
            Direction::Down => Asked::Down,
        }
    }
}

/// The columns (or other objects) `names` as a list in a sentence.
fn listed(names: &[String]) -> String {
    if names.is_empty() {
        "none of the columns it changes".to_owned()
    } else {
        names.join(", ")
    }
}

/// What to do after a run or in `status` for one migration in a
/// zero-downtime phase: for an expanded one, deploy then contract (or abort);
/// otherwise what the migrator says.
pub fn next_step(m: &ExpandedMigration) -> String {
    if m.state == HistoryState::Expanded {
        let uses = if m.versions.new.is_empty() {
            String::new()
        } else {
            format!(" (it uses {})", m.versions.new.join(", "))
        };
        format!(
            "deploy the new application version{uses}, then run `cairn contract {v}`; `cairn abort {v}` undoes the expand",
            v = m.version
        )
    } else {
        m.next.clone()
    }
}

/// The migrations in a zero-downtime phase: state, what each application
/// version may use, and the next command.
pub fn expanded_text(expanded: &[ExpandedMigration], style: Style) -> String {
    let mut out = String::new();
    for m in expanded {
        let _ = writeln!(
            out,
            "{} {} {} is {}",
            style.bold("zero-downtime:"),
            m.version,
            m.name,
            style.yellow(m.state.as_str())
        );
        let _ = writeln!(
            out,
            "  the old application version may use: {}",
            listed(&m.versions.old)
        );
        let _ = writeln!(
            out,
            "  the new application version may use: {}",
            listed(&m.versions.new)
        );
        let _ = writeln!(out, "  next: {}", next_step(m));
    }
    out
}

/// The migrations in a zero-downtime phase as JSON: the core's fields, with
/// `next` the sentence the text output shows.
pub fn expanded_json(expanded: &[ExpandedMigration]) -> Value {
    Value::Array(
        expanded
            .iter()
            .map(|m| {
                let mut value = serde_json::to_value(m).unwrap_or(Value::Null);
                if let Value::Object(map) = &mut value {
                    map.insert("next".to_owned(), Value::String(next_step(m)));
                }
                value
            })
            .collect(),
    )
}

/// `cairn status` as text: a table, a summary line and the problems.
pub fn status_text(
    report: &StatusReport,
    url: &DatabaseUrl,
    migrations_dir: &str,
    style: Style,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "database: {url} ({})", report.engine);
    if report.migrations.is_empty() {
        let _ = writeln!(
            out,
            "no migrations in `{migrations_dir}`: create one with `cairn new <name>`"
        );
    } else {
        let rows: Vec<[String; 4]> = report
            .migrations
            .iter()
            .map(|m| {
                [
                    m.version.to_string(),
                    m.name.clone(),
                    m.state.as_str().to_owned(),
                    m.applied_at.clone().unwrap_or_else(|| "-".to_owned()),
                ]
            })
            .collect();
        let headers = ["VERSION", "NAME", "STATE", "APPLIED AT"];
        let mut widths = headers.map(str::len);
        for row in &rows {
            for (width, value) in widths.iter_mut().zip(row) {
                *width = (*width).max(value.chars().count());
            }
        }
        let header: Vec<String> = headers
            .iter()
            .zip(widths)
            .map(|(h, w)| cell(h, w, |t| style.bold(t)))
            .collect();
        let _ = writeln!(out, "{}", header.join("  ").trim_end());
        for (row, entry) in rows.iter().zip(&report.migrations) {
            let line = [
                cell(&row[0], widths[0], str::to_owned),
                cell(&row[1], widths[1], str::to_owned),
                cell(&row[2], widths[2], paint_state(style, entry.state)),
                row[3].clone(),
            ];
            let _ = writeln!(out, "{}", line.join("  "));
        }
        let mut counts: Vec<(State, usize)> = Vec::new();
        for entry in &report.migrations {
            match counts.iter_mut().find(|(state, _)| *state == entry.state) {
                Some((_, n)) => *n += 1,
                None => counts.push((entry.state, 1)),
            }
        }
        let summary: Vec<String> = counts
            .iter()
            .map(|(state, n)| format!("{n} {}", state.as_str()))
            .collect();
        let _ = writeln!(out, "\n{}", summary.join(", "));
    }
    if !report.expanded.is_empty() {
        out.push('\n');
        out.push_str(&expanded_text(&report.expanded, style));
    }
    if !report.problems.is_empty() {
        out.push('\n');
        out.push_str(&problems_text(&report.problems, style));
    }
    out
}

/// `cairn status` as one JSON object.
pub fn status_json(report: &StatusReport, url: &DatabaseUrl) -> Value {
    json!({
        "engine": report.engine,
        "database": url.redacted(),
        "migrations": report.migrations,
        "problems": problems_json(&report.problems),
        "expanded": expanded_json(&report.expanded),
    })
}

/// Problems as a list, each with what to do.
pub fn problems_text(problems: &[Problem], style: Style) -> String {
    let mut out = style.red(&format!(
        "{} found:",
        plural(problems.len(), "problem", "problems")
    ));
    out.push('\n');
    for problem in problems {
        let _ = writeln!(out, "  - {problem}");
    }
    out
}

/// Problems as JSON: the core's fields plus the `message` a person would read.
pub fn problems_json(problems: &[Problem]) -> Value {
    Value::Array(
        problems
            .iter()
            .map(|problem| {
                let mut value = serde_json::to_value(problem).unwrap_or(Value::Null);
                if let Value::Object(map) = &mut value {
                    map.insert("message".to_owned(), Value::String(problem.to_string()));
                }
                value
            })
            .collect(),
    )
}

/// What a run did to a migration, as a past participle.
fn done(applied: &Applied) -> &'static str {
    match (applied.phase, applied.direction) {
        (Some(Phase::Expand), _) => "expanded",
        (Some(Phase::Contract), _) => "contracted",
        (Some(Phase::Abort), _) => "aborted",
        (Some(Phase::Uncontract), _) => "un-contracted",
        (None, Direction::Up) => "applied",
        (None, Direction::Down) => "rolled back",
    }
}

/// What a zero-downtime phase left, said under its line.
fn phase_note(applied: &Applied) -> Option<String> {
    let v = applied.version;
    match applied.phase? {
        Phase::Uncontract => Some(format!(
            "back to expanded: the old structure is restored and kept in sync, so the old application version may be deployed again; `cairn down` again (or `cairn abort {v}`) undoes the expand"
        )),
        Phase::Abort => Some(
            "the expand is undone: rows written meanwhile by either application version are kept, in the old shape".to_owned(),
        ),
        Phase::Expand | Phase::Contract => None,
    }
}

fn applied_line(applied: &Applied, style: Style) -> String {
    let painted = if applied.skipped {
        style.dim("skipped")
    } else {
        match done(applied) {
            word @ ("rolled back" | "aborted" | "un-contracted") => style.yellow(word),
            word => style.green(word),
        }
    };
    let detail = if applied.skipped {
        "another runner did it first".to_owned()
    } else {
        format!(
            "{} ms, {}{}{}",
            applied.duration_ms,
            plural(applied.statements, "statement", "statements"),
            if applied.transactional {
                ""
            } else {
                ", outside a transaction"
            },
            applied
                .backfilled
                .map(|rows| format!(", backfilled {}", plural(rows as usize, "row", "rows")))
                .unwrap_or_default()
        )
    };
    let recovered = applied
        .recovered
        .iter()
        .cloned()
        .chain(phase_note(applied))
        .map(|note| format!("\n  {note}"))
        .collect::<String>();
    format!(
        "{painted} {} {} ({detail}){recovered}",
        applied.version, applied.name
    )
}

/// What a run did, one line per migration, then a summary.
/// `asked` says what was asked, for the "nothing to do" line.
pub fn run_text(report: &RunReport, asked: impl Into<Asked>, style: Style) -> String {
    let mut out = String::new();
    for applied in &report.migrations {
        let _ = writeln!(out, "{}", applied_line(applied, style));
    }
    let mut summary = Vec::new();
    for word in [
        "rolled back",
        "aborted",
        "un-contracted",
        "applied",
        "expanded",
        "contracted",
    ] {
        let n = report
            .migrations
            .iter()
            .filter(|m| !m.skipped && done(m) == word)
            .count();
        if n > 0 {
            summary.push(format!("{} {word}", plural(n, "migration", "migrations")));
        }
    }
    if summary.is_empty() {
        let _ = writeln!(out, "{}", asked.into().nothing());
    } else {
        let _ = writeln!(out, "{}", summary.join(", "));
    }
    out
}

/// What a run did, as JSON; `error` is the message of a failed run;
/// `expanded` the migrations the run left in a zero-downtime phase.
pub fn run_json(report: &RunReport, error: Option<&str>, expanded: &[ExpandedMigration]) -> Value {
    let mut value = serde_json::to_value(report).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("ok".to_owned(), Value::Bool(error.is_none()));
        // The core's `held` is the first of `expanded`, which has the shape of `status`'s.
        map.remove("held");
        map.insert("expanded".to_owned(), expanded_json(expanded));
        if let Some(error) = error {
            map.insert("error".to_owned(), Value::String(error.to_owned()));
        }
    }
    value
}

fn terminated(sql: &str) -> String {
    let sql = sql.trim_end();
    if sql.ends_with(';') {
        sql.to_owned()
    } else {
        format!("{sql};")
    }
}

/// A dry run: the exact SQL each migration would send, with its origin.
pub fn plan_text(planned: &[PlannedMigration], asked: impl Into<Asked>) -> String {
    let asked = asked.into();
    if planned.is_empty() {
        return format!("-- {}\n", asked.nothing());
    }
    let mut out = String::new();
    let _ = writeln!(out, "-- dry run: nothing was changed");
    for m in planned {
        let _ = writeln!(
            out,
            "\n-- {} {} {}{}",
            m.phase.map_or(m.direction.as_str(), |phase| phase.as_str()),
            m.version,
            m.name,
            if m.transactional {
                ""
            } else {
                " (outside a transaction)"
            }
        );
        if m.transactional {
            let _ = writeln!(out, "BEGIN;");
        }
        for statement in &m.statements {
            let _ = writeln!(out, "-- {} {} ({})", m.version, m.name, statement.location);
            let _ = writeln!(out, "{}", terminated(&statement.sql));
        }
        let _ = writeln!(out, "-- {} {}: Cairn's history", m.version, m.name);
        for statement in &m.history {
            let _ = writeln!(out, "{}", terminated(statement));
        }
        if m.transactional {
            let _ = writeln!(out, "COMMIT;");
        }
    }
    out
}

/// A dry run as JSON; `contract` and `abort` say which phase it is.
pub fn plan_json(planned: &[PlannedMigration], asked: Asked) -> Value {
    match asked {
        Asked::Contract | Asked::Abort => {
            json!({ "dry_run": true, "phase": asked.command(), "migrations": planned })
        }
        Asked::Up | Asked::Down => json!({ "dry_run": true, "migrations": planned }),
    }
}

/// What `repair` did.
pub fn repair_text(actions: &[RepairAction], style: Style) -> String {
    if actions.is_empty() {
        return "nothing to repair\n".to_owned();
    }
    let mut out = String::new();
    for action in actions {
        let _ = writeln!(
            out,
            "{} {} {}: {}",
            style.green("repaired"),
            action.version,
            action.name,
            action.action
        );
    }
    out
}

/// `cairn adopt` as text: a summary, then one line per Cairn version with
/// what it maps to and how its checksum was checked.
pub fn adopt_text(report: &cairn::adopt::AdoptReport, style: Style) -> String {
    use cairn::adopt::{AdoptAction, ChecksumCheck};
    let mut out = String::new();
    let new = report
        .entries
        .iter()
        .filter(|e| e.action == AdoptAction::Record)
        .count();
    let kept = report.entries.len() - new;
    let verb = if report.dry_run {
        "would record"
    } else {
        "recorded"
    };
    let _ = writeln!(
        out,
        "{} from {} (table {}) on {}: {verb} {}, {} already in Cairn's history{}",
        style.bold("adopt"),
        report.tool,
        report.table,
        report.engine,
        plural(new, "migration", "migrations"),
        kept,
        if report.dry_run {
            "; dry run: nothing was changed"
        } else {
            ""
        }
    );
    for entry in &report.entries {
        let state = match (entry.state, entry.kind) {
            (cairn::HistoryState::Failed, _) => {
                style.red("failed (run `cairn repair` after review)")
            }
            (_, cairn::history::HistoryKind::Baseline) => style.dim("baseline"),
            _ => style.green("applied"),
        };
        let check = match entry.checksum {
            ChecksumCheck::Verified(algorithm) => format!("{algorithm} verified"),
            ChecksumCheck::NotKept => "no checksum kept".to_owned(),
            ChecksumCheck::NoFile => "code: no file".to_owned(),
        };
        let action = match entry.action {
            AdoptAction::Record => "",
            AdoptAction::AlreadyRecorded => " (already in Cairn's history: left as it is)",
        };
        let file = entry
            .file
            .as_ref()
            .map(|f| format!(" {}", f.display()))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} {} <- {}: {state}, {check}{file}{action}",
            entry.version, entry.name, entry.foreign
        );
    }
    for skipped in &report.skipped {
        let _ = writeln!(
            out,
            "  {} {}: {}",
            style.dim("skipped"),
            skipped.key,
            skipped.reason
        );
    }
    out
}

/// `cairn verify` as text: one line per migration, the differences indented
/// under a failed one, then a summary.
pub fn verify_text(report: &VerifyReport, url: &DatabaseUrl, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "verifying {} on {url}",
        plural(
            report.migrations.len() + report.unchecked.len(),
            "migration",
            "migrations"
        )
    );
    if !report.applied_before.is_empty() {
        let _ = writeln!(
            out,
            "{} applied first without checks",
            plural(
                report.applied_before.len(),
                "older migration",
                "older migrations"
            )
        );
    }
    let (mut ok, mut failed, mut irreversible) = (0, 0, 0);
    for m in &report.migrations {
        let label = match m.outcome {
            VerifyOutcome::Ok => {
                ok += 1;
                style.green("ok")
            }
            VerifyOutcome::RollbackDiffers
            | VerifyOutcome::ReapplyDiffers
            | VerifyOutcome::RowsDiffer => {
                failed += 1;
                style.red("FAILED")
            }
            VerifyOutcome::Irreversible => {
                irreversible += 1;
                style.yellow("irreversible")
            }
            VerifyOutcome::Error => style.red("ERROR"),
        };
        let _ = write!(out, "{label} {} {}", m.version, m.name);
        match m.outcome {
            VerifyOutcome::Ok => out.push('\n'),
            VerifyOutcome::RowsDiffer => out.push('\n'),
            VerifyOutcome::Irreversible => {
                out.push_str(": no down script on this engine, left applied\n");
            }
            VerifyOutcome::Error => {
                let _ = writeln!(out, ": {}", m.error.as_deref().unwrap_or("failed"));
            }
            VerifyOutcome::RollbackDiffers | VerifyOutcome::ReapplyDiffers => {
                out.push('\n');
                for stage in [Stage::Rollback, Stage::Reapply] {
                    let findings: Vec<_> =
                        m.differences.iter().filter(|f| f.stage == stage).collect();
                    if findings.is_empty() {
                        continue;
                    }
                    let _ = writeln!(
                        out,
                        "  {}",
                        match stage {
                            Stage::Rollback => "after down, the schema differs from before up:",
                            Stage::Reapply =>
                                "after up again, the schema differs from after the first up:",
                        }
                    );
                    for finding in findings {
                        // A definition's line diff goes on below, indented with it.
                        let _ = writeln!(out, "    {}", finding.message.replace('\n', "\n    "));
                    }
                }
                if let Some(error) = &m.error {
                    for (i, line) in error.lines().enumerate() {
                        let _ = writeln!(out, "{}{line}", if i == 0 { "  " } else { "    " });
                    }
                }
            }
        }
        if !m.rows.is_empty() {
            out.push_str(
                "  after down and up again, rows of tables that were there before differ:\n",
            );
            for finding in &m.rows {
                let _ = writeln!(out, "    {}", finding.message);
            }
        }
        for skipped in &m.not_seeded {
            let _ = writeln!(
                out,
                "  {} table `{}` not seeded (its rows are not checked): {}",
                style.dim("note:"),
                skipped.table,
                skipped.reason
            );
        }
    }
    if !report.unchecked.is_empty() {
        let _ = writeln!(
            out,
            "{}: verification stopped, {} not checked: {}",
            style.yellow("unchecked"),
            plural(report.unchecked.len(), "migration", "migrations"),
            report
                .unchecked
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut summary = vec![format!("{ok} ok"), format!("{failed} failed")];
    if irreversible > 0 {
        summary.push(format!("{irreversible} irreversible"));
    }
    let _ = writeln!(out, "{}", summary.join(", "));
    out
}

/// `cairn verify` as JSON: the report, with `ok` false when a migration failed.
pub fn verify_json(report: &VerifyReport, url: &DatabaseUrl) -> Value {
    json!({
        "ok": !report.has_failures() && report.error().is_none(),
        "database": url.to_string(),
        "report": report,
    })
}

/// `cairn drift` as text: the differences from what the migrations produce
/// to the live database.
pub fn drift_text(differences: &[Difference], url: &DatabaseUrl, style: Style) -> String {
    if differences.is_empty() {
        return format!(
            "{}: {url} matches what the migrations produce\n",
            style.green("no drift")
        );
    }
    let mut out = format!(
        "{}: {} between what the migrations produce and {url} (added = only in the live database):\n",
        style.red("drift"),
        plural(differences.len(), "difference", "differences")
    );
    for d in differences {
        let _ = writeln!(out, "  {}", d.to_string().replace('\n', "\n  "));
    }
    out
}

/// `cairn drift` as JSON.
pub fn drift_json(differences: &[Difference], url: &DatabaseUrl) -> Value {
    let items: Vec<Value> = differences
        .iter()
        .map(|d| json!({ "message": d.to_string(), "difference": d }))
        .collect();
    json!({ "drift": !differences.is_empty(), "database": url.to_string(), "differences": items })
}

/// The version of the shape of every JSON report (docs/json-output.md). A
/// change that removes, renames or retypes a field, or changes what a value
/// means, bumps it; adding a field does not.
pub const FORMAT_VERSION: u64 = 1;

/// Renders a JSON report for stdout, stamped with `"format_version"`.
pub fn json_string(value: &Value) -> String {
    let mut value = value.clone();
    if let Value::Object(map) = &mut value {
        map.insert("format_version".to_owned(), FORMAT_VERSION.into());
    }
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_else(|_| "null".to_owned());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_json_report_carries_the_format_version() {
        let text = json_string(&json!({ "ok": true }));
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["format_version"], 1);
        assert_eq!(value["ok"], true);
        assert!(text.ends_with("}\n"), "{text:?}");
    }

    fn applied(version: i64, direction: Direction) -> Applied {
        Applied {
            version: version.into(),
            name: "add_users".to_owned(),
            direction,
            duration_ms: 3,
            statements: 2,
            transactional: true,
            skipped: false,
            recovered: None,
            phase: None,
            backfilled: None,
        }
    }

    #[test]
    fn runs_read_as_sentences() {
        let report = RunReport {
            migrations: vec![applied(2, Direction::Down), applied(2, Direction::Up)],
            ..RunReport::default()
        };
        let text = run_text(&report, Direction::Up, Style::new(false));
        assert_eq!(
            text,
            "rolled back 2 add_users (3 ms, 2 statements)\napplied 2 add_users (3 ms, 2 statements)\n1 migration rolled back, 1 migration applied\n"
        );
        assert_eq!(
            run_text(&RunReport::default(), Direction::Down, Style::new(false)),
            "nothing to roll back\n"
        );
    }

    fn expanded(state: HistoryState) -> ExpandedMigration {
        ExpandedMigration {
            version: cairn::Version::from(20260101090500),
            name: "rename_users_name".to_owned(),
            state,
            versions: cairn::operation::Versions {
                old: vec!["users.name".to_owned()],
                new: vec!["users.full_name".to_owned()],
            },
            next: "cairn up".to_owned(),
        }
    }

    #[test]
    fn phases_read_as_sentences() {
        let phase = |phase, direction| Applied {
            phase: Some(phase),
            ..applied(20260101090500, direction)
        };
        let report = RunReport {
            migrations: vec![
                phase(Phase::Expand, Direction::Up),
                phase(Phase::Contract, Direction::Up),
            ],
            ..RunReport::default()
        };
        assert_eq!(
            run_text(&report, Asked::Up, Style::new(false)),
            "expanded 20260101090500 add_users (3 ms, 2 statements)\ncontracted 20260101090500 add_users (3 ms, 2 statements)\n1 migration expanded, 1 migration contracted\n"
        );
        let report = RunReport {
            migrations: vec![phase(Phase::Uncontract, Direction::Down)],
            ..RunReport::default()
        };
        let text = run_text(&report, Asked::Down, Style::new(false));
        assert!(
            text.starts_with(
                "un-contracted 20260101090500 add_users (3 ms, 2 statements)\n  back to expanded: "
            ),
            "{text}"
        );
        assert!(text.contains("`cairn abort 20260101090500`"), "{text}");
        assert!(text.ends_with("1 migration un-contracted\n"), "{text}");
        let report = RunReport {
            migrations: vec![phase(Phase::Abort, Direction::Down)],
            ..RunReport::default()
        };
        let text = run_text(&report, Asked::Abort, Style::new(false));
        assert!(text.contains("the expand is undone"), "{text}");
        assert!(text.ends_with("1 migration aborted\n"), "{text}");
        assert_eq!(
            run_text(&RunReport::default(), Asked::Contract, Style::new(false)),
            "nothing to contract: no migration is expanded\n"
        );
        assert_eq!(
            plan_text(&[], Asked::Abort),
            "-- nothing to abort: no migration is expanding or expanded\n"
        );
    }

    #[test]
    fn an_expanded_migration_says_what_each_version_uses_and_what_is_next() {
        let m = expanded(HistoryState::Expanded);
        assert_eq!(
            next_step(&m),
            "deploy the new application version (it uses users.full_name), then run `cairn contract 20260101090500`; `cairn abort 20260101090500` undoes the expand"
        );
        let text = expanded_text(std::slice::from_ref(&m), Style::new(false));
        assert_eq!(
            text,
            format!(
                "zero-downtime: 20260101090500 rename_users_name is expanded\n  the old application version may use: users.name\n  the new application version may use: users.full_name\n  next: {}\n",
                next_step(&m)
            )
        );
        let json = expanded_json(&[m]);
        assert_eq!(json[0]["state"], "expanded");
        assert_eq!(json[0]["versions"]["new"][0], "users.full_name");
        assert!(json[0]["next"].as_str().unwrap().contains("cairn contract"));
        // Between phases, the migrator's own next command.
        assert_eq!(next_step(&expanded(HistoryState::Expanding)), "cairn up");
    }

    #[test]
    fn colour_is_plain_ansi_and_off_by_default() {
        assert_eq!(Style::new(true).green("ok"), "\x1b[32mok\x1b[0m");
        assert_eq!(Style::new(false).green("ok"), "ok");
        assert_eq!(
            cell("ab", 4, |t| Style::new(true).red(t)),
            "\x1b[31mab\x1b[0m  "
        );
    }

    #[test]
    fn statements_end_with_one_semicolon() {
        assert_eq!(terminated("SELECT 1"), "SELECT 1;");
        assert_eq!(terminated("SELECT 1;\n"), "SELECT 1;");
    }
}
