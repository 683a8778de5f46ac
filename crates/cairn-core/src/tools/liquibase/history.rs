//! How `cairn adopt --from liquibase` reads the history table this tool wrote.
//!
//! # The table
//!
//! `DATABASECHANGELOG (ID, AUTHOR, FILENAME, DATEEXECUTED, ORDEREXECUTED,
//! EXECTYPE, MD5SUM, ...)`, created unquoted, so PostgreSQL folds it (and its
//! columns) to lower case while MySQL and SQLite keep upper case; the default
//! table is found in either spelling (`spellings`). One row per changeset
//! run, keyed by `(ID, AUTHOR, FILENAME)`, no primary key, no integer version.
//!
//! # Rows → changesets
//!
//! A row is the changeset of the directory's Liquibase files with the same
//! `ID`, the same `AUTHOR` ignoring case, and a file that `FILENAME` names
//! after Liquibase's path normalisation (`classpath:`, a drive letter and
//! leading `/` or `./` dropped, `\` → `/`): the file's name itself
//! (`changelog.sql`, Liquibase run beside it), or a path ending in `/<name>`
//! (`db/changelog/changelog.sql`, Liquibase run from the project root).
//! Cairn's Liquibase files sit directly in the migrations directory, so the
//! relative path is the file name and the match is unique. A changeset with
//! a `logicalFilePath:` (its own, else its file header's) matches only a
//! `FILENAME` equal to it, since Liquibase records that path instead. The row then stands
//! for that changeset's Cairn version (`<file> × 100000 + <changeset>`, see
//! [`super`]).
//!
//! `EXECTYPE` `EXECUTED`, `RERAN` and `MARK_RAN` are applied; `FAILED`
//! (written only with `failOnError:false`) is a Cairn `failed` row that needs
//! `cairn repair`; `SKIPPED` never ran and is left out (Cairn runs it).
//!
//! # Checksums
//!
//! `MD5SUM` is `<algorithm>:<hex>`, each checked with its own algorithm over
//! the changeset's SQL as Liquibase's formatted-SQL parser collects it from
//! the **original bytes** ([`changeset_sql`]): the lines after the
//! `--changeset` line up to the next one, without `--rollback` lines,
//! `/* liquibase rollback */` blocks, `--comment`, `--validCheckSum`,
//! `--ignoreLines` and precondition lines, trimmed.
//!
//! - `9:` (Liquibase ≥ 4.22): the change's sum is MD5 of the SQL with every
//!   space, tab, CR and LF removed; the changeset's is MD5 of
//!   `"9:" + change + ":"`.
//! - `8:` (3.5 – 4.21): the change's sum is MD5 of
//!   `"<endDelimiter>:<splitStatements>:<stripComments>:"` (the changeset's
//!   attributes, `null:true:true:` by default) followed by the SQL with each
//!   run of whitespace made one space and none at either end; the
//!   changeset's is MD5 of `"8:" + change + ":"`.
//! - A NULL sum is not kept (Liquibase fills it in on its next run); sums of
//!   older algorithms (`1:` – `7:`) are not verified, as Liquibase itself
//!   replaces them with the current algorithm's without checking.
//!
//! `DATABASECHANGELOGLOCK` with `LOCKED` true means a Liquibase run holds (or
//! a crashed one left) the lock: adopt refuses until it is released.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use crate::adopt::{self, BadValue, ForeignHistory, ForeignRow, ForeignState, Skipped, Verdict};
use crate::dialect::Dialect;
use crate::driver::Rows;
use crate::migration::{Layout, Migration, Version};

/// Liquibase's default table, as PostgreSQL folds it.
pub const TABLE: &str = "databasechangelog";

/// Liquibase's lock table beside a history table named `table`, in the
/// same spelling.
pub(crate) fn lock_table(table: &str) -> String {
    if table.chars().any(|c| c.is_ascii_uppercase()) {
        "DATABASECHANGELOGLOCK".to_owned()
    } else {
        "databasechangeloglock".to_owned()
    }
}

