//! The sync triggers: `BEFORE INSERT` and `BEFORE UPDATE` row triggers that
//! assign `SET NEW.x = ...`, each one `CREATE TRIGGER ... BEGIN ... END`
//! statement sent as is (no `DELIMITER` exists in the protocol).
//!
//! Expressions (`up`, `down`) are written over the row's columns; here each
//! column name becomes `NEW.<name>` ([`qualify`]), leaving string literals,
//! comments, function names and already qualified names alone.

use super::Sql;
use crate::operation::Step;

/// An expression over the row's columns, with its columns `NEW.`-qualified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct RowExpr {
    /// The expression as a trigger reads it.
    pub sql: String,
    /// The columns it reads, in order of first use.
    pub reads: Vec<String>,
}

/// `expression` with each of `columns` (case-insensitive, as MySQL column
/// names are) read as `NEW.<column>`.
pub(super) fn qualify(sql: &Sql<'_>, expression: &str, columns: &[&str]) -> RowExpr {
    substitute(expression, columns, |column| {
        format!("NEW.{}", sql.id(column))
    })
}

/// `expression` with each of `columns` it reads replaced by `with(column)`.
pub(super) fn substitute(
    expression: &str,
    columns: &[&str],
    with: impl Fn(&str) -> String,
) -> RowExpr {
    let chars: Vec<char> = expression.chars().collect();
    let mut out = String::with_capacity(expression.len() + 16);
    let mut reads: Vec<String> = Vec::new();
    let mut i = 0;
    let known = |name: &str| {
        columns
            .iter()
            .find(|c| c.eq_ignore_ascii_case(name))
            .map(|c| (*c).to_owned())
    };
    let previous_is_dot = |out: &str| out.trim_end().ends_with('.');
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' => {
                let end = literal_end(&chars, i, c);
                out.extend(&chars[i..end]);
                i = end;
            }
            '`' => {
                let end = literal_end(&chars, i, '`');
                let name: String = chars[i + 1..end.saturating_sub(1).max(i + 1)]
                    .iter()
                    .collect::<String>()
                    .replace("``", "`");
                match known(&name).filter(|_| !previous_is_dot(&out)) {
                    Some(column) => {
                        out.push_str(&with(&column));
                        if !reads.contains(&column) {
                            reads.push(column);
                        }
                    }
                    None => out.extend(&chars[i..end]),
                }
                i = end;
            }
            '#' => {
                let end = line_end(&chars, i);
                out.extend(&chars[i..end]);
                i = end;
            }
            '-' if chars.get(i + 1) == Some(&'-')
                && chars.get(i + 2).is_none_or(|c| c.is_whitespace()) =>
            {
                let end = line_end(&chars, i);
                out.extend(&chars[i..end]);
                i = end;
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                let end = (i + 2..chars.len().saturating_sub(1))
                    .find(|&j| chars[j] == '*' && chars[j + 1] == '/')
                    .map_or(chars.len(), |j| j + 2);
                out.extend(&chars[i..end]);
                i = end;
            }
            c if c.is_ascii_digit() => {
                let end = word_end(&chars, i);
                out.extend(&chars[i..end]);
                i = end;
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let end = word_end(&chars, i);
                let word: String = chars[i..end].iter().collect();
                let next = chars[end..].iter().find(|c| !c.is_whitespace());
                let call = next == Some(&'(');
                let qualified = next == Some(&'.') || previous_is_dot(&out);
                match known(&word).filter(|_| !call && !qualified) {
                    Some(column) => {
                        out.push_str(&with(&column));
                        if !reads.contains(&column) {
                            reads.push(column);
                        }
                    }
                    None => out.push_str(&word),
                }
                i = end;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    RowExpr { sql: out, reads }
}

/// The index after a quoted token opened by `quote` at `start` (doubled
/// quotes and backslash escapes stay inside).
fn literal_end(chars: &[char], start: usize, quote: char) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == '\\' && quote != '`' {
            i += 2;
            continue;
        }
        if chars[i] == quote {
            if chars.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    chars.len()
}

fn line_end(chars: &[char], start: usize) -> usize {
    (start..chars.len())
        .find(|&j| chars[j] == '\n')
        .unwrap_or(chars.len())
}

fn word_end(chars: &[char], start: usize) -> usize {
    (start..chars.len())
        .find(|&j| !(chars[j].is_alphanumeric() || chars[j] == '_' || chars[j] == '$'))
        .unwrap_or(chars.len())
}

