//! The `[[operation]]` tables of a `migration.toml`, read into [`Operation`]s.
//!
//! ```toml
//! [[operation]]
//! kind = "change_column_type"
//! table = "users"
//! column = "age"
//! to = "age_years"
//! type = "BIGINT"
//! up = "age"                 # the new value from the old row
//! down = "age"               # the old value from the new row
//!
//! [operation.mysql]          # optional per-engine overrides of up / down / check / contract
//! up = "CAST(age AS SIGNED)"
//! ```
//!
//! Unknown keys and kinds, a missing `up` where one is needed, and values
//! that cannot be right whatever the schema (an empty name, `to` equal to
//! `column`, two operations on one column) are refused here with
//! `migration.toml:<line of the [[operation]] header>`; what needs the table
//! (the column exists, a primary key) is checked when the migration is
//! compiled against the database (`compile.rs`), before anything changes.
//!
//! A `migration.toml` may hold both `[[operation]]` and `[[backfill]]`
//! tables: the declared backfills run after the operations' own backfills.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Expr, Kind, Operation};
use crate::backfill::spec::BatchSettings;
use crate::engine::Engine;
use crate::error::{Error, Location};

/// Every kind users may write, in the order of ZERO-DOWNTIME.md §2.
pub const KINDS: [&str; 12] = [
    "rename_column",
    "change_column_type",
    "add_column",
    "drop_column",
    "set_not_null",
    "rename_table",
    "create_index",
    "drop_index",
    "add_foreign_key",
    "add_check",
    "add_unique",
    "raw_sql",
];

/// The batch keys of the kinds whose phases backfill (as in `[[backfill]]`).
const BATCH_KEYS: [&str; 4] = [
    "batch_size",
    "pause",
    "target_batch_time",
    "max_replication_lag",
];

/// Whether `kind`'s phases may backfill, so that the batch keys apply to it.
fn backfills(kind: &str) -> bool {
    matches!(
        kind,
        "rename_column" | "change_column_type" | "add_column" | "drop_column" | "set_not_null"
    )
}

/// The per-engine tables (`[operation.mysql]`).
const ENGINES: [&str; 3] = ["postgres", "mysql", "sqlite"];

/// The `ON DELETE` actions `add_foreign_key` accepts.
const ON_DELETE: [&str; 5] = [
    "CASCADE",
    "SET NULL",
    "SET DEFAULT",
    "RESTRICT",
    "NO ACTION",
];

/// The keys a kind takes besides `kind` and the engine tables.
fn keys_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "rename_column" => &["table", "column", "to"],
        "change_column_type" => &["table", "column", "to", "type", "up", "down"],
        "add_column" => &["table", "column", "type", "not_null", "default", "up"],
        "drop_column" => &["table", "column", "down"],
        "set_not_null" => &["table", "column", "up"],
        "rename_table" => &["table", "to"],
        "create_index" => &["table", "name", "columns", "unique"],
        "drop_index" => &["table", "name"],
        "add_foreign_key" => &[
            "table",
            "name",
            "columns",
            "references",
            "referenced_columns",
            "on_delete",
        ],
        "add_check" => &["table", "name", "check"],
        "add_unique" => &["table", "name", "columns"],
        "raw_sql" => &["up", "down", "contract"],
        _ => &[],
    }
}

/// The keys of a kind that are SQL expressions, which an engine table may override.
fn expressions_of(kind: &str) -> Vec<&'static str> {
    keys_of(kind)
        .iter()
        .copied()
        .filter(|key| matches!(*key, "up" | "down" | "check" | "contract"))
        .collect()
}