/// The spellings of `name` to look for, in order: as given, then the
/// engines' two foldings (PostgreSQL folds Liquibase's unquoted names to
/// lower case, MySQL and SQLite keep upper case).
pub(crate) fn spellings(name: &str) -> Vec<String> {
    let mut names = vec![name.to_owned()];
    for folded in [name.to_ascii_uppercase(), name.to_ascii_lowercase()] {
        if !names.contains(&folded) {
            names.push(folded);
        }
    }
    names
}

/// A column name as Liquibase created it (unquoted) on `dialect`'s engine.
fn column(dialect: &dyn Dialect, name: &'static str) -> String {
    dialect.fold_unquoted(name)
}

const COLUMNS: [&str; 6] = [
    "ID",
    "AUTHOR",
    "FILENAME",
    "DATEEXECUTED",
    "EXECTYPE",
    "MD5SUM",
];

/// The query, the columns it needs and a hint when they are missing.
pub(crate) fn select(dialect: &dyn Dialect, table: &str) -> (String, &'static str, &'static str) {
    let columns: Vec<String> = COLUMNS.iter().map(|name| column(dialect, name)).collect();
    let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
    let order = column(dialect, "ORDEREXECUTED");
    (
        adopt::select(dialect, table, &columns, Some(&order)),
        "ID, AUTHOR, FILENAME, DATEEXECUTED, ORDEREXECUTED, EXECTYPE, MD5SUM",
        "is it Liquibase's?",
    )
}

/// The query of the lock table: `LOCKED` (as 1 or 0) and `LOCKEDBY` of
/// every row. `LOCKED` is read through `CASE` because its type differs:
/// `BOOLEAN` on PostgreSQL, `TINYINT(1)` or (Liquibase 4.4 on MariaDB)
/// `BIT(1)` on MySQL, an integer on SQLite.
pub(crate) fn select_lock(dialect: &dyn Dialect, lock: &str) -> String {
    let locked = dialect.quote_ident(&column(dialect, "LOCKED"));
    let by = dialect.quote_ident(&column(dialect, "LOCKEDBY"));
    format!("SELECT CASE WHEN l.{locked} THEN 1 ELSE 0 END, l.{by} FROM {lock} l")
}

/// Who holds Liquibase's lock, if a row of the lock table says it is held.
pub(crate) fn lock_holder(rows: &Rows) -> Option<String> {
    rows.iter().find_map(|row| {
        let locked = adopt::value(row, 0)?;
        let held = adopt::boolean(locked, "lock", "LOCKED").unwrap_or(true);
        held.then(|| adopt::value(row, 1).unwrap_or("an unknown host").to_owned())
    })
}

/// The key of a row: `FILENAME::ID::AUTHOR`, as Liquibase prints a changeset.
fn key(filename: &str, id: &str, author: &str) -> String {
    format!("{filename}::{id}::{author}")
}

