//! The difference between two [`Snapshot`]s, object by object and attribute
//! by attribute, in the order of [`Snapshot::to_text`].
//!
//! A changed view or function definition is shown as a line diff
//! ([`line_diff`], a longest-common-subsequence diff written here), not as
//! the two whole definitions.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use super::{Snapshot, Table};

/// The kind of a schema object in a [`Difference`]'s path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ObjectKind {
    /// A schema (PostgreSQL).
    Schema,
    /// An extension (PostgreSQL).
    Extension,
    /// A table.
    Table,
    /// A table's column.
    Column,
    /// The order of a table's columns.
    ColumnOrder,
    /// A table's primary key.
    PrimaryKey,
    /// A unique constraint.
    Unique,
    /// An index.
    Index,
    /// A foreign key.
    ForeignKey,
    /// A check constraint.
    Check,
    /// A view.
    View,
    /// A trigger.
    Trigger,
    /// A sequence.
    Sequence,
    /// An enum type.
    Enum,
    /// A function or procedure.
    Function,
}

impl ObjectKind {
    /// How the kind reads in a message.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Schema => "schema",
            ObjectKind::Extension => "extension",
            ObjectKind::Table => "table",
            ObjectKind::Column => "column",
            ObjectKind::ColumnOrder => "column order",
            ObjectKind::PrimaryKey => "primary key",
            ObjectKind::Unique => "unique constraint",
            ObjectKind::Index => "index",
            ObjectKind::ForeignKey => "foreign key",
            ObjectKind::Check => "check constraint",
            ObjectKind::View => "view",
            ObjectKind::Trigger => "trigger",
            ObjectKind::Sequence => "sequence",
            ObjectKind::Enum => "enum",
            ObjectKind::Function => "function",
        }
    }
}

/// What happened to the object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "change")]
pub enum Change {
    /// It exists only after; `definition` describes it.
    Added {
        /// What was added, as [`Snapshot::to_text`] would show it.
        definition: String,
    },
    /// It exists only before.
    Removed {
        /// What was removed.
        definition: String,
    },
    /// One of its attributes differs.
    Changed {
        /// Which attribute (`default`, `type`, `columns`, ...).
        attribute: String,
        /// Its value before (`NULL` for none).
        before: String,
        /// Its value after.
        after: String,
    },
}

/// One difference between two snapshots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The object, outermost first: `[(Table, "users"), (Column, "email")]`.
    /// The primary key and the column order have an empty name.
    pub path: Vec<(ObjectKind, String)>,
    /// What happened to it.
    #[serde(flatten)]
    pub change: Change,
}

impl Difference {
    /// The path as text: ``table `users`: column `email` ``.
    pub fn path_text(&self) -> String {
        self.path
            .iter()
            .map(|(kind, name)| {
                if name.is_empty() {
                    kind.as_str().to_owned()
                } else {
                    format!("{} `{name}`", kind.as_str())
                }
            })
            .collect::<Vec<_>>()
            .join(": ")
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path_text())?;
        match &self.change {
            Change::Added { definition } => write!(f, " added: {definition}"),
            Change::Removed { definition } => write!(f, " removed (was: {definition})"),
            Change::Changed {
                attribute,
                before,
                after,
            } if attribute == "definition" => {
                write!(f, " definition changed:")?;
                for line in line_diff(&definition_lines(before), &definition_lines(after)) {
                    write!(f, "\n  {line}")?;
                }
                Ok(())
            }
            // The path already says `column order`.
            Change::Changed { before, after, .. }
                if self
                    .path
                    .last()
                    .is_some_and(|(k, _)| *k == ObjectKind::ColumnOrder) =>
            {
                write!(f, " changed from `{before}` to `{after}`")
            }
            Change::Changed {
                attribute,
                before,
                after,
            } => write!(f, " {attribute} changed from `{before}` to `{after}`"),
        }
    }
}

/// How [`diff_with`] compares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiffOptions {
    /// Leave out differences in the order of a table's columns (a column
    /// added back at the end by a down and up again).
    pub ignore_column_order: bool,
}

