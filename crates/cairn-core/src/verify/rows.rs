//! The rows of the tables a migration found in place, before and after its
//! down and up again: read as a multiset of text values ([`read_rows`]) and
//! compared ([`compare_rows`], [`compare_kept_rows`]), so a finding can say
//! how many rows went and show one.

use std::fmt::Write as _;

use serde::Serialize;

use crate::driver::{Driver, Rows};
use crate::error::Error;
use crate::history::quote_ident;
use crate::schema::Snapshot;

/// One row as read back: every value as text.
type Row = Vec<Option<String>>;

/// A table's rows, `columns` of each, as text, sorted (a multiset).
pub async fn read_rows(
    driver: &mut dyn Driver,
    table: &str,
    columns: &[String],
) -> Result<Rows, Error> {
    let engine = driver.dialect().engine();
    if columns.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {} FROM {}",
        columns
            .iter()
            .map(|c| quote_ident(engine, c))
            .collect::<Vec<_>>()
            .join(", "),
        crate::schema::quote_key(engine, table)
    );
    let mut rows = driver
        .query(&sql)
        .await
        .map_err(|e| Error::driver(engine, format!("cannot read the rows of `{table}`"), e))?;
    rows.sort();
    Ok(rows)
}

/// Rows of a surviving table that down and up again did not give back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowsFinding {
    /// The table.
    pub table: String,
    /// The columns compared (those the table had before the migration).
    pub columns: Vec<String>,
    /// Rows after the first up (and the seed rows).
    pub rows_before: usize,
    /// Rows after down and up again.
    pub rows_after: usize,
    /// Rows that are no longer there (lost, or changed).
    pub missing: usize,
    /// Rows there now that were not before (changed, or new).
    pub unexpected: usize,
    /// The finding as a sentence.
    pub message: String,
}

/// Compares the rows of `table` before and after (both sorted, as
/// [`read_rows`] gives them); `None` when they are the same multiset.
pub fn compare_rows(
    table: &str,
    columns: &[String],
    before: &Rows,
    after: &Rows,
) -> Option<RowsFinding> {
    compare_kept_rows(table, columns, before, &Vec::new(), after)
}

/// Like [`compare_rows`], but `made` (sorted) are rows the migration's up
/// script itself inserted or changed (read before and after it: what up
/// added to the table). Those are not expected back as they were, since up
/// makes them again, maybe with other values (`CURRENT_TIMESTAMP`): they are
/// left out of `before`, and as many rows of `after` as up made may be new.
pub fn compare_kept_rows(
    table: &str,
    columns: &[String],
    before: &Rows,
    made: &Rows,
    after: &Rows,
) -> Option<RowsFinding> {
    let expected = subtract(before, made);
    let (missing, _) = multiset_difference(&expected, after);
    let (_, appeared) = multiset_difference(before, after);
    let unexpected: Vec<&Row> = appeared.into_iter().skip(made.len()).collect();
    if missing.is_empty() && unexpected.is_empty() {
        return None;
    }
    let before = &expected;
    let show = |row: &Row| {
        let cells: Vec<String> = columns
            .iter()
            .zip(row)
            .map(|(c, v)| format!("{c}={}", v.as_deref().unwrap_or("NULL")))
            .collect();
        format!("({})", cells.join(", "))
    };
    let mut message = format!("table `{table}`: ");
    if unexpected.is_empty() {
        let _ = write!(
            message,
            "{} of {} rows lost by down and up again, e.g. {}",
            missing.len(),
            before.len(),
            missing.first().map(|r| show(r)).unwrap_or_default()
        );
    } else if missing.is_empty() {
        let _ = write!(
            message,
            "{} rows appeared after down and up again ({} before), e.g. {}",
            unexpected.len(),
            before.len(),
            unexpected.first().map(|r| show(r)).unwrap_or_default()
        );
    } else {
        let _ = write!(
            message,
            "{} of {} rows changed or lost by down and up again ({} after), e.g. {} is now {}",
            missing.len(),
            before.len(),
            after.len(),
            missing.first().map(|r| show(r)).unwrap_or_default(),
            unexpected.first().map(|r| show(r)).unwrap_or_default()
        );
    }
    Some(RowsFinding {
        table: table.to_owned(),
        columns: columns.to_vec(),
        rows_before: before.len(),
        rows_after: after.len(),
        missing: missing.len(),
        unexpected: unexpected.len(),
        message,
    })
}

/// The rows of `rows` that are not in `remove`, counting duplicates; both
/// sorted, and so is the result.
pub fn subtract(rows: &Rows, remove: &Rows) -> Rows {
    multiset_difference(rows, remove)
        .0
        .into_iter()
        .cloned()
        .collect()
}