/// Decodes the rows; every row's version is set by [`resolve`].
pub(crate) fn decode(rows: Rows) -> Result<ForeignHistory, BadValue> {
    let mut history = ForeignHistory::default();
    for (index, row) in rows.iter().enumerate() {
        let position = adopt::positional(index);
        let id = adopt::required(row, 0, &position, "ID", "a changeset id")?;
        let author = adopt::required(row, 1, &position, "AUTHOR", "a changeset author")?;
        let filename = adopt::required(row, 2, &position, "FILENAME", "the changelog's path")?;
        let key = key(filename, id, author);
        let exectype = adopt::required(
            row,
            4,
            &key,
            "EXECTYPE",
            "EXECUTED, RERAN, MARK_RAN, FAILED or SKIPPED",
        )?;
        let state = match exectype.trim().to_ascii_uppercase().as_str() {
            "EXECUTED" | "RERAN" | "MARK_RAN" => ForeignState::Applied,
            "FAILED" => ForeignState::Failed("EXECTYPE = FAILED".to_owned()),
            "SKIPPED" => {
                history.skipped.push(Skipped {
                    key,
                    reason: "Liquibase recorded it SKIPPED: it never ran, so Cairn runs it"
                        .to_owned(),
                });
                continue;
            }
            _ => {
                return Err(BadValue {
                    row: key,
                    column: "EXECTYPE",
                    value: exectype.to_owned(),
                    expected: "EXECUTED, RERAN, MARK_RAN, FAILED or SKIPPED",
                })
            }
        };
        // The version is the changeset's, found by `resolve`.
        let mut foreign = ForeignRow::applied(key, Version::from(0));
        foreign.name = Some(format!("{author}:{id}"));
        foreign.state = state;
        foreign.checksum = adopt::value(row, 5)
            .map(str::trim)
            .filter(|sum| !sum.is_empty())
            .map(str::to_owned);
        foreign.applied_at = adopt::value(row, 3).and_then(adopt::timestamp);
        history.rows.push(foreign);
    }
    Ok(history)
}

/// `FILENAME` as Liquibase normalises a path before comparing it.
pub(crate) fn normalize_path(path: &str) -> String {
    let mut path = path.trim().replace('\\', "/");
    if let Some(rest) = path.strip_prefix("classpath:") {
        path = rest.to_owned();
    }
    let bytes = path.as_bytes();
    if bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic() {
        path = path[2..].to_owned();
    }
    while let Some(rest) = path.strip_prefix("./") {
        path = rest.to_owned();
    }
    path.trim_start_matches('/').to_owned()
}

/// Whether `filename` (normalised) names the file of `migration`: the
/// changeset's `logicalFilePath` (its own, else its file's header's) when it
/// has one, else its file name or a path ending in `/<file name>`.
fn names_file(filename: &str, migration: &Migration, logical: Option<&str>) -> bool {
    if let Some(logical) = logical {
        return normalize_path(logical) == filename;
    }
    let Some(name) = migration.location.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    filename == name
        || filename
            .strip_suffix(name)
            .is_some_and(|dirs| dirs.ends_with('/'))
}

/// A row that matches no changeset, and why.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unmatched {
    /// The row's key.
    pub key: String,
    /// Why it matches nothing.
    pub why: String,
}

/// Sets each row's version to its changeset's (see the module's
/// documentation for the rule).
pub(crate) fn resolve(
    foreign: &ForeignHistory,
    migrations: &[Migration],
    read_raw: &mut dyn FnMut(&Path) -> std::io::Result<Vec<u8>>,
) -> Result<ForeignHistory, Unmatched> {
    // The files' bytes, read once each, for `logicalFilePath` (a file that
    // cannot be read has none here; reading it for its checksum reports it).
    let mut raws: BTreeMap<PathBuf, Vec<u8>> = BTreeMap::new();
    let mut logical = |migration: &Migration| -> Option<String> {
        let raw = raws
            .entry(migration.location.clone())
            .or_insert_with(|| read_raw(&migration.location).unwrap_or_default());
        logical_file_path(raw, &migration.name)
    };
    let mut resolved = foreign.clone();
    for row in &mut resolved.rows {
        let mut parts = row.key.splitn(2, "::");
        let filename = normalize_path(parts.next().unwrap_or(""));
        let rest = parts.next().unwrap_or("");
        let (id, author) = rest.rsplit_once("::").unwrap_or((rest, ""));
        let same = |m: &&Migration| {
            m.layout == Layout::Liquibase
                && m.name
                    .split_once(':')
                    .is_some_and(|(a, i)| i == id && a.eq_ignore_ascii_case(author))
        };
        let candidates: Vec<&Migration> = migrations.iter().filter(same).collect();
        let in_file: Vec<&&Migration> = candidates
            .iter()
            .filter(|m| names_file(&filename, m, logical(m).as_deref()))
            .collect();
        match in_file.as_slice() {
            [only] => row.target = adopt::Target::Version(only.version),
            [] => {
                let why = match candidates.first() {
                    Some(other) => format!(
                        "the changeset `{author}:{id}` Cairn read is in `{}`, not in a file `{filename}` names",
                        other.location.display()
                    ),
                    None => format!(
                        "no Liquibase file of the migrations directory has a `--changeset {author}:{id}` (for `{filename}`)"
                    ),
                };
                return Err(Unmatched {
                    key: row.key.clone(),
                    why,
                });
            }
            [first, second, ..] => {
                return Err(Unmatched {
                    key: row.key.clone(),
                    why: format!(
                        "`{}` and `{}` both have `--changeset {author}:{id}` and `{filename}` names both",
                        first.location.display(),
                        second.location.display()
                    ),
                })
            }
        }
    }
    Ok(resolved)
}

