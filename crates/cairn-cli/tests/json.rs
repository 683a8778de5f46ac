//! The JSON output of every reporting command, snapshotted (insta) on
//! SQLite, with times, durations, paths and the user normalised: a change of
//! shape shows up as a snapshot diff and must bump `format_version`
//! (docs/json-output.md).

use serde_json::Value;

use crate::cli::{Project, Run};

/// The `format_version` every report carries; the snapshots are of this shape.
const FORMAT_VERSION: u64 = 1;

/// Runs `cairn <args> --format json`, expects `code`, checks the version
/// and snapshots the normalised report as `name`.
#[track_caller]
fn snapshot(p: &Project, name: &str, args: &[&str], code: i32) -> Value {
    snapshot_with(p, name, args, code, |_| {})
}

/// [`snapshot`], with `edit` applied to the normalised report first.
#[track_caller]
fn snapshot_with(
    p: &Project,
    name: &str,
    args: &[&str],
    code: i32,
    edit: impl Fn(&mut Value),
) -> Value {
    let mut argv = args.to_vec();
    argv.extend(["--format", "json"]);
    let run: Run = p.cairn(&argv);
    let json = run.code(code).json();
    assert_eq!(
        json["format_version"],
        FORMAT_VERSION,
        "`cairn {}` lacks format_version {FORMAT_VERSION}:\n{}",
        args.join(" "),
        run.stdout
    );
    let project = p.path("").display().to_string();
    let mut normalised = normalise(json.clone(), project.trim_end_matches('/'));
    edit(&mut normalised);
    let text = serde_json::to_string_pretty(&normalised).expect("JSON prints");
    insta::assert_snapshot!(name, text);
    json
}

/// Replaces what differs between runs and machines: values of keys that
/// are times, durations or the user, timestamps anywhere, and the project's
/// temporary directory in paths and URLs.
fn normalise(value: Value, project: &str) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let value = if varies(&key) && !value.is_null() {
                        Value::String(format!("[{key}]"))
                    } else {
                        normalise(value, project)
                    };
                    (key, value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| normalise(item, project))
                .collect(),
        ),
        Value::String(text) => {
            Value::String(without_durations(&without_times(&text)).replace(project, "[project]"))
        }
        other => other,
    }
}

fn varies(key: &str) -> bool {
    key.ends_with("_ms")
        || key.ends_with("_at")
        || key.starts_with("duration")
        || matches!(key, "who" | "cairn_version" | "elapsed" | "rate" | "eta")
}

