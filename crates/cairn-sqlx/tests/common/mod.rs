//! What the engines' tests share: a sqlx migrations directory, and the
//! checks that run the same way on each engine.

use std::path::Path;
use std::time::Duration;

use cairn::{Driver, DriverErrorKind, Engine, Migrator, MigratorOptions};

/// A sqlx project's migrations directory, as `sqlx migrate add` lays it
/// out: a reversible pair, a reversible pair whose up script runs outside a
/// transaction (sqlx's `-- no-transaction`), and an up-only migration.
pub fn sqlx_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (name, text) in [
        (
            "20240101000000_create_users.up.sql",
            "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200) NOT NULL);\r\n",
        ),
        (
            "20240101000000_create_users.down.sql",
            "DROP TABLE users;\n",
        ),
        (
            "20240102000000_seed_admin.up.sql",
            "-- no-transaction\nINSERT INTO users (id, email) VALUES (1, 'admin@example.com');\n",
        ),
        (
            "20240102000000_seed_admin.down.sql",
            "DELETE FROM users WHERE id = 1;\n",
        ),
        (
            "20240103000000_add_name.sql",
            "ALTER TABLE users ADD COLUMN name VARCHAR(100);\n",
        ),
    ] {
        std::fs::write(dir.path().join(name), text).expect("write a migration");
    }
    dir
}

/// sqlx's own reading of `dir`, as `sqlx::migrate!()` would embed it.
pub async fn sqlx_set(dir: &Path) -> sqlx::migrate::Migrator {
    sqlx::migrate::Migrator::new(dir)
        .await
        .unwrap_or_else(|e| panic!("sqlx cannot read {}: {e}", dir.display()))
}

/// The migrations of a sqlx set are those Cairn reads from the same files:
/// versions, names, scripts and checksums, sqlx's `-- no-transaction`
/// kept; then they run through the driver, and again changes nothing.
pub async fn a_sqlx_set_runs_as_the_cairn_migrations_of_its_files(
    driver: &mut dyn Driver,
    engine: Engine,
) {
    let dir = sqlx_dir();
    let set = sqlx_set(dir.path()).await;
    let from_sqlx = cairn_sqlx::migrations(&set).expect("the sqlx set maps");
    let from_files = cairn::source::read_dir(dir.path()).expect("Cairn reads the directory");
    assert_eq!(from_sqlx.len(), 3);
    assert_eq!(from_sqlx.len(), from_files.len());
    for (mapped, read) in from_sqlx.iter().zip(&from_files) {
        assert_eq!(mapped.version, read.version);
        assert_eq!(mapped.name, read.name);
        assert_eq!(
            mapped.checksum(engine),
            read.checksum(engine),
            "{}",
            read.name
        );
        assert_eq!(
            mapped.up.plain.as_ref().map(|s| &s.text),
            read.up.plain.as_ref().map(|s| &s.text)
        );
        assert_eq!(
            mapped.down.plain.as_ref().map(|s| &s.text),
            read.down.plain.as_ref().map(|s| &s.text)
        );
    }
    let no_tx: Vec<bool> = from_sqlx
        .iter()
        .map(|m| m.up.plain.as_ref().expect("up").directives.no_transaction)
        .collect();
    assert_eq!(no_tx, [false, true, false], "sqlx's no_tx is kept");

    let migrator = Migrator::new(from_sqlx, MigratorOptions::default());
    let report = migrator
        .up(driver, None)
        .await
        .expect("the sqlx set applies");
    let versions: Vec<cairn::Version> = report.migrations.iter().map(|m| m.version).collect();
    assert_eq!(versions, [20240101000000, 20240102000000, 20240103000000]);
    let rows = driver
        .query("SELECT id, email, name FROM users")
        .await
        .expect("the table the migrations made");
    assert_eq!(
        rows,
        vec![vec![
            Some("1".to_owned()),
            Some("admin@example.com".to_owned()),
            None
        ]]
    );
    let again = migrator.up(driver, None).await.expect("a second run");
    assert!(again.migrations.is_empty(), "{:?}", again.migrations);
    // The files read by Cairn agree with the history the sqlx set wrote.
    let from_files = Migrator::new(from_files, MigratorOptions::default());
    let status = from_files.validate(driver).await;
    assert!(status.is_ok(), "{:?}", status.err());
}