/// Lower-case hex MD5 of `bytes`.
fn md5_hex(bytes: &[u8]) -> String {
    adopt::hex(&Md5::digest(bytes))
}

/// Liquibase's `9:` checksum of a formatted-SQL changeset whose SQL (as
/// [`changeset_sql`] collects it) is `sql`.
pub fn checksum_v9(sql: &str) -> String {
    let stripped: Vec<u8> = sql
        .bytes()
        .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .collect();
    let change = md5_hex(&stripped);
    format!("9:{}", md5_hex(format!("9:{change}:").as_bytes()))
}

/// The changeset attributes Liquibase 3.5 – 4.21 put in front of the SQL
/// when hashing (`8:`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V8Attributes {
    /// `endDelimiter:` (`None` prints as `null`).
    pub end_delimiter: Option<String>,
    /// `splitStatements:` (default true).
    pub split_statements: bool,
    /// `stripComments:` (formatted SQL's default: true).
    pub strip_comments: bool,
}

impl Default for V8Attributes {
    fn default() -> Self {
        V8Attributes {
            end_delimiter: None,
            split_statements: true,
            strip_comments: true,
        }
    }
}

/// Liquibase's `8:` checksum of a formatted-SQL changeset whose SQL is
/// `sql` and whose attributes are `attributes`.
pub fn checksum_v8(sql: &str, attributes: &V8Attributes) -> String {
    let mut text = format!(
        "{}:{}:{}:",
        attributes.end_delimiter.as_deref().unwrap_or("null"),
        attributes.split_statements,
        attributes.strip_comments
    );
    let words: Vec<&str> = sql
        .split([' ', '\t', '\r', '\n'])
        .filter(|word| !word.is_empty())
        .collect();
    text.push_str(&words.join(" "));
    let change = md5_hex(text.as_bytes());
    format!("8:{}", md5_hex(format!("8:{change}:").as_bytes()))
}