/// One sync trigger to create: its name, timing/event and body.
pub(super) struct Trigger {
    /// Its name (`cairn_<version>_<index>_ins`).
    pub name: String,
    /// `INSERT` or `UPDATE`.
    pub event: &'static str,
    /// The statements between `BEGIN` and `END`.
    pub body: String,
}

impl Trigger {
    /// The step creating it, skipped when it exists.
    pub fn create(&self, sql: &Sql<'_>, table: &str) -> Step {
        Step::new(
            format!("create trigger {} on {table}", self.name),
            format!(
                "CREATE TRIGGER {} BEFORE {} ON {} FOR EACH ROW BEGIN {} END",
                sql.id(&self.name),
                self.event,
                sql.id(table),
                self.body
            ),
        )
        .done_if(sql.trigger_exists(&self.name))
        .locking()
    }
}

/// The step dropping trigger `name`, idempotent.
pub(super) fn drop(sql: &Sql<'_>, name: &str) -> Step {
    Step::new(
        format!("drop trigger {name}"),
        format!("DROP TRIGGER IF EXISTS {}", sql.id(name)),
    )
    .done_if(super::absent(&sql.trigger_exists(name)))
    .locking()
}

/// `NOT (NEW.c <=> OLD.c)`: whether the statement changed `c`.
fn changed(sql: &Sql<'_>, column: &str) -> String {
    let c = sql.id(column);
    format!("NOT (NEW.{c} <=> OLD.{c})")
}

/// The two-way triggers between an old column `old` and a new column `new`
/// (ZERO-DOWNTIME.md §4). `up` gives `new` from the row, `down` gives `old`.
///
/// INSERT: a row that comes with `new` is a new writer's, and `old` is set
/// from it (whatever `old` holds: a new writer that omits `old` gets its
/// default, if it has one); a row without `new` but with `old` is an old
/// writer's, and `new` is set from it. UPDATE: only `old` changed → `new` =
/// up; only `new` changed, and not to `up(old)` already (the backfill's own
/// `UPDATE`) → `old` = down; both or neither → left as written.
pub(super) fn two_way(
    sql: &Sql<'_>,
    names: (String, String),
    old: &str,
    new: &str,
    up: &RowExpr,
    down: &RowExpr,
) -> [Trigger; 2] {
    let (o, n) = (sql.id(old), sql.id(new));
    let insert = format!(
        "IF NEW.{n} IS NULL THEN IF NEW.{o} IS NOT NULL THEN SET NEW.{n} = ({up}); END IF; \
         ELSE SET NEW.{o} = ({down}); END IF;",
        up = up.sql,
        down = down.sql
    );
    let update = format!(
        "IF {old_changed} AND NEW.{n} <=> OLD.{n} THEN SET NEW.{n} = ({up}); \
         ELSEIF {new_changed} AND NEW.{o} <=> OLD.{o} AND NOT (NEW.{n} <=> ({up})) \
         THEN SET NEW.{o} = ({down}); END IF;",
        old_changed = changed(sql, old),
        new_changed = changed(sql, new),
        up = up.sql,
        down = down.sql
    );
    [
        Trigger {
            name: names.0,
            event: "INSERT",
            body: insert,
        },
        Trigger {
            name: names.1,
            event: "UPDATE",
            body: update,
        },
    ]
}

/// One-way triggers filling `column` by `value` for writers that do not
/// know it: on INSERT when it is NULL; on UPDATE when the statement left it
/// alone but changed a column `value` reads.
pub(super) fn fill(
    sql: &Sql<'_>,
    names: (String, String),
    column: &str,
    value: &RowExpr,
) -> [Trigger; 2] {
    let c = sql.id(column);
    let insert = format!(
        "IF NEW.{c} IS NULL THEN SET NEW.{c} = ({}); END IF;",
        value.sql
    );
    let inputs: Vec<String> = value
        .reads
        .iter()
        .filter(|r| *r != column)
        .map(|r| changed(sql, r))
        .collect();
    let inputs = if inputs.is_empty() {
        "FALSE".to_owned()
    } else {
        inputs.join(" OR ")
    };
    let update = format!(
        "IF NEW.{c} <=> OLD.{c} AND ({inputs}) THEN SET NEW.{c} = ({}); END IF;",
        value.sql
    );
    [
        Trigger {
            name: names.0,
            event: "INSERT",
            body: insert,
        },
        Trigger {
            name: names.1,
            event: "UPDATE",
            body: update,
        },
    ]
}
