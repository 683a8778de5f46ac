//! cairn-mysql's integration tests: the conformance suite on a real MySQL or
//! MariaDB server (`CAIRN_TEST_MYSQL_URL`, else a container), behaviour
//! particular to MySQL, and bad input.
//!
//! Every test makes its own database (and its own user, where it needs one)
//! and never assumes it is alone on the server.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use cairn_core::url::DatabaseUrl;
use cairn_core::{Driver, DriverError, DriverErrorKind, Engine, SessionSettings};
use cairn_mysql::MySqlDriver;
use cairn_testkit::conformance::{Database, Target};
use cairn_testkit::TestDatabase;

struct MySql;

struct MySqlDatabase(TestDatabase);

#[async_trait]
impl Target for MySql {
    async fn fresh(&self) -> Box<dyn Database> {
        Box::new(MySqlDatabase(cairn_testkit::mysql::database().await))
    }
}

#[async_trait]
impl Database for MySqlDatabase {
    async fn connect(&self) -> Box<dyn Driver> {
        Box::new(connect(self.0.url()).await)
    }
}

fn parse(url: &str) -> DatabaseUrl {
    DatabaseUrl::parse(url).unwrap_or_else(|e| panic!("{e}"))
}

async fn connect(url: &str) -> MySqlDriver {
    let url = parse(url);
    MySqlDriver::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

async fn try_connect(url: &str) -> Result<MySqlDriver, DriverError> {
    MySqlDriver::connect(&parse(url)).await
}

/// The server's admin URL, for tests that make users or need another database.
async fn admin_url() -> String {
    cairn_testkit::server::admin_url(Engine::Mysql).await
}

/// `url` with `user:password@` as its user information.
fn with_user(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let host_start = rest[..rest.find('/').unwrap_or(rest.len())]
        .rfind('@')
        .map_or(0, |at| at + 1);
    format!("{scheme}://{user}:{password}@{}", &rest[host_start..])
}

async fn value(driver: &mut MySqlDriver, sql: &str) -> Option<String> {
    let rows = driver
        .query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.into_iter()
        .next()
        .and_then(|row| row.into_iter().next())
        .flatten()
}

async fn server_has_tls(driver: &mut MySqlDriver) -> bool {
    let rows = driver
        .query("SHOW VARIABLES LIKE 'have_ssl'")
        .await
        .expect("have_ssl");
    rows.first()
        .and_then(|row| row.get(1).cloned().flatten())
        .as_deref()
        == Some("YES")
}

mod conn;
mod faults;
mod online;
mod packets;

mod lifecycle;
mod online_harness;

mod conformance {
    use super::*;

    cairn_testkit::conformance_tests!(MySql);
}

mod mysql {
    use super::*;

    /// The driver reads `SELECT VERSION()` once, at connect, into its
    /// dialect: MariaDB or MySQL, and the version.
    #[tokio::test]
    async fn the_dialect_knows_the_flavour_and_version_read_at_connect() {
        let db = cairn_testkit::mysql::database().await;
        let mut driver = connect(db.url()).await;
        let text = value(&mut driver, "SELECT VERSION()")
            .await
            .expect("a version");
        let dialect = driver.dialect();
        assert_eq!(dialect.engine(), Engine::Mysql);
        let flavour = if text.contains("MariaDB") {
            cairn_core::Flavour::MariaDb
        } else {
            cairn_core::Flavour::Mysql
        };
        assert_eq!(dialect.flavour(), flavour);
        assert_eq!(
            dialect.server_version().map(|v| v.text.as_str()),
            Some(text.as_str())
        );
        assert_eq!(driver.is_mariadb(), flavour == cairn_core::Flavour::MariaDb);
    }

    /// Running a completed statement again confirms it only when the server's
    /// error means "already there", never for a duplicate row (issue 9).
    #[tokio::test]
    async fn recover_confirms_only_errors_that_mean_already_done() {
        let db = cairn_testkit::mysql::database().await;
        let mut driver = connect(db.url()).await;
        for sql in [
            "CREATE TABLE t (id INT PRIMARY KEY, a INT)",
            "ALTER TABLE t ADD COLUMN b INT",
            "CREATE INDEX t_a ON t (a)",
            "ALTER TABLE t DROP COLUMN b",
            "INSERT INTO t (id, a) VALUES (1, 1)",
        ] {
            driver.execute(sql).await.expect(sql);
            let again = driver.execute(sql).await.expect_err(sql);
            let confirmed = driver.confirms_completed(&again).await;
            assert_eq!(confirmed, !sql.starts_with("INSERT"), "{sql}: {again}");
        }
        let missing = driver
            .execute("INSERT INTO no_such_table VALUES (1)")
            .await
            .expect_err("a missing table");
        assert!(!driver.confirms_completed(&missing).await, "{missing}");
    }
    use cairn_core::history::HistoryState;
    use cairn_core::{Error, Migrator, MigratorOptions};
    use cairn_testkit::fixture::Fixture;

    #[tokio::test]
    async fn values_come_back_as_text_and_errors_carry_codes() {
        let db = cairn_testkit::mysql::database().await;
        let mut driver = connect(db.url()).await;
        let rows = driver
            .query("SELECT 1, 'two', NULL, 2.5, x'ff', DATE('2026-11-25')")
            .await
            .expect("query");
        assert_eq!(
            rows,
            vec![vec![
                Some("1".into()),
                Some("two".into()),
                None,
                Some("2.5".into()),
                Some("\u{fffd}".into()),
                Some("2026-11-25".into())
            ]]
        );
        driver
            .execute("CREATE TABLE t (id INT PRIMARY KEY)")
            .await
            .expect("create");
        assert_eq!(
            driver
                .execute("INSERT INTO t VALUES (1), (2), (3)")
                .await
                .expect("insert"),
            3
        );
        assert_eq!(
            driver
                .execute("DELETE FROM t WHERE id > 1")
                .await
                .expect("delete"),
            2
        );
        let err = driver.execute("SELEC 1").await.expect_err("bad SQL ran");
        assert_eq!(err.kind, DriverErrorKind::Statement, "{err}");
        assert_eq!(err.code.as_deref(), Some("1064, SQLSTATE 42000"), "{err}");
        assert!(err.message.contains("SQL syntax"), "{err}");
        assert_eq!(
            driver.database(),
            Some(db.url().rsplit('/').next().unwrap())
        );
    }

    #[tokio::test]
    async fn lock_held_names_the_holder_connection() {
        let db = cairn_testkit::mysql::database().await;
        let mut first = connect(db.url()).await;
        let mut second = connect(db.url()).await;
        first
            .lock(Duration::from_secs(5))
            .await
            .expect("first lock");
        let started = Instant::now();
        let err = second
            .lock(Duration::from_millis(300))
            .await
            .expect_err("second took a held lock");
        let waited = started.elapsed();
        assert_eq!(err.kind, DriverErrorKind::LockHeld, "{err}");
        let id = first.connection_id().to_string();
        assert!(err.message.contains(&format!("connection {id}")), "{err}");
        assert!(err.message.contains(&format!("KILL {id}")), "{err}");
        assert!(err.message.contains("cairn:cairn_test_"), "{err}");
        assert!(
            waited >= Duration::from_millis(300),
            "gave up after {waited:?}"
        );
        assert!(
            waited < Duration::from_millis(2500),
            "a 300 ms wait took {waited:?}"
        );
        // The lock belongs to the session: a transaction's commit does not release it.
        first.begin().await.expect("begin");
        first.commit().await.expect("commit");
        assert!(
            second.lock(Duration::ZERO).await.is_err(),
            "COMMIT released the migration lock"
        );
        first.unlock().await.expect("unlock");
        second
            .lock(Duration::from_secs(2))
            .await
            .expect("lock after release");
        second.unlock().await.expect("unlock");
    }

    #[tokio::test]
    async fn a_lock_waiter_gets_the_lock_as_soon_as_it_is_released() {
        let db = cairn_testkit::mysql::database().await;
        let mut first = connect(db.url()).await;
        let mut second = connect(db.url()).await;
        first
            .lock(Duration::from_secs(5))
            .await
            .expect("first lock");
        let waiter = tokio::spawn(async move {
            let started = Instant::now();
            second
                .lock(Duration::from_secs(20))
                .await
                .map(|()| started.elapsed())
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        first.unlock().await.expect("unlock");
        let waited = waiter
            .await
            .expect("waiter")
            .expect("the waiter should get the lock");
        assert!(
            waited < Duration::from_secs(5),
            "the waiter took {waited:?}"
        );
    }

    #[tokio::test]
    async fn ddl_blocked_by_a_metadata_lock_fails_fast_instead_of_hanging() {
        let db = cairn_testkit::mysql::database().await;
        let mut setup = connect(db.url()).await;
        setup
            .execute("CREATE TABLE t (id INT PRIMARY KEY)")
            .await
            .expect("create t");
        setup
            .execute("INSERT INTO t VALUES (1)")
            .await
            .expect("insert");
        // The application holds a transaction open on t: DDL on t must wait for it.
        let mut blocker = connect(db.url()).await;
        blocker.begin().await.expect("begin");
        blocker
            .query("SELECT * FROM t FOR UPDATE")
            .await
            .expect("lock rows");

        // The driver alone: the statement fails with a lock timeout.
        let settings = SessionSettings {
            lock_timeout: Some(Duration::from_secs(1)),
            statement_timeout: None,
        };
        setup.apply_settings(&settings).await.expect("settings");
        let err = setup
            .execute("ALTER TABLE t ADD COLUMN early INT")
            .await
            .expect_err("DDL ran past a lock");
        assert_eq!(err.kind, DriverErrorKind::LockTimeout, "{err}");
        assert!(
            err.code.as_deref().is_some_and(|c| c.starts_with("1205")),
            "{err}"
        );

        // Through the migrator: retried once; the first statement did nothing,
        // so the claim row is removed and a plain `up` can retry (issue 9).
        let dir = Fixture::new()
            .migration(
                1,
                "alter_t",
                "ALTER TABLE t ADD COLUMN c INT;\n",
                Some("ALTER TABLE t DROP COLUMN c;\n"),
            )
            .build();
        let migrator = Migrator::new(
            dir.read(),
            MigratorOptions {
                statement_lock_timeout: Duration::from_secs(1),
                lock_retries: 1,
                retry_backoff: Duration::from_millis(50),
                ..MigratorOptions::default()
            },
        );
        let started = Instant::now();
        let failure = tokio::time::timeout(Duration::from_secs(30), migrator.up(&mut setup, None))
            .await
            .expect("the migration hung behind the lock")
            .expect_err("the migration ran past the lock");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_secs(2),
            "two attempts of 1 s each took only {took:?}"
        );
        match &failure.error {
            Error::Statement {
                version,
                index,
                message,
                outcome,
                ..
            } => {
                assert_eq!((version.key(), *index), (1, 1));
                assert!(
                    outcome.contains("nothing changed") && outcome.contains("retrying is safe"),
                    "{outcome}"
                );
                assert!(message.contains("Lock wait timeout"), "{message}");
                assert!(message.contains("1205"), "{message}");
            }
            other => panic!("expected a statement error, got {other}"),
        }
        blocker.rollback().await.expect("rollback");
        let history = migrator.history(&mut setup).await.expect("history");
        assert!(
            history.iter().all(|r| r.version != 1),
            "the claim row stayed: {history:?}"
        );
        let columns = setup
            .query("SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 't'")
            .await
            .expect("columns");
        assert_eq!(columns, vec![vec![Some("1".to_owned())]], "t changed");
        let retried = migrator.up(&mut setup, None).await.expect("a plain retry");
        assert_eq!(retried.migrations.len(), 1, "{retried:?}");
    }

    #[tokio::test]
    async fn backslashes_and_quotes_round_trip_through_the_history() {
        let db = cairn_testkit::mysql::database().await;
        let mut driver = connect(db.url()).await;
        let actor = r"CORP\o'neil \\ 'x'";
        let dir = Fixture::new()
            .migration(
                1,
                "fine",
                "CREATE TABLE fine (id INT PRIMARY KEY);\n",
                Some("DROP TABLE fine;\n"),
            )
            .migration(
                2,
                "signals",
                "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'a back\\\\slash and it''s quoted';\n",
                None,
            )
            .build();
        let migrator = Migrator::new(
            dir.read(),
            MigratorOptions {
                actor: actor.to_owned(),
                ..MigratorOptions::default()
            },
        );
        let failure = migrator
            .up(&mut driver, None)
            .await
            .expect_err("SIGNAL should fail migration 2");
        assert!(
            failure
                .error
                .to_string()
                .contains(r"a back\slash and it's quoted"),
            "{}",
            failure.error
        );
        let history = migrator.history(&mut driver).await.expect("history");
        assert_eq!(history[0].applied_by, actor);
        assert_eq!(history[0].state, HistoryState::Applied);
        assert_eq!(history[1].state, HistoryState::Failed);
        let error = history[1]
            .error
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(error.contains(r"a back\slash and it's quoted"), "{error}");
    }

    #[tokio::test]
    async fn settings_fix_sql_mode_and_set_timeouts() {
        let db = cairn_testkit::mysql::database().await;
        let mut driver = connect(db.url()).await;
        let mode = value(&mut driver, "SELECT @@SESSION.sql_mode")
            .await
            .unwrap_or_default();
        assert!(!mode.contains("NO_BACKSLASH_ESCAPES"), "{mode}");
        // A migration may turn it on; the next migration's settings turn it off again.
        driver
            .execute("SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES,NO_ENGINE_SUBSTITUTION'")
            .await
            .expect("set sql_mode");
        let settings = SessionSettings {
            lock_timeout: Some(Duration::from_millis(1200)),
            statement_timeout: Some(Duration::from_millis(1500)),
        };
        driver.apply_settings(&settings).await.expect("settings");
        let mode = value(&mut driver, "SELECT @@SESSION.sql_mode").await;
        assert_eq!(
            mode.as_deref(),
            Some("STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION")
        );
        assert_eq!(
            value(&mut driver, "SELECT @@SESSION.lock_wait_timeout")
                .await
                .as_deref(),
            Some("2")
        );
        assert_eq!(
            value(&mut driver, "SELECT @@SESSION.innodb_lock_wait_timeout")
                .await
                .as_deref(),
            Some("2")
        );
        let (variable, expected) = if driver.is_mariadb() {
            ("max_statement_time", "1.500000")
        } else {
            ("max_execution_time", "1500")
        };
        let timeout = value(&mut driver, &format!("SELECT @@SESSION.{variable}")).await;
        assert_eq!(timeout.as_deref(), Some(expected));
        // Without timeouts, the server's own settings come back.
        driver
            .apply_settings(&SessionSettings::default())
            .await
            .expect("defaults");
        for variable in ["lock_wait_timeout", "innodb_lock_wait_timeout", variable] {
            let session = value(&mut driver, &format!("SELECT @@SESSION.{variable}")).await;
            let global = value(&mut driver, &format!("SELECT @@GLOBAL.{variable}")).await;
            assert_eq!(session, global, "{variable}");
        }
    }

    #[tokio::test]
    async fn mariadb_urls_work() {
        let db = cairn_testkit::mysql::database().await;
        let url = db.url().replacen("mysql://", "mariadb://", 1);
        assert!(url.starts_with("mariadb://"), "{url}");
        let mut driver = connect(&url).await;
        let dir = Fixture::new()
            .migration(
                1,
                "one",
                "CREATE TABLE one (id INT PRIMARY KEY);\n",
                Some("DROP TABLE one;\n"),
            )
            .build();
        let report = Migrator::new(dir.read(), MigratorOptions::default())
            .up(&mut driver, None)
            .await
            .unwrap_or_else(|f| panic!("up over mariadb:// failed: {f}"));
        assert_eq!(report.migrations.len(), 1);
        assert!(!driver.server_version().is_empty());
    }
}

mod bad_input {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_port_is_a_connection_error_without_the_password() {
        let err = try_connect("mysql://root:hunter2@127.0.0.1:1/x")
            .await
            .expect_err("port 1 answered");
        assert_eq!(err.kind, DriverErrorKind::Connection, "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
        assert!(
            err.message.contains("mysql://root:***@127.0.0.1:1/x"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_unknown_database_is_a_connection_error_naming_it() {
        let name = format!("{}_missing", cairn_testkit::server::unique_name());
        let url = cairn_testkit::server::with_database(&admin_url().await, &name);
        let err = try_connect(&url)
            .await
            .expect_err("connected to a database that does not exist");
        assert_eq!(err.kind, DriverErrorKind::Connection, "{err}");
        assert!(
            err.message.contains(&format!("Unknown database '{name}'")),
            "{err}"
        );
        assert_eq!(err.code.as_deref(), Some("1049, SQLSTATE 42000"), "{err}");
    }

    #[tokio::test]
    async fn ssl_mode_required_connects_over_tls_or_says_the_server_has_none() {
        let db = cairn_testkit::mysql::database().await;
        let mut plain = connect(db.url()).await;
        let has_tls = server_has_tls(&mut plain).await;
        // The default (preferred) uses TLS exactly when the server offers it.
        assert_eq!(plain.is_encrypted(), has_tls);
        let separator = if db.url().contains('?') { '&' } else { '?' };
        for mode in ["ssl-mode=required", "sslmode=require", "ssl-mode=REQUIRED"] {
            let url = format!("{}{separator}{mode}", db.url());
            match try_connect(&url).await {
                Ok(driver) => {
                    assert!(has_tls, "{mode} connected to a server without TLS");
                    assert!(driver.is_encrypted(), "{mode}");
                }
                Err(err) => {
                    assert!(!has_tls, "{mode} failed on a server with TLS: {err}");
                    assert_eq!(err.kind, DriverErrorKind::Connection, "{err}");
                    assert!(
                        err.message.contains("the server does not offer TLS"),
                        "{err}"
                    );
                    assert!(err.message.contains("ssl-mode=required"), "{err}");
                }
            }
        }
        let url = format!("{}{separator}ssl-mode=disabled", db.url());
        assert!(!connect(&url).await.is_encrypted());
    }

    #[tokio::test]
    async fn verify_modes_check_the_certificate() {
        let db = cairn_testkit::mysql::database().await;
        let mut plain = connect(db.url()).await;
        let separator = if db.url().contains('?') { '&' } else { '?' };
        // The server's certificate is (almost surely) not signed by a public CA.
        let url = format!("{}{separator}ssl-mode=verify_identity", db.url());
        let err = try_connect(&url)
            .await
            .expect_err("verify_identity accepted an unverifiable server");
        assert_eq!(err.kind, DriverErrorKind::Connection, "{err}");
        if server_has_tls(&mut plain).await {
            assert!(err.message.contains("TLS handshake failed"), "{err}");
        } else {
            assert!(
                err.message.contains("the server does not offer TLS"),
                "{err}"
            );
        }
        let url = format!(
            "{}{separator}ssl-mode=verify_ca&ssl-ca=/no/such/ca.pem",
            db.url()
        );
        let err = try_connect(&url)
            .await
            .expect_err("a missing CA file was accepted");
        assert!(
            err.message
                .contains("cannot read the ssl-ca file `/no/such/ca.pem`"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_bogus_ssl_mode_is_an_error() {
        let err = try_connect("mysql://root:hunter2@127.0.0.1:3306/test?ssl-mode=bogus")
            .await
            .expect_err("ssl-mode=bogus accepted");
        assert!(err.message.contains("unknown ssl-mode `bogus`"), "{err}");
        assert!(err.message.contains("verify_identity"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = try_connect("mysql://root:hunter2@127.0.0.1:3306/test?no_such_parameter=1")
            .await
            .expect_err("an unknown parameter was accepted");
        assert!(
            err.message
                .contains("unknown URL parameter `no_such_parameter`"),
            "{err}"
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    /// Drops a user when the test ends, however it ends.
    struct DropUser {
        admin: String,
        user: String,
    }

    impl Drop for DropUser {
        fn drop(&mut self) {
            let admin = self.admin.clone();
            let user = self.user.clone();
            cairn_testkit::server::block_on_own_runtime(async move {
                if let Ok(mut driver) = MySqlDriver::connect(&parse(&admin)).await {
                    let _ = driver
                        .execute(&format!(
                            "DROP USER IF EXISTS '{user}'@'%', '{user}'@'localhost'"
                        ))
                        .await;
                }
            });
        }
    }

    #[tokio::test]
    async fn a_wrong_password_is_a_connection_error_without_the_password() {
        let db = cairn_testkit::mysql::database().await;
        let admin = admin_url().await;
        let mut root = connect(&admin).await;
        // MySQL allows 32 characters in a user name.
        let unique = cairn_testkit::server::unique_name().replace("cairn_test_", "");
        let user: String = format!("cairn_pw_{unique}").chars().take(32).collect();
        let database = db
            .url()
            .rsplit('/')
            .next()
            .expect("database")
            .split('?')
            .next()
            .expect("name")
            .to_owned();
        // Also at 'localhost': a server with anonymous ''@'localhost' users would
        // otherwise match those first for connections from this machine.
        root.execute(&format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY 'right-Pw-4711', '{user}'@'localhost' IDENTIFIED BY 'right-Pw-4711'"
        ))
        .await
        .expect("create user");
        let _guard = DropUser {
            admin,
            user: user.clone(),
        };
        root.execute(&format!(
            "GRANT ALL ON `{database}`.* TO '{user}'@'%', '{user}'@'localhost'"
        ))
        .await
        .expect("grant");

        let right = with_user(db.url(), &user, "right-Pw-4711");
        let driver = connect(&right).await;
        assert!(
            !format!("{driver:?}").contains("right-Pw-4711"),
            "{driver:?}"
        );

        let wrong = with_user(db.url(), &user, "wrong-Pw-0815");
        let err = try_connect(&wrong)
            .await
            .expect_err("a wrong password was accepted");
        assert_eq!(err.kind, DriverErrorKind::Connection, "{err}");
        assert!(err.message.contains("Access denied"), "{err}");
        assert!(
            err.code.as_deref().is_some_and(|c| c.starts_with("1045")),
            "{err}"
        );
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains("wrong-Pw-0815"), "{shown}");
            assert!(shown.contains(&format!("{user}:***@")), "{shown}");
        }
    }
}

mod introspection {
    use super::*;
    cairn_testkit::introspection_tests!(MySql);
}

/// Issue 9: literals under `NO_BACKSLASH_ESCAPES`, which a migration may set
/// on the very session Cairn writes its bookkeeping on.
mod literal {
    use cairn_core::history::string_literal;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    use super::*;

    const SET_NO_BACKSLASH_ESCAPES: &str =
        "SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_BACKSLASH_ESCAPES')";

    async fn sql_mode(driver: &mut MySqlDriver) -> String {
        let rows = driver
            .query("SELECT @@SESSION.sql_mode")
            .await
            .expect("read sql_mode");
        rows[0][0].clone().unwrap_or_default()
    }

    #[tokio::test]
    async fn literal_no_backslash_escapes_set_by_a_migration_is_cleared_before_the_next() {
        let db = cairn_testkit::mysql::database().await;
        let mut driver = connect(db.url()).await;
        assert!(
            !sql_mode(&mut driver).await.contains("NO_BACKSLASH_ESCAPES"),
            "cleared at connect"
        );
        driver
            .execute(SET_NO_BACKSLASH_ESCAPES)
            .await
            .expect("a migration enables NO_BACKSLASH_ESCAPES");
        assert!(sql_mode(&mut driver).await.contains("NO_BACKSLASH_ESCAPES"));
        driver
            .apply_settings(&SessionSettings::default())
            .await
            .expect("apply_settings");
        assert!(
            !sql_mode(&mut driver).await.contains("NO_BACKSLASH_ESCAPES"),
            "cleared before the next migration"
        );
    }

    /// Keyset bounds read from a user's table select the same rows with and
    /// without `NO_BACKSLASH_ESCAPES`, in the column's collation.
    #[tokio::test]
    async fn literal_keyset_bounds_select_the_same_rows_in_both_modes() {
        let db = cairn_testkit::mysql::database().await;
        let mut driver = connect(db.url()).await;
        driver
            .execute("CREATE TABLE k (b VARCHAR(20) PRIMARY KEY) CHARACTER SET utf8mb4")
            .await
            .expect("create");
        let keys = ["a", "a\\", "a\\'", "a\0b", "b'\\", "é\\", "z"];
        let values: Vec<String> = keys
            .iter()
            .map(|k| format!("({})", string_literal(Engine::Mysql, k)))
            .collect();
        driver
            .execute(&format!("INSERT INTO k (b) VALUES {}", values.join(", ")))
            .await
            .expect("insert");
        let mut by_mode = Vec::new();
        for mode in ["default", "NO_BACKSLASH_ESCAPES"] {
            if mode != "default" {
                driver.execute(SET_NO_BACKSLASH_ESCAPES).await.expect("set");
            }
            let mut selected = Vec::new();
            for key in keys {
                let literal = string_literal(Engine::Mysql, key);
                let equal = driver
                    .query(&format!("SELECT b FROM k WHERE b = {literal}"))
                    .await
                    .expect("equal");
                assert_eq!(equal, vec![vec![Some(key.to_owned())]], "{mode}: {literal}");
                selected.push(
                    driver
                        .query(&format!("SELECT b FROM k WHERE b > {literal} ORDER BY b"))
                        .await
                        .expect("after"),
                );
            }
            by_mode.push(selected);
        }
        assert_eq!(by_mode[0], by_mode[1]);
        assert_eq!(by_mode[0].last(), Some(&Vec::new()), "nothing after `z`");
    }

    /// Text with the characters that matter to MySQL's lexer (NUL included:
    /// MySQL text holds it) and any other character.
    fn text() -> impl Strategy<Value = String> {
        let special = prop_oneof![
            Just('\''),
            Just('\\'),
            Just('"'),
            Just('\0'),
            Just('%'),
            Just('\u{1a}'),
            Just('é'),
            Just('😀'),
        ];
        prop::collection::vec(prop_oneof![any::<char>(), special], 0..20)
            .prop_map(|chars| chars.into_iter().collect())
    }

    /// Any list of strings read back through their literals, with and without
    /// `NO_BACKSLASH_ESCAPES`, is the same list.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn literal_any_string_reads_back_exactly_in_both_modes() {
        let db = cairn_testkit::mysql::database().await;
        let driver = tokio::sync::Mutex::new(connect(db.url()).await);
        let handle = tokio::runtime::Handle::current();
        let mut runner = TestRunner::new(Config {
            cases: 64,
            ..Config::default()
        });
        let result = tokio::task::block_in_place(|| {
            runner.run(&prop::collection::vec(text(), 1..12), |values| {
                let literals: Vec<String> = values
                    .iter()
                    .map(|v| string_literal(Engine::Mysql, v))
                    .collect();
                let sql = format!("SELECT {}", literals.join(", "));
                let expected: Vec<Option<String>> = values.iter().cloned().map(Some).collect();
                for mode in ["", ",NO_BACKSLASH_ESCAPES"] {
                    let rows = handle.block_on(async {
                        let mut driver = driver.lock().await;
                        driver
                            .apply_settings(&SessionSettings::default())
                            .await
                            .expect("clear NO_BACKSLASH_ESCAPES");
                        driver
                            .execute(&format!(
                                "SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, '{mode}')"
                            ))
                            .await
                            .expect("set sql_mode");
                        driver.query(&sql).await
                    });
                    let rows = rows.map_err(|e| {
                        TestCaseError::fail(format!("sql_mode + `{mode}`: {sql}: {e}"))
                    })?;
                    prop_assert_eq!(
                        &rows,
                        &vec![expected.clone()],
                        "sql_mode + `{}`: {}",
                        mode,
                        sql
                    );
                }
                Ok(())
            })
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    }
}