/// A definition as lines for [`line_diff`]: its own lines where it has
/// several (a function as PostgreSQL prints it), else a one-line SQL text
/// broken before each clause keyword and after each top-level comma.
fn definition_lines(text: &str) -> Vec<String> {
    if text.trim().contains('\n') {
        return text.lines().map(|l| l.trim_end().to_owned()).collect();
    }
    const BREAK_BEFORE: &[&str] = &[
        "SELECT",
        "FROM",
        "WHERE",
        "JOIN",
        "LEFT",
        "RIGHT",
        "INNER",
        "FULL",
        "CROSS",
        "GROUP",
        "HAVING",
        "ORDER",
        "LIMIT",
        "UNION",
        "EXCEPT",
        "INTERSECT",
        "AND",
        "OR",
        "WINDOW",
        "RETURNING",
        "BEGIN",
        "END",
    ];
    let mut lines = Vec::new();
    let mut line = String::new();
    let (mut quote, mut depth) = (None::<char>, 0usize);
    for word in split_words(text) {
        let upper = word.to_ascii_uppercase();
        if quote.is_none()
            && depth == 0
            && BREAK_BEFORE.contains(&upper.as_str())
            && !line.is_empty()
        {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        for c in word.chars() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if matches!(c, '\'' | '"' | '`') => quote = Some(c),
                None if c == '(' => depth += 1,
                None if c == ')' => depth = depth.saturating_sub(1),
                None => {}
            }
        }
        if quote.is_none() && depth == 0 && word.ends_with(',') {
            lines.push(std::mem::take(&mut line));
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn split_words(text: &str) -> impl Iterator<Item = &str> {
    text.split(' ').filter(|w| !w.is_empty())
}

/// The lines only in `before` (`- line`) and only in `after` (`+ line`), in
/// order, from a longest common subsequence of the two; unchanged lines are
/// left out. Empty when the two are the same.
pub fn line_diff(before: &[String], after: &[String]) -> Vec<String> {
    let (n, m) = (before.len(), after.len());
    // lcs[i][j]: the longest common subsequence of before[i..] and after[j..].
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if before[i] == after[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < n || j < m {
        if i < n && j < m && before[i] == after[j] {
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(format!("- {}", before[i]));
            i += 1;
        } else {
            out.push(format!("+ {}", after[j]));
            j += 1;
        }
    }
    out
}

/// What changed from `before` to `after`, in a stable order (enums, sequences,
/// functions, tables with their parts, views, triggers; by name within each). Empty when
/// the two are the same.
pub fn diff(before: &Snapshot, after: &Snapshot) -> Vec<Difference> {
    diff_with(before, after, &DiffOptions::default())
}

/// [`diff`], compared as `options` say.
pub fn diff_with(before: &Snapshot, after: &Snapshot, options: &DiffOptions) -> Vec<Difference> {
    let mut out = Vec::new();
    let root: Vec<(ObjectKind, String)> = Vec::new();
    let set = |names: &BTreeSet<String>| -> BTreeMap<String, ()> {
        names.iter().map(|n| (n.clone(), ())).collect()
    };
    compare_maps(
        &mut out,
        &root,
        ObjectKind::Schema,
        &set(&before.schemas),
        &set(&after.schemas),
        |()| "(schema)".to_owned(),
        |()| Vec::new(),
    );
    compare_maps(
        &mut out,
        &root,
        ObjectKind::Extension,
        &before.extensions,
        &after.extensions,
        |schema| format!("in schema {schema}"),
        |schema| vec![("schema", schema.clone())],
    );
    compare_maps(
        &mut out,
        &root,
        ObjectKind::Enum,
        &before.enums,
        &after.enums,
        |labels| format!("({})", super::enum_labels(after.engine, labels)),
        |labels| vec![("labels", super::enum_labels(after.engine, labels))],
    );
    compare_maps(
        &mut out,
        &root,
        ObjectKind::Sequence,
        &before.sequences,
        &after.sequences,
        |s| s.describe(),
        |s| s.attributes(),
    );
    compare_maps(
        &mut out,
        &root,
        ObjectKind::Function,
        &before.functions,
        &after.functions,
        |definition| super::describe_function(definition),
        |definition| vec![("definition", definition.trim().to_owned())],
    );
    for (name, table) in &before.tables {
        match after.tables.get(name) {
            None => out.push(Difference {
                path: vec![(ObjectKind::Table, name.clone())],
                change: Change::Removed {
                    definition: table_summary(table),
                },
            }),
            Some(other) if other != table => compare_tables(&mut out, name, table, other, options),
            Some(_) => {}
        }
    }
    for (name, table) in &after.tables {
        if !before.tables.contains_key(name) {
            out.push(Difference {
                path: vec![(ObjectKind::Table, name.clone())],
                change: Change::Added {
                    definition: table_summary(table),
                },
            });
        }
    }
    compare_maps(
        &mut out,
        &root,
        ObjectKind::View,
        &before.views,
        &after.views,
        |v| v.describe(),
        |v| v.attributes(),
    );
    compare_maps(
        &mut out,
        &root,
        ObjectKind::Trigger,
        &before.triggers,
        &after.triggers,
        |t| t.describe(),
        |t| t.attributes(),
    );
    out
}

fn table_summary(table: &Table) -> String {
    let columns: Vec<String> = table
        .column_order
        .iter()
        .filter_map(|name| {
            table
                .columns
                .get(name)
                .map(|c| format!("{name} {}", c.describe()))
        })
        .collect();
    format!("({})", columns.join(", "))
}

fn compare_tables(
    out: &mut Vec<Difference>,
    name: &str,
    before: &Table,
    after: &Table,
    options: &DiffOptions,
) {
    let path = vec![(ObjectKind::Table, name.to_owned())];
    compare_maps(
        out,
        &path,
        ObjectKind::Column,
        &before.columns,
        &after.columns,
        |c| c.describe(),
        |c| c.attributes(),
    );
    // The order of the columns both sides have: an added or removed column is
    // reported once above, not again as a change of order.
    let common = |order: &[String], other: &Table| -> Vec<String> {
        order
            .iter()
            .filter(|c| other.columns.contains_key(*c))
            .cloned()
            .collect()
    };
    let (order_before, order_after) = (
        common(&before.column_order, after),
        common(&after.column_order, before),
    );
    if order_before != order_after && !options.ignore_column_order {
        out.push(Difference {
            path: [path.clone(), vec![(ObjectKind::ColumnOrder, String::new())]].concat(),
            change: Change::Changed {
                attribute: "order".to_owned(),
                before: order_before.join(", "),
                after: order_after.join(", "),
            },
        });
    }
    let pk = |table: &Table| -> BTreeMap<String, super::PrimaryKey> {
        table
            .primary_key
            .iter()
            .map(|pk| (String::new(), pk.clone()))
            .collect()
    };
    compare_maps(
        out,
        &path,
        ObjectKind::PrimaryKey,
        &pk(before),
        &pk(after),
        |pk| pk.describe(),
        |pk| pk.attributes(),
    );
    compare_maps(
        out,
        &path,
        ObjectKind::Unique,
        &before.unique_constraints,
        &after.unique_constraints,
        |columns| format!("({})", columns.join(", ")),
        |columns| vec![("columns", columns.join(", "))],
    );
    compare_maps(
        out,
        &path,
        ObjectKind::Index,
        &before.indexes,
        &after.indexes,
        |i| i.describe(),
        |i| i.attributes(),
    );
    compare_maps(
        out,
        &path,
        ObjectKind::ForeignKey,
        &before.foreign_keys,
        &after.foreign_keys,
        |fk| fk.describe(),
        |fk| fk.attributes(),
    );
    compare_maps(
        out,
        &path,
        ObjectKind::Check,
        &before.checks,
        &after.checks,
        Clone::clone,
        |check| vec![("expression", check.clone())],
    );
}

/// Removed, changed (attribute by attribute) and added entries of two maps of one kind.
fn compare_maps<T: PartialEq>(
    out: &mut Vec<Difference>,
    parent: &[(ObjectKind, String)],
    kind: ObjectKind,
    before: &BTreeMap<String, T>,
    after: &BTreeMap<String, T>,
    describe: impl Fn(&T) -> String,
    attributes: impl Fn(&T) -> Vec<(&'static str, String)>,
) {
    let path = |name: &str| {
        let mut path = parent.to_vec();
        path.push((kind, name.to_owned()));
        path
    };
    for (name, old) in before {
        match after.get(name) {
            None => out.push(Difference {
                path: path(name),
                change: Change::Removed {
                    definition: describe(old),
                },
            }),
            Some(new) if new != old => {
                for ((attribute, was), (_, is)) in attributes(old).into_iter().zip(attributes(new))
                {
                    if was != is {
                        out.push(Difference {
                            path: path(name),
                            change: Change::Changed {
                                attribute: attribute.to_owned(),
                                before: was,
                                after: is,
                            },
                        });
                    }
                }
            }
            Some(_) => {}
        }
    }
    for (name, new) in after {
        if !before.contains_key(name) {
            out.push(Difference {
                path: path(name),
                change: Change::Added {
                    definition: describe(new),
                },
            });
        }
    }
}