/// `text` with every RFC 3339 time in it (`2026-01-01T09:00:00.123Z`,
/// also inside SQL the dry run prints) replaced by `[time]`.
fn without_times(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let len = time_at(rest.as_bytes());
        if len > 0 {
            out.push_str("[time]");
            rest = &rest[len..];
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The length of the time `b` starts with, 0 if none.
fn time_at(b: &[u8]) -> usize {
    let digits = |range: std::ops::Range<usize>| range.into_iter().all(|i| b[i].is_ascii_digit());
    if b.len() < 19
        || !(digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10))
        || !(b[10] == b'T' && digits(11..13) && b[13] == b':' && digits(14..16) && b[16] == b':')
        || !digits(17..19)
    {
        return 0;
    }
    let mut end = 19;
    if b.get(end) == Some(&b'.') {
        end += 1;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
    }
    if b.get(end) == Some(&b'Z') {
        end += 1;
    }
    end
}

/// `text` with the number after every `execution_ms = ` (the history row a
/// dry run of a phase would write) replaced by `[execution_ms]`.
fn without_durations(text: &str) -> String {
    const KEY: &str = "execution_ms = ";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(KEY) {
        let (before, after) = rest.split_at(at + KEY.len());
        out.push_str(before);
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            out.push_str("[execution_ms]");
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

#[test]
fn durations_are_normalised_inside_text() {
    assert_eq!(
        without_durations("a, execution_ms = 512, b = 3, execution_ms = NULL"),
        "a, execution_ms = [execution_ms], b = 3, execution_ms = NULL"
    );
}

#[test]
fn times_are_normalised_inside_text() {
    assert_eq!(
        without_times("at '2026-12-01T12:36:23.237Z', 0 and 2026-01-01T09:00:00Z"),
        "at '[time]', 0 and [time]"
    );
    assert_eq!(
        without_times("version 20260101090000"),
        "version 20260101090000"
    );
}

#[test]
fn json_reports_of_a_project_from_init_to_rollback() {
    let p = Project::new();
    snapshot(&p, "init", &["init"], 0);
    p.three_migrations();
    snapshot(&p, "status_pending", &["status"], 0);
    snapshot(&p, "up_dry_run", &["up", "--dry-run"], 0);
    snapshot(&p, "up", &["up", "--to", "2"], 0);
    snapshot(&p, "status_partly_applied", &["status"], 0);
    snapshot(&p, "validate", &["validate"], 0);
    snapshot(&p, "up_rest", &["up"], 0);
    snapshot(&p, "down", &["down"], 0);
    snapshot(&p, "down_dry_run", &["down", "--to", "1", "--dry-run"], 0);
    snapshot(&p, "redo", &["redo"], 0);
    snapshot(&p, "repair_nothing_to_do", &["repair"], 0);
    snapshot(&p, "schema_dump", &["schema", "dump"], 0);
    snapshot(&p, "backfill_status", &["backfill", "status"], 0);
    snapshot(&p, "drift_found", &["drift"], 3);
}

#[test]
fn json_reports_of_problems() {
    let p = Project::new();
    p.three_migrations();
    p.cairn(&["up", "--to", "2"]).code(0);
    p.write(
        "migrations/1_create_users/up.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n",
    );
    snapshot(&p, "status_modified", &["status"], 3);
    snapshot(&p, "validate_modified", &["validate"], 3);
    snapshot(&p, "repair_modified", &["repair"], 0);

    p.migration(4, "broken", "CREATE TABLE nope (;\n", None);
    snapshot(&p, "up_failed", &["up"], 1);
}

#[test]
fn json_report_of_verify() {
    let p = Project::new();
    p.three_migrations();
    snapshot(
        &p,
        "verify",
        &["--database-url", "sqlite://scratch.db", "verify"],
        0,
    );
}

#[test]
fn json_reports_of_the_zero_downtime_life_cycle() {
    let p = Project::new();
    p.migration(
        1,
        "create_users",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n",
        Some("DROP TABLE users;\n"),
    );
    p.write(
        "migrations/2_rename_users_name/migration.toml",
        "[[operation]]\nkind = \"rename_column\"\ntable = \"users\"\ncolumn = \"name\"\nto = \"full_name\"\n",
    );
    // The shape, not the engine's SQL (snapshotted in cairn-core with the
    // dialect): statement texts and counts are left out.
    let shape = |value: &mut Value| without_engine_sql(value);
    snapshot_with(&p, "online_up", &["up"], 0, shape);
    snapshot(&p, "online_status_expanded", &["status"], 0);
    snapshot_with(
        &p,
        "online_contract_dry_run",
        &["contract", "--dry-run"],
        0,
        shape,
    );
    snapshot_with(&p, "online_contract", &["contract"], 0, shape);
    snapshot_with(&p, "online_down_uncontract", &["down"], 0, shape);
    snapshot_with(
        &p,
        "online_abort_dry_run",
        &["abort", "2", "--dry-run"],
        0,
        shape,
    );
    snapshot_with(&p, "online_abort", &["abort"], 0, shape);
}

/// Replaces each migration's statement count and, in a dry run, its
/// statements by placeholders, keeping the history bookkeeping.
fn without_engine_sql(value: &mut Value) {
    for m in value["migrations"].as_array_mut().into_iter().flatten() {
        if m["statements"].is_array() {
            m["statements"] = Value::String("[statements]".to_owned());
        } else if m["statements"].is_number() {
            m["statements"] = Value::String("[count]".to_owned());
        }
    }
}