/// The SQL Liquibase hashes for changeset `author:id` of a formatted-SQL
/// file's original bytes, with its `8:` attributes; `None` if the file has
/// no such changeset. Liquibase reads `/* liquibase rollback */` blocks
/// since 4.19; before, they were part of the SQL (`blocks_are_sql`).
pub fn changeset_sql(
    raw: &[u8],
    name: &str,
    blocks_are_sql: bool,
) -> Option<(String, V8Attributes)> {
    let text = String::from_utf8_lossy(raw);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let lines = java_lines(text);
    let (wanted_author, wanted_id) = name.split_once(':')?;
    let mut found: Option<(usize, V8Attributes)> = None;
    let mut sql = String::new();
    let mut last = true;
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        index += 1;
        if let Some((author, id, attributes)) = changeset_line(line) {
            if found.is_some() {
                last = false;
                break;
            }
            if id == wanted_id && author.eq_ignore_ascii_case(wanted_author) {
                found = Some((index, attributes));
            }
            continue;
        }
        let lower = line.to_ascii_lowercase();
        let comment = lower.trim_start().strip_prefix("--").map(str::trim_start);
        if let Some(rest) = comment.and_then(|c| c.strip_prefix("ignorelines:")) {
            if rest.trim() == "start" {
                while index < lines.len() {
                    let end = lines[index].to_ascii_lowercase();
                    index += 1;
                    if end
                        .trim_start()
                        .strip_prefix("--")
                        .is_some_and(|c| c.trim_start().starts_with("ignorelines:end"))
                    {
                        break;
                    }
                }
            } else if let Ok(count) = rest.trim().parse::<usize>() {
                index += count;
            }
            continue;
        }
        if found.is_none() {
            continue;
        }
        if !blocks_are_sql && rollback_block_start(&lower) {
            while index < lines.len() {
                let end = lines[index];
                index += 1;
                if end.trim_end().ends_with("*/") {
                    break;
                }
            }
            continue;
        }
        if not_sql(&lower) {
            continue;
        }
        sql.push_str(line);
        sql.push('\n');
    }
    let (_, mut attributes) = found?;
    let sql = sql.trim_matches(|c: char| c <= ' ').to_owned();
    if last && attributes.end_delimiter.is_none() && sql.ends_with("\n/") {
        attributes.end_delimiter = Some("\n/$".to_owned());
    }
    Some((sql, attributes))
}

/// Lines as Java's `BufferedReader::readLine` splits them (`\n`, `\r\n`, `\r`).
fn java_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\n', '\r']) {
            Some(at) => {
                lines.push(&rest[..at]);
                let skip = if rest[at..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[at + skip..];
            }
            None => {
                lines.push(rest);
                rest = "";
            }
        }
    }
    lines
}