/// Reads the `[[operation]]` tables of the `migration.toml` text at `path`.
///
/// # Errors
///
/// [`Error::BadDirective`] at the line of the offending `[[operation]]`
/// header, its message starting `migration.toml: operation <n> (<kind>):`.
pub fn parse(text: &str, path: &Path) -> Result<Vec<Operation>, Error> {
    let file: toml::Table = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map_or(1, |span| text[..span.start].matches('\n').count() + 1);
        Error::BadDirective {
            location: Location::new(path, line),
            message: format!("migration.toml: {}", e.message()),
        }
    })?;
    let entries = match file.get("operation") {
        None => return Ok(Vec::new()),
        Some(toml::Value::Array(entries)) => entries.as_slice(),
        Some(_) => {
            return Err(Error::BadDirective {
                location: Location::new(path, line_of_key(text, "operation")),
                message: "migration.toml: `operation` must be a list of `[[operation]]` tables"
                    .to_owned(),
            })
        }
    };
    let headers = header_lines(text);
    let mut operations = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let line = headers.get(index).copied().unwrap_or(1);
        let reader = Reader {
            path,
            line,
            number: index + 1,
            kind: entry
                .get("kind")
                .and_then(toml::Value::as_str)
                .unwrap_or(""),
        };
        let kind = reader.read(entry)?;
        reader.check_not_duplicate(&kind, &operations)?;
        let batch = reader.batch(entry)?;
        operations.push(Operation {
            kind,
            location: Location::new(path, line),
            batch,
        });
    }
    Ok(operations)
}

/// The 1-based lines of the `[[operation]]` headers, in order.
fn header_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let squeezed: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            squeezed.starts_with("[[operation]]")
        })
        .map(|(index, _)| index + 1)
        .collect()
}

/// The line of the first `key =` at the start of a line, else 1.
fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|line| {
            line.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(1, |index| index + 1)
}

/// Reads one `[[operation]]` table.
struct Reader<'a> {
    path: &'a Path,
    /// The line of its header.
    line: usize,
    /// Its 1-based position in the file.
    number: usize,
    /// Its `kind`, as written (empty when missing).
    kind: &'a str,
}