/// `rows` (sorted, of `all` columns) reduced to the columns `keep`, sorted again.
pub fn project(rows: &Rows, all: &[String], keep: &[String]) -> Rows {
    let at: Vec<usize> = keep
        .iter()
        .filter_map(|c| all.iter().position(|a| a == c))
        .collect();
    let mut out: Rows = rows
        .iter()
        .map(|row| at.iter().map(|&i| row.get(i).cloned().flatten()).collect())
        .collect();
    out.sort();
    out
}

/// The rows only in `before` and only in `after`, counting duplicates; both sorted.
fn multiset_difference<'a>(before: &'a Rows, after: &'a Rows) -> (Vec<&'a Row>, Vec<&'a Row>) {
    let (mut i, mut j) = (0, 0);
    let (mut missing, mut unexpected) = (Vec::new(), Vec::new());
    while i < before.len() || j < after.len() {
        match (before.get(i), after.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                missing.push(a);
                i += 1;
            }
            (Some(_), Some(b)) => {
                unexpected.push(b);
                j += 1;
            }
            (Some(a), None) => {
                missing.push(a);
                i += 1;
            }
            (None, Some(b)) => {
                unexpected.push(b);
                j += 1;
            }
            (None, None) => break,
        }
    }
    (missing, unexpected)
}

/// The tables that exist before and after a migration's up, each with the
/// columns it had before and still has: whose rows down and up again must keep.
pub fn surviving(before_up: &Snapshot, after_up: &Snapshot) -> Vec<(String, Vec<String>)> {
    before_up
        .tables
        .iter()
        .filter_map(|(name, before)| {
            let after = after_up.tables.get(name)?;
            let columns: Vec<String> = before
                .column_order
                .iter()
                .filter(|c| after.columns.contains_key(*c))
                .cloned()
                .collect();
            (!columns.is_empty()).then(|| (name.clone(), columns))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_rows_made_by_up_are_not_expected_back() {
        let row = |a: &str, b: &str| vec![Some(a.to_owned()), Some(b.to_owned())];
        let columns = vec!["id".to_owned(), "at".to_owned()];
        // Seeded row 9 and row 1, which up inserted with its clock.
        let before_up = vec![row("9", "s")];
        let after_up = vec![row("1", "10:00:00.1"), row("9", "s")];
        let made = subtract(&after_up, &before_up);
        assert_eq!(made, vec![row("1", "10:00:00.1")]);
        let again = vec![row("1", "10:00:00.2"), row("9", "s")];
        assert_eq!(
            compare_kept_rows("settings", &columns, &after_up, &made, &again),
            None
        );
        // Without knowing what up made, the new timestamp is a changed row.
        assert!(compare_rows("settings", &columns, &after_up, &again).is_some());
        // A seeded row lost is still found, and one extra row beyond what up makes.
        let lost = compare_kept_rows("settings", &columns, &after_up, &made, &vec![row("1", "x")])
            .expect("lost");
        assert_eq!((lost.missing, lost.unexpected, lost.rows_before), (1, 0, 1));
        let extra = vec![row("1", "x"), row("2", "y"), row("9", "s")];
        let more = compare_kept_rows("settings", &columns, &after_up, &made, &extra).expect("more");
        assert_eq!((more.missing, more.unexpected), (0, 1));
        assert_eq!(
            project(
                &vec![row("2", "b"), row("1", "a")],
                &columns,
                &["at".to_owned()]
            ),
            vec![vec![Some("a".to_owned())], vec![Some("b".to_owned())]]
        );
    }

    #[test]
    fn lost_and_changed_rows_are_described() {
        let row = |a: &str, b: Option<&str>| vec![Some(a.to_owned()), b.map(str::to_owned)];
        let columns = vec!["id".to_owned(), "a".to_owned()];
        let before = vec![row("1", Some("x")), row("2", Some("y"))];
        assert_eq!(compare_rows("t", &columns, &before, &before), None);
        let lost = compare_rows("t", &columns, &before, &vec![]).expect("lost");
        assert_eq!((lost.missing, lost.unexpected), (2, 0));
        assert_eq!(
            lost.message,
            "table `t`: 2 of 2 rows lost by down and up again, e.g. (id=1, a=x)"
        );
        let changed = compare_rows(
            "t",
            &columns,
            &before,
            &vec![row("1", None), row("2", Some("y"))],
        )
        .expect("changed");
        assert_eq!((changed.missing, changed.unexpected), (1, 1));
        assert!(
            changed
                .message
                .contains("(id=1, a=x) is now (id=1, a=NULL)"),
            "{}",
            changed.message
        );
    }
}