/// A database sqlx migrated (`sqlx_ran`: sqlx's own `Migrator::run` made its
/// `_sqlx_migrations`) is refused until its history is imported, and the
/// refusal changes nothing; an empty database, and one Cairn already
/// manages, pass.
pub async fn a_database_sqlx_migrated_is_refused_until_adopted(
    sqlx_ran: &mut dyn Driver,
    empty: &mut dyn Driver,
    set: &sqlx::migrate::Migrator,
) {
    let table = cairn::HistoryTable::default();
    let err = cairn_sqlx::ensure_adopted(sqlx_ran, set, &table)
        .await
        .expect_err("a database sqlx migrated passed");
    assert_eq!(err.kind, DriverErrorKind::Other, "{err}");
    for needle in [
        "sqlx has applied 3 migration(s) to this database (up to version 20240103000000, recorded in `_sqlx_migrations`)",
        "`cairn_history` does not exist yet",
        "cairn adopt --from sqlx",
        "nothing was changed",
    ] {
        assert!(err.message.contains(needle), "{needle}: {err}");
    }
    let history = sqlx_ran.dialect().table_exists(None, "cairn_history");
    assert!(
        sqlx_ran.query(&history).await.expect("query").is_empty(),
        "the refusal created Cairn's history"
    );

    cairn_sqlx::ensure_adopted(empty, set, &table)
        .await
        .expect("an empty database passes");
    let migrator = Migrator::new(
        cairn_sqlx::migrations(set).expect("maps"),
        MigratorOptions::default(),
    );
    migrator.up(empty, None).await.expect("applies");
    cairn_sqlx::ensure_adopted(empty, set, &table)
        .await
        .expect("a database Cairn manages passes");
}

/// While a sqlx driver holds the run lock, Cairn's own driver (as the CLI
/// connects, `cairn::connect`) cannot take it, and the other way round.
pub async fn the_run_lock_excludes_cairns_own_driver(sqlx_driver: &mut dyn Driver, url: &str) {
    let mut own = cairn::connect(url)
        .await
        .unwrap_or_else(|e| panic!("Cairn's own driver cannot connect: {e}"));
    sqlx_driver
        .lock(Duration::from_secs(5))
        .await
        .expect("the sqlx driver locks");
    let err = own
        .lock(Duration::from_millis(300))
        .await
        .expect_err("Cairn's own driver took the lock the sqlx driver holds");
    assert_eq!(err.kind, DriverErrorKind::LockHeld, "{err}");
    sqlx_driver.unlock().await.expect("unlock");
    own.lock(Duration::from_secs(5)).await.expect("free again");
    let err = sqlx_driver
        .lock(Duration::from_millis(300))
        .await
        .expect_err("the sqlx driver took the lock Cairn's own driver holds");
    assert_eq!(err.kind, DriverErrorKind::LockHeld, "{err}");
    own.unlock().await.expect("unlock");
}

/// `sql` through the sqlx driver and through Cairn's own driver for `url`
/// gives the same text.
pub async fn values_read_as_cairns_own_driver_reads_them(
    sqlx_driver: &mut dyn Driver,
    url: &str,
    sql: &str,
) -> cairn::driver::Rows {
    let through_sqlx = sqlx_driver.query(sql).await.expect("query through sqlx");
    let mut own = cairn::connect(url).await.expect("Cairn's own driver");
    let own_rows = own.query(sql).await.expect("query through Cairn's driver");
    assert_eq!(through_sqlx, own_rows, "{sql}");
    through_sqlx
}

/// A reply that does not come within the read timeout ends the call with a
/// connection error, and every later call fails at once.
#[cfg(feature = "servers")]
pub async fn a_reply_that_does_not_come_abandons_the_connection(
    driver: &mut dyn Driver,
    sleep: &str,
) {
    let started = std::time::Instant::now();
    let err = driver
        .query(sleep)
        .await
        .expect_err("a reply past the read timeout was waited for");
    assert_eq!(err.kind, DriverErrorKind::Connection, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(err.message.contains("read_timeout"), "{err}");
    let started = std::time::Instant::now();
    let again = driver
        .query("SELECT 1")
        .await
        .expect_err("an abandoned connection was used");
    assert_eq!(again.kind, DriverErrorKind::Connection, "{again}");
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
}