impl Reader<'_> {
    fn err(&self, message: impl Into<String>) -> Error {
        let kind = if self.kind.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.kind)
        };
        Error::BadDirective {
            location: Location::new(self.path, self.line),
            message: format!(
                "migration.toml: operation {}{kind}: {}",
                self.number,
                message.into()
            ),
        }
    }

    fn read(&self, entry: &toml::Value) -> Result<Kind, Error> {
        let Some(table) = entry.as_table() else {
            return Err(self.err("must be a table"));
        };
        match table.get("kind") {
            None => {
                return Err(self.err(format!(
                    "`kind` is missing: write `kind = \"<kind>\"`, one of {}",
                    list(&KINDS)
                )))
            }
            Some(value) if value.as_str().is_none() => {
                return Err(self.err(format!("`kind` must be a string, one of {}", list(&KINDS))))
            }
            Some(_) => {}
        }
        if !KINDS.contains(&self.kind) {
            return Err(self.err(format!(
                "unknown kind `{}`: the kinds are {}",
                self.kind,
                list(&KINDS)
            )));
        }
        let keys = keys_of(self.kind);
        let mut overrides: BTreeMap<&str, BTreeMap<Engine, String>> = BTreeMap::new();
        for (key, value) in table {
            if key == "kind"
                || keys.contains(&key.as_str())
                || (backfills(self.kind) && BATCH_KEYS.contains(&key.as_str()))
            {
                continue;
            }
            if let Some(engine_table) = value.as_table() {
                self.read_engine_table(key, engine_table, &mut overrides)?;
                continue;
            }
            let batch = if backfills(self.kind) {
                format!(", the batch keys {}", list(&BATCH_KEYS))
            } else {
                String::new()
            };
            return Err(self.err(format!(
                "unknown key `{key}`: `{}` takes {}{batch}, and per-engine tables [operation.<engine>] ({})",
                self.kind,
                list(keys),
                ENGINES.join(", ")
            )));
        }
        let fields = Fields {
            reader: self,
            table,
            overrides,
        };
        fields.kind()
    }

    fn read_engine_table<'t>(
        &self,
        key: &str,
        engine_table: &'t toml::Table,
        overrides: &mut BTreeMap<&'t str, BTreeMap<Engine, String>>,
    ) -> Result<(), Error> {
        if !ENGINES.contains(&key) {
            return Err(self.err(format!(
                "unknown engine `{key}` in [operation.{key}]: the per-engine tables are {}",
                ENGINES
                    .iter()
                    .map(|e| format!("[operation.{e}]"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let engine = key.parse::<Engine>().map_err(|e| self.err(e.to_string()))?;
        let expressions = expressions_of(self.kind);
        for (name, value) in engine_table {
            let Some(expression) = expressions.iter().find(|e| **e == name.as_str()) else {
                let takes = if expressions.is_empty() {
                    format!("`{}` has no expression to override", self.kind)
                } else {
                    format!(
                        "[operation.{key}] of `{}` overrides {}",
                        self.kind,
                        list(&expressions)
                    )
                };
                return Err(self.err(format!(
                    "unknown key `{name}` in [operation.{key}]: {takes}"
                )));
            };
            let Some(sql) = value.as_str() else {
                return Err(self.err(format!(
                    "`{name}` in [operation.{key}] must be a string of SQL"
                )));
            };
            if sql.trim().is_empty() {
                return Err(self.err(format!(
                    "`{name}` in [operation.{key}] is empty: write the expression for {key}, or remove it"
                )));
            }
            overrides
                .entry(expression)
                .or_default()
                .insert(engine, sql.to_owned());
        }
        Ok(())
    }

    /// The batch settings of an operation that backfills (checked by `read`
    /// to appear only on such kinds).
    fn batch(&self, entry: &toml::Value) -> Result<BatchSettings, Error> {
        let text = |key: &str| -> Result<Option<&str>, Error> {
            match entry.get(key) {
                None => Ok(None),
                Some(value) => value.as_str().map(Some).ok_or_else(|| {
                    self.err(format!("`{key}` must be a duration string like \"50ms\""))
                }),
            }
        };
        let size = match entry.get("batch_size") {
            None => None,
            Some(value) => Some(
                value
                    .as_integer()
                    .and_then(|n| u64::try_from(n).ok())
                    .ok_or_else(|| self.err("`batch_size` must be a whole number of rows"))?,
            ),
        };
        BatchSettings::read(
            size,
            text("pause")?,
            text("target_batch_time")?,
            text("max_replication_lag")?,
        )
        .map_err(|message| self.err(message))
    }

    /// Two operations changing one column (or one table's name) of a migration.
    fn check_not_duplicate(&self, kind: &Kind, earlier: &[Operation]) -> Result<(), Error> {
        let mine = touched(kind);
        for other in earlier {
            let theirs = touched(&other.kind);
            if let Some(name) = mine.iter().find(|m| theirs.contains(m)) {
                return Err(self.err(format!(
                    "`{name}` is also changed by the operation at line {} ({}): one operation per \
                     column; put the second change in a later migration",
                    other.location.line(),
                    other.kind.name()
                )));
            }
        }
        Ok(())
    }
}

/// What an operation changes, for the duplicate check: `table.column` of
/// column operations (and their `to`), `table` of `rename_table`.
fn touched(kind: &Kind) -> Vec<String> {
    match kind {
        Kind::RenameColumn { table, column, to }
        | Kind::ChangeColumnType {
            table, column, to, ..
        } => vec![format!("{table}.{column}"), format!("{table}.{to}")],
        Kind::AddColumn { table, column, .. }
        | Kind::DropColumn { table, column, .. }
        | Kind::SetNotNull { table, column, .. } => vec![format!("{table}.{column}")],
        Kind::RenameTable { table, to } => vec![table.clone(), to.clone()],
        _ => Vec::new(),
    }
}

fn list(keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The keys of one `[[operation]]`, read by type.
struct Fields<'a> {
    reader: &'a Reader<'a>,
    table: &'a toml::Table,
    overrides: BTreeMap<&'a str, BTreeMap<Engine, String>>,
}

impl Fields<'_> {
    fn kind(&self) -> Result<Kind, Error> {
        let kind = match self.reader.kind {
            "rename_column" => {
                let (table, column) = (self.name("table")?, self.name("column")?);
                let to = self.new_name("to", "column", &column)?;
                Kind::RenameColumn { table, column, to }
            }
            "change_column_type" => {
                let (table, column) = (self.name("table")?, self.name("column")?);
                let to = self.new_name("to", "column", &column)?;
                Kind::ChangeColumnType {
                    table,
                    column,
                    to,
                    data_type: self.name("type")?,
                    up: self.required_expr("up", "the new column's value from the old row")?,
                    down: self.required_expr("down", "the old column's value from the new row")?,
                }
            }
            "add_column" => {
                let (table, column) = (self.name("table")?, self.name("column")?);
                let not_null = self.flag("not_null")?;
                let default = self.optional_text("default")?;
                let up = self.expr("up")?;
                if not_null && default.is_none() && up.is_none() {
                    return Err(self.reader.err(
                        "`not_null = true` without `default` needs `up`: the value for existing \
                         rows and for rows the old application version writes \
                         (e.g. `up = \"''\"`), or give a `default`",
                    ));
                }
                Kind::AddColumn {
                    table,
                    column,
                    data_type: self.name("type")?,
                    not_null,
                    default,
                    up,
                }
            }
            "drop_column" => Kind::DropColumn {
                table: self.name("table")?,
                column: self.name("column")?,
                down: self.expr("down")?,
            },
            "set_not_null" => Kind::SetNotNull {
                table: self.name("table")?,
                column: self.name("column")?,
                up: self.required_expr("up", "the value that replaces NULL (e.g. `up = \"0\"`)")?,
            },
            "rename_table" => {
                let table = self.name("table")?;
                let to = self.new_name("to", "table", &table)?;
                Kind::RenameTable { table, to }
            }
            "create_index" => Kind::CreateIndex {
                table: self.name("table")?,
                name: self.name("name")?,
                columns: self.columns("columns")?,
                unique: self.flag("unique")?,
            },
            "drop_index" => Kind::DropIndex {
                table: self.name("table")?,
                name: self.name("name")?,
            },
            "add_foreign_key" => {
                let columns = self.columns("columns")?;
                let referenced_columns = self.columns("referenced_columns")?;
                if columns.len() != referenced_columns.len() {
                    return Err(self.reader.err(format!(
                        "`columns` has {} column(s) and `referenced_columns` {}: name one \
                         referenced column per referencing column",
                        columns.len(),
                        referenced_columns.len()
                    )));
                }
                Kind::AddForeignKey {
                    table: self.name("table")?,
                    name: self.name("name")?,
                    columns,
                    references: self.name("references")?,
                    referenced_columns,
                    on_delete: self.on_delete()?,
                }
            }
            "add_check" => Kind::AddCheck {
                table: self.name("table")?,
                name: self.name("name")?,
                check: self.required_expr("check", "the condition, e.g. `check = \"age >= 0\"`")?,
            },
            "add_unique" => Kind::AddUnique {
                table: self.name("table")?,
                name: self.name("name")?,
                columns: self.columns("columns")?,
            },
            _ => Kind::RawSql {
                up: self.required_expr("up", "the SQL to run at expand")?,
                down: self.expr("down")?,
                contract: self.expr("contract")?,
            },
        };
        Ok(kind)
    }

    /// A string key, as written (`None` when absent); an error when it is no string.
    fn text(&self, key: &str) -> Result<Option<String>, Error> {
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.reader.err(format!(
                "`{key}` must be a string, found {}",
                other.type_str()
            ))),
        }
    }

    /// A required, non-empty name.
    fn name(&self, key: &str) -> Result<String, Error> {
        let what = match key {
            "table" => "the table it changes",
            "column" => "the column it changes",
            "name" => "the name of the index or constraint",
            "type" => "the column's type as the engine spells it (e.g. `type = \"BIGINT\"`)",
            "references" => "the referenced table",
            _ => "a value",
        };
        match self.text(key)? {
            None => Err(self.reader.err(format!("`{key}` is missing: give {what}"))),
            Some(name) if name.trim().is_empty() => {
                Err(self.reader.err(format!("`{key}` is empty: give {what}")))
            }
            Some(name) => Ok(name),
        }
    }

    /// The required new name `key` of the `what` named `old`, which must differ.
    fn new_name(&self, key: &str, what: &str, old: &str) -> Result<String, Error> {
        match self.text(key)? {
            None => Err(self
                .reader
                .err(format!("`{key}` is missing: give the {what}'s new name"))),
            Some(name) if name.trim().is_empty() => Err(self
                .reader
                .err(format!("`{key}` is empty: give the {what}'s new name"))),
            Some(name) if name == old => Err(self.reader.err(format!(
                "`{key}` is `{old}`, the {what}'s current name: give a new name"
            ))),
            Some(name) => Ok(name),
        }
    }

    /// An optional string that may not be blank when given.
    fn optional_text(&self, key: &str) -> Result<Option<String>, Error> {
        match self.text(key)? {
            Some(value) if value.trim().is_empty() => Err(self.reader.err(format!(
                "`{key}` is empty: write a value, or remove the key"
            ))),
            value => Ok(value),
        }
    }

    /// An optional SQL expression with its engine overrides.
    fn expr(&self, key: &str) -> Result<Option<Expr>, Error> {
        let overrides = self.overrides.get(key).cloned().unwrap_or_default();
        match self.optional_text(key)? {
            Some(sql) => Ok(Some(Expr { sql, overrides })),
            None if overrides.is_empty() => Ok(None),
            None => {
                let engines: Vec<&str> = overrides.keys().map(|e| e.as_str()).collect();
                Err(self.reader.err(format!(
                    "`{key}` is given for {} only: write `{key}` in the [[operation]] table too, \
                     for the other engines",
                    engines.join(", ")
                )))
            }
        }
    }

    fn required_expr(&self, key: &str, what: &str) -> Result<Expr, Error> {
        self.expr(key)?.ok_or_else(|| {
            self.reader.err(format!(
                "`{key}` is missing: `{}` needs {what}",
                self.reader.kind
            ))
        })
    }

    fn flag(&self, key: &str) -> Result<bool, Error> {
        match self.table.get(key) {
            None => Ok(false),
            Some(toml::Value::Boolean(b)) => Ok(*b),
            Some(other) => Err(self.reader.err(format!(
                "`{key}` must be true or false, found {}",
                other.type_str()
            ))),
        }
    }

    /// A required, non-empty list of distinct, non-empty column names.
    fn columns(&self, key: &str) -> Result<Vec<String>, Error> {
        let example = format!("`{key} = [\"a\", \"b\"]`");
        let Some(value) = self.table.get(key) else {
            return Err(self.reader.err(format!(
                "`{key}` is missing: list the columns, e.g. {example}"
            )));
        };
        let Some(items) = value.as_array() else {
            return Err(self.reader.err(format!(
                "`{key}` must be a list of column names, e.g. {example}"
            )));
        };
        if items.is_empty() {
            return Err(self.reader.err(format!(
                "`{key}` is empty: list the columns, e.g. {example}"
            )));
        }
        let mut columns: Vec<String> = Vec::with_capacity(items.len());
        for item in items {
            match item.as_str() {
                Some(name) if name.trim().is_empty() => {
                    return Err(self
                        .reader
                        .err(format!("`{key}` holds an empty column name")))
                }
                Some(name) if columns.iter().any(|c| c == name) => {
                    return Err(self.reader.err(format!("`{key}` names `{name}` twice")))
                }
                Some(name) => columns.push(name.to_owned()),
                None => {
                    return Err(self.reader.err(format!(
                        "`{key}` must be a list of column names, e.g. {example}"
                    )))
                }
            }
        }
        Ok(columns)
    }

    fn on_delete(&self) -> Result<Option<String>, Error> {
        let Some(action) = self.text("on_delete")? else {
            return Ok(None);
        };
        let normalised = action.split_whitespace().collect::<Vec<_>>().join(" ");
        let upper = normalised.to_ascii_uppercase();
        if ON_DELETE.contains(&upper.as_str()) {
            Ok(Some(upper))
        } else {
            Err(self.reader.err(format!(
                "`on_delete` is `{action}`: write one of {}",
                list(&ON_DELETE)
            )))
        }
    }
}

#[cfg(test)]
mod tests;
