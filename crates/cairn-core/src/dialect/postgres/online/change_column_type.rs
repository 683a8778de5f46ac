//! `change_column_type` (t.o → n of a new type, `up` and `down`): as
//! `rename_column`, with the new type and the user's expressions; a default
//! of the old column is carried where it fits the new type. See `dual.rs`.

use super::dual::{self, Dual};
use super::{sql, Target};
use crate::operation::Phases;

/// The phases of replacing `table.column` by `to` of `data_type`.
pub(super) fn compile(
    table: &Target,
    column: &str,
    to: &str,
    data_type: &str,
    (up, down): (&str, &str),
    location: &str,
) -> Result<Phases, String> {
    let old_column = table.column(column)?;
    table.column_is_new(to)?;
    table.has_primary_key("change_column_type")?;
    dual::refuse_special(table, column, old_column, "change_column_type")?;
    if data_type.trim().is_empty() {
        return Err(
            "`type` is empty: give the new column's type, e.g. `type = \"bigint\"`".to_owned(),
        );
    }
    let mut columns: Vec<String> = table.table.columns.keys().cloned().collect();
    columns.push(to.to_owned());
    let dual = Dual {
        table,
        old: column,
        old_column,
        new: to,
        new_type: data_type.to_owned(),
        same_values: false,
        up: (
            format!("({up})"),
            format!("({})", sql::of_row(up, "NEW", &columns)),
        ),
        down: (
            format!("({down})"),
            format!("({})", sql::of_row(down, "NEW", &columns)),
        ),
    };
    Ok(dual.phases(location))
}
