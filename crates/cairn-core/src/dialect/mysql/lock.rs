//! The migration lock of the MySQL family (`GET_LOCK`), as every driver of
//! the family names it and tells who holds it: one place, so that two
//! drivers on one database (the mysql_async one and the sqlx adapter) always
//! take the same lock.

use crate::driver::{Driver, DriverError, DriverErrorKind};

/// `GET_LOCK` names are at most 64 characters.
const NAME_LIMIT: usize = 64;

/// The name of the migration lock of the connection's database:
/// `cairn:<database>`, or `cairn:<md5 of that>` when it is longer than the
/// 64 characters `GET_LOCK` takes.
///
/// # Errors
///
/// The query's error, or [`DriverErrorKind::Other`] when the server
/// returned no name.
pub async fn lock_name(driver: &mut dyn Driver) -> Result<String, DriverError> {
    let rows = driver
        .query("SELECT CONCAT('cairn:', IFNULL(DATABASE(), '')), CONCAT('cairn:', MD5(CONCAT('cairn:', IFNULL(DATABASE(), ''))))")
        .await?;
    let mut row = rows
        .into_iter()
        .next()
        .unwrap_or_default()
        .into_iter()
        .flatten();
    match (row.next(), row.next()) {
        (Some(name), _) if name.chars().count() <= NAME_LIMIT => Ok(name),
        (_, Some(hashed)) => Ok(hashed),
        _ => Err(DriverError::new(
            DriverErrorKind::Other,
            "the server returned no name for the migration lock",
        )),
    }
}

/// Who holds lock `name`, in words, with what to do if that run is dead.
///
/// # Errors
///
/// The error of a query.
pub async fn lock_holder(driver: &mut dyn Driver, name: &str) -> Result<String, DriverError> {
    let literal = driver.dialect().string_literal(name);
    let id = driver
        .query(&format!("SELECT IS_USED_LOCK({literal})"))
        .await?
        .into_iter()
        .next()
        .and_then(|row| row.into_iter().next())
        .flatten();
    let Some(id) = id else {
        return Ok(format!(
            "the migration lock `{name}` was taken by another session and released just as the wait ended; try again"
        ));
    };
    let server = driver.dialect().flavour().name();
    let rows = driver
        .query(&format!(
            "SELECT USER, HOST, IFNULL(DB, ''), COMMAND, TIME, IFNULL(STATE, '') FROM information_schema.PROCESSLIST WHERE ID = {}",
            id.parse::<u64>().unwrap_or(0)
        ))
        .await?;
    let details = match rows.into_iter().next() {
        Some(row) => {
            let field = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
            let state = match field(5) {
                state if state.is_empty() => String::new(),
                state => format!(", state `{state}`"),
            };
            format!(
                " (user {}, host {}, database `{}`, command {} for {} s{state})",
                field(0),
                field(1),
                field(2),
                field(3),
                field(4)
            )
        }
        None => " (its details are hidden: this user lacks the PROCESS privilege)".to_owned(),
    };
    Ok(format!(
        "the migration lock `{name}` is held by {server} connection {id}{details}; if that run is dead, end it with `KILL {id}`"
    ))
}