/// `--changeset author:id attributes`: the author, id and `8:` attributes.
fn changeset_line(line: &str) -> Option<(String, String, V8Attributes)> {
    let rest = line.trim_start().strip_prefix("--")?.trim_start();
    let word = rest.get(..9)?;
    if !word.eq_ignore_ascii_case("changeset") {
        return None;
    }
    let rest = &rest[9..];
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let words = super::words(rest);
    let (author, id) = words.first()?.split_once(':')?;
    let lower = line.to_ascii_lowercase();
    let flag = |name: &str| -> Option<bool> {
        let at = lower.find(name)? + name.len();
        let value: String = lower[at..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        Some(value == "true")
    };
    let end_delimiter = lower
        .match_indices("enddelimiter:")
        .find(|(at, _)| *at == 0 || !lower.as_bytes()[at - 1].is_ascii_alphanumeric())
        .map(|(at, _)| {
            let start = at + "enddelimiter:".len();
            line[start..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect::<String>()
        });
    Some((
        super::unquote(author),
        super::unquote(id),
        V8Attributes {
            end_delimiter,
            split_statements: flag("splitstatements:").unwrap_or(true),
            strip_comments: flag("stripcomments:").unwrap_or(true),
        },
    ))
}

/// The `logicalFilePath:` Liquibase records as `FILENAME` for changeset
/// `author:id` of a file's original bytes: the changeset's own, else the
/// one on the file's `--liquibase formatted sql` line.
pub(crate) fn logical_file_path(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let (wanted_author, wanted_id) = name.split_once(':')?;
    let mut file_level = None;
    for line in java_lines(text) {
        if let Some((author, id, _)) = changeset_line(line) {
            if id == wanted_id && author.eq_ignore_ascii_case(wanted_author) {
                return attribute(line, "logicalfilepath:").or(file_level);
            }
        } else if file_level.is_none() && super::is_formatted(line) {
            file_level = attribute(line, "logicalfilepath:");
        }
    }
    None
}

/// The value of `name` (lower case, ending in `:`) on `line`, up to the next
/// whitespace, where `name` does not continue a longer word.
fn attribute(line: &str, name: &str) -> Option<String> {
    let lower = line.to_ascii_lowercase();
    lower
        .match_indices(name)
        .find(|(at, _)| *at == 0 || !lower.as_bytes()[at - 1].is_ascii_alphanumeric())
        .map(|(at, _)| {
            line[at + name.len()..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect::<String>()
        })
        .filter(|value| !value.is_empty())
}

/// `/* liquibase rollback` alone on its line (`lower` is lower case).
fn rollback_block_start(lower: &str) -> bool {
    lower
        .trim()
        .strip_prefix("/*")
        .map(str::trim_start)
        .and_then(|rest| rest.strip_prefix("liquibase"))
        .map(str::trim_start)
        .is_some_and(|rest| {
            rest.strip_prefix("rollback")
                .is_some_and(|r| r.trim().is_empty())
        })
}

/// The lines of a changeset that are no part of its SQL for Liquibase
/// (`lower` is the line in lower case).
fn not_sql(lower: &str) -> bool {
    let trimmed = lower.trim_start();
    let Some(comment) = trimmed.strip_prefix("--") else {
        return false;
    };
    let comment = comment.trim_start();
    // `--comment`/`--validCheckSum` must start the line; the others may be
    // indented.
    let at_start = lower.starts_with("--");
    let word_then_space = |word: &str| {
        comment
            .strip_prefix(word)
            .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with(": "))
    };
    comment
        .strip_prefix("rollback")
        .is_some_and(|rest| rest.starts_with(' '))
        || comment.starts_with("precondition")
        || (at_start && (word_then_space("comment") || word_then_space("validchecksum")))
}

/// Checks `stored` (`MD5SUM`) against the changeset of `migration` in the
/// original bytes `raw` of its file.
pub(crate) fn verify(stored: &str, migration: &Migration, raw: &[u8]) -> Verdict {
    let (algorithm, _) = match stored.split_once(':') {
        Some((version, hex)) if version.bytes().all(|b| b.is_ascii_digit()) => (version, hex),
        _ => ("1", stored),
    };
    let name = match algorithm {
        "9" => "Liquibase MD5 (9:)",
        "8" => "Liquibase MD5 (8:)",
        _ => return Verdict::NotKept,
    };
    // `9:` sums come from Liquibase ≥ 4.22, which reads rollback blocks;
    // `8:` sums from 3.5 – 4.21, which read them from 4.19 on only.
    let readings: &[bool] = if algorithm == "9" {
        &[false]
    } else {
        &[false, true]
    };
    let mut computed = None;
    for &blocks_are_sql in readings {
        let Some((sql, attributes)) = changeset_sql(raw, &migration.name, blocks_are_sql) else {
            return Verdict::Mismatch {
                algorithm: name,
                stored: stored.to_owned(),
                computed: format!("no changeset {} in the file", migration.name),
            };
        };
        let sum = match algorithm {
            "9" => checksum_v9(&sql),
            _ => checksum_v8(&sql, &attributes),
        };
        if sum.eq_ignore_ascii_case(stored) {
            return Verdict::Match(name);
        }
        computed.get_or_insert(sum);
    }
    Verdict::Mismatch {
        algorithm: name,
        stored: stored.to_owned(),
        computed: computed.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The changelog of the real Liquibase 4.28.1 run recorded in the
    /// comments: its MD5SUMs on SQLite were these.
    const CHANGELOG: &str = "--liquibase formatted sql\n\n--changeset alice:1\nCREATE TABLE person (id INT PRIMARY KEY, name TEXT);\n--rollback DROP TABLE person;\n\n--changeset alice:2\n-- a plain comment\nINSERT INTO person VALUES (1, 'Ada');\n/* liquibase rollback\nDELETE FROM person WHERE id = 1;\n*/\n";

    #[test]
    fn v9_sums_are_liquibase_4_28s() {
        let (sql, _) = changeset_sql(CHANGELOG.as_bytes(), "alice:1", false).unwrap();
        assert_eq!(sql, "CREATE TABLE person (id INT PRIMARY KEY, name TEXT);");
        assert_eq!(checksum_v9(&sql), "9:a97ece4229db49f6ef36283eba116ec3");
        let (sql, _) = changeset_sql(CHANGELOG.as_bytes(), "ALICE:2", false).unwrap();
        assert_eq!(
            sql,
            "-- a plain comment\nINSERT INTO person VALUES (1, 'Ada');"
        );
        assert_eq!(checksum_v9(&sql), "9:ad78e5dc54cbe499f1ad0a80c547274a");
        assert_eq!(changeset_sql(CHANGELOG.as_bytes(), "alice:3", false), None);
    }

    #[test]
    fn crlf_and_bom_do_not_change_the_sums() {
        let crlf = format!("\u{feff}{}", CHANGELOG.replace('\n', "\r\n"));
        let (sql, _) = changeset_sql(crlf.as_bytes(), "alice:2", false).unwrap();
        assert_eq!(checksum_v9(&sql), "9:ad78e5dc54cbe499f1ad0a80c547274a");
    }

    #[test]
    fn v8_puts_the_attributes_first_and_collapses_whitespace() {
        let (sql, attributes) = changeset_sql(CHANGELOG.as_bytes(), "alice:1", false).unwrap();
        assert_eq!(attributes, V8Attributes::default());
        // MD5("null:true:true:CREATE TABLE ...") then MD5("8:<that>:").
        assert_eq!(
            checksum_v8(&sql, &attributes),
            "8:d82cccebefd594707c6ccc0631c39bf3"
        );
        assert_eq!(
            checksum_v8(
                "CREATE  TABLE\tperson\n(id INT PRIMARY KEY, name TEXT);  ",
                &attributes
            ),
            "8:d82cccebefd594707c6ccc0631c39bf3"
        );
        let text = "--liquibase formatted sql\n--changeset a:1 endDelimiter:/ splitStatements:false\nSELECT 1/\n";
        let (_, attributes) = changeset_sql(text.as_bytes(), "a:1", false).unwrap();
        assert_eq!(attributes.end_delimiter.as_deref(), Some("/"));
        assert!(!attributes.split_statements);
        assert!(attributes.strip_comments);
    }

    #[test]
    fn v8_sums_are_liquibase_4_4s_which_hashed_rollback_blocks() {
        // Liquibase 4.4.0 ran CHANGELOG on SQLite and stored these.
        let (sql, attributes) = changeset_sql(CHANGELOG.as_bytes(), "alice:2", true).unwrap();
        assert!(sql.ends_with("*/"), "{sql}");
        assert_eq!(
            checksum_v8(&sql, &attributes),
            "8:140ae2fcd80c5ab8c7396b3b09239f3e"
        );
        let migration = |name: &str| Migration {
            version: Version::from(100_002),
            name: name.to_owned(),
            layout: Layout::Liquibase,
            location: "changelog.sql".into(),
            up: crate::migration::Scripts::default(),
            down: crate::migration::Scripts::default(),
            declaration: None,
        };
        let raw = CHANGELOG.as_bytes();
        assert_eq!(
            verify(
                "8:140ae2fcd80c5ab8c7396b3b09239f3e",
                &migration("alice:2"),
                raw
            ),
            Verdict::Match("Liquibase MD5 (8:)")
        );
        assert_eq!(
            verify(
                "9:ad78e5dc54cbe499f1ad0a80c547274a",
                &migration("alice:2"),
                raw
            ),
            Verdict::Match("Liquibase MD5 (9:)")
        );
        assert!(matches!(
            verify(
                "9:00000000000000000000000000000000",
                &migration("alice:2"),
                raw
            ),
            Verdict::Mismatch { .. }
        ));
        assert_eq!(
            verify("7:anything", &migration("alice:2"), raw),
            Verdict::NotKept
        );
    }

    #[test]
    fn what_liquibase_leaves_out_of_the_sql() {
        let text = "--liquibase formatted sql\n--changeset a:1\n--comment: why\n--validCheckSum: 1:any\nSELECT 1;\n--ignoreLines:1\nSELECT 'skipped';\n--rollback SELECT 2;\n--changeset a:2\nSELECT 3;\n";
        let (sql, _) = changeset_sql(text.as_bytes(), "a:1", false).unwrap();
        assert_eq!(sql, "SELECT 1;");
    }

    fn changeset(name: &str, file: &str) -> Migration {
        Migration {
            version: Version::from(100_001),
            name: name.to_owned(),
            layout: Layout::Liquibase,
            location: file.into(),
            up: crate::migration::Scripts::default(),
            down: crate::migration::Scripts::default(),
            declaration: None,
        }
    }

    fn row(filename: &str, id: &str, author: &str) -> ForeignHistory {
        ForeignHistory {
            rows: vec![ForeignRow::applied(
                key(filename, id, author),
                Version::from(0),
            )],
            skipped: Vec::new(),
        }
    }

    #[test]
    fn rows_match_by_id_author_and_file_or_logical_path() {
        let plain = "--liquibase formatted sql\n--changeset a:1\nSELECT 1;\n";
        let logical = "--liquibase formatted sql logicalFilePath:app/main.sql\n--changeset a:1\nSELECT 1;\n--changeset a:2 logicalFilePath:other\nSELECT 2;\n";
        let files: BTreeMap<PathBuf, &str> = [
            (PathBuf::from("/m/001.sql"), plain),
            (PathBuf::from("/m/002.sql"), logical),
        ]
        .into();
        let migrations = [
            changeset("a:1", "/m/001.sql"),
            Migration {
                version: Version::from(200_001),
                ..changeset("a:1", "/m/002.sql")
            },
            Migration {
                version: Version::from(200_002),
                ..changeset("a:2", "/m/002.sql")
            },
        ];
        let mut read = |path: &Path| {
            files
                .get(path)
                .map(|text| text.as_bytes().to_vec())
                .ok_or_else(|| std::io::Error::other("gone"))
        };
        let version = |history: &ForeignHistory| history.rows[0].target;
        let mut found = |filename: &str, id: &str, author: &str| {
            resolve(&row(filename, id, author), &migrations, &mut read).map(|h| version(&h))
        };
        let at = |v: i64| Ok(adopt::Target::Version(Version::from(v)));
        assert_eq!(found("001.sql", "1", "A"), at(100_001));
        assert_eq!(
            found("classpath:db/changelog/001.sql", "1", "a"),
            at(100_001)
        );
        assert_eq!(found("app/main.sql", "1", "a"), at(200_001));
        assert_eq!(found("other", "2", "a"), at(200_002));
        // A file with a logical path is not matched by its name.
        assert!(found("002.sql", "1", "a").is_err());
        assert!(found("x001.sql", "1", "a").is_err());
        let error = found("001.sql", "3", "a").unwrap_err();
        assert!(error.why.contains("`--changeset a:3`"), "{}", error.why);
    }

    #[test]
    fn paths_normalise_as_liquibase_does() {
        assert_eq!(
            normalize_path("classpath:db/changelog.sql"),
            "db/changelog.sql"
        );
        assert_eq!(
            normalize_path("C:\\work\\db\\changelog.sql"),
            "work/db/changelog.sql"
        );
        assert_eq!(normalize_path("/abs/changelog.sql"), "abs/changelog.sql");
        assert_eq!(normalize_path("./changelog.sql"), "changelog.sql");
        assert_eq!(
            spellings("databasechangelog"),
            ["databasechangelog", "DATABASECHANGELOG"]
        );
    }
}
