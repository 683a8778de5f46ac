//! cairn-postgres's integration tests: the conformance suite on a real
//! PostgreSQL server, and PostgreSQL-specific behaviour (locking next to
//! `CREATE INDEX CONCURRENTLY`, lock timeouts, TLS modes, bad URLs).
//!
//! Every test makes its own database through `cairn_testkit::postgres`, so the
//! tests run in parallel and share the server with anything else.

use async_trait::async_trait;
use cairn_core::url::DatabaseUrl;
use cairn_core::Driver;
use cairn_postgres::PgDriver;
use cairn_testkit::conformance::{Database, Target};
use cairn_testkit::TestDatabase;

struct Postgres;

struct PgDatabase(TestDatabase);

#[async_trait]
impl Target for Postgres {
    async fn fresh(&self) -> Box<dyn Database> {
        Box::new(PgDatabase(cairn_testkit::postgres::database().await))
    }
}

#[async_trait]
impl Database for PgDatabase {
    async fn connect(&self) -> Box<dyn Driver> {
        Box::new(connect(&self.0).await)
    }
}

async fn connect(db: &TestDatabase) -> PgDriver {
    let url = DatabaseUrl::parse(db.url()).expect("a postgres URL");
    PgDriver::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test database: {e}"))
}

mod conn;
mod faults;
mod online;
mod scratch;

mod lifecycle;
mod online_harness;

mod conformance {
    use super::*;

    cairn_testkit::conformance_tests!(Postgres);
}

/// The parts of a `postgres://user[:password]@host:port/db?query` URL the tests rewrite.
struct Parts {
    user: String,
    password: Option<String>,
    host: String,
    database: String,
    query: Option<String>,
}

impl Parts {
    fn parse(url: &str) -> Parts {
        let rest = url.split_once("://").expect("a URL with a scheme").1;
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query.to_owned())),
            None => (rest, None),
        };
        let (authority, database) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, host) = authority
            .rsplit_once('@')
            .unwrap_or(("postgres", authority));
        let (user, password) = match userinfo.split_once(':') {
            Some((user, password)) => (user.to_owned(), Some(password.to_owned())),
            None => (userinfo.to_owned(), None),
        };
        Parts {
            user,
            password,
            host: host.to_owned(),
            database: database.to_owned(),
            query,
        }
    }

    /// The URL back, with `extra` query parameters appended.
    fn url(&self, extra: &str) -> String {
        let credentials = match &self.password {
            Some(password) => format!("{}:{password}", self.user),
            None => self.user.clone(),
        };
        let mut query: Vec<&str> = self.query.iter().map(String::as_str).collect();
        if !extra.is_empty() {
            query.push(extra);
        }
        let mut url = format!("postgres://{credentials}@{}/{}", self.host, self.database);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.join("&"));
        }
        url
    }
}

/// The test server's URL for `database` with a password in it: the server's
/// own if it has one, else `hunter2` (trust authentication ignores it).
/// Returns the URL and the password that must never be shown.
async fn url_with_password(database: &str) -> (Parts, String) {
    let admin = cairn_testkit::server::admin_url(cairn_core::Engine::Postgres).await;
    let mut parts = Parts::parse(&admin);
    parts.database = database.to_owned();
    let password = parts
        .password
        .get_or_insert_with(|| "hunter2".to_owned())
        .clone();
    (parts, password)
}

mod postgres {
    use std::time::Duration;

    use cairn_core::{
        DriverErrorKind, Error, HistoryState, Migrator, MigratorOptions, SessionSettings,
    };
    use cairn_testkit::fixture::Fixture;

    use super::*;

    /// The driver reads the server's version once, at connect, into its
    /// dialect; the version text is what `server_version` says.
    #[tokio::test]
    async fn the_dialect_knows_the_flavour_and_version_read_at_connect() {
        let db = cairn_testkit::postgres::database().await;
        let mut driver = connect(&db).await;
        let dialect = driver.dialect();
        assert_eq!(dialect.engine(), cairn_core::Engine::Postgres);
        assert_eq!(dialect.flavour(), cairn_core::Flavour::Postgres);
        let version = dialect.server_version().expect("a version").clone();
        let rows = driver.query("SHOW server_version").await.expect("SHOW");
        assert_eq!(rows[0][0].as_deref(), Some(version.text.as_str()));
        assert!(version.at_least(12, 0), "{version:?}");
    }

    /// Running a completed statement again confirms it only when the error
    /// means "already there", and never while an invalid index (a `CREATE
    /// INDEX CONCURRENTLY` cut off part way) exists (issue 9).
    #[tokio::test]
    async fn recover_confirms_only_errors_that_mean_already_done() {
        let db = cairn_testkit::postgres::database().await;
        let mut driver = connect(&db).await;
        for sql in [
            "CREATE TABLE t (id INT PRIMARY KEY, a INT)",
            "ALTER TABLE t ADD COLUMN b INT",
            "ALTER TABLE t ADD CONSTRAINT t_a_check CHECK (a > 0)",
            "CREATE INDEX t_a ON t (a)",
            "INSERT INTO t (id, a) VALUES (1, 1)",
        ] {
            driver.execute(sql).await.expect(sql);
            let again = driver.execute(sql).await.expect_err(sql);
            let confirmed = driver.confirms_completed(&again).await;
            assert_eq!(confirmed, !sql.starts_with("INSERT"), "{sql}: {again}");
        }
        driver
            .execute("INSERT INTO t (id, a) VALUES (2, 1)")
            .await
            .expect("a duplicate value");
        driver
            .execute("CREATE UNIQUE INDEX CONCURRENTLY t_a_unique ON t (a)")
            .await
            .expect_err("a unique index over duplicates");
        let invalid = driver
            .execute("CREATE UNIQUE INDEX CONCURRENTLY t_a_unique ON t (a)")
            .await
            .expect_err("the invalid index exists");
        assert_eq!(invalid.code.as_deref(), Some("42P07"), "{invalid}");
        assert!(
            !driver.confirms_completed(&invalid).await,
            "an invalid index confirmed its statement: {invalid}"
        );
    }

    async fn text(driver: &mut PgDriver, sql: &str) -> Option<String> {
        let rows = driver
            .query(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.into_iter()
            .next()
            .and_then(|row| row.into_iter().next())
            .flatten()
    }

    async fn connect_url(url: &str) -> Result<PgDriver, cairn_core::DriverError> {
        PgDriver::connect(&DatabaseUrl::parse(url).expect("a postgres URL")).await
    }

    /// The flyway#1654 trap: `CREATE INDEX CONCURRENTLY` waits for every open
    /// transaction, so a migration lock held in (or waited for inside) a
    /// transaction would deadlock it. Two runners at once, each bounded.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn create_index_concurrently_applies_while_the_migration_lock_is_held() {
        let db = cairn_testkit::postgres::database().await;
        let dir = Fixture::new()
            .migration(
                1,
                "create_t",
                "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER);\nINSERT INTO t SELECT g, g % 7 FROM generate_series(1, 1000) g;\nSELECT pg_sleep(0.3);\n",
                Some("DROP TABLE t;\n"),
            )
            .migration(
                2,
                "index_t_v",
                "-- cairn:no-transaction\nCREATE INDEX CONCURRENTLY t_v ON t (v);\n",
                Some("-- cairn:no-transaction\nDROP INDEX CONCURRENTLY t_v;\n"),
            )
            .build();
        let migrations = dir.read();
        let mut runners = Vec::new();
        for _ in 0..2 {
            let mut driver = connect(&db).await;
            let migrator = Migrator::new(migrations.clone(), MigratorOptions::default());
            runners.push(tokio::spawn(async move {
                let report =
                    tokio::time::timeout(Duration::from_secs(60), migrator.up(&mut driver, None))
                        .await
                        .expect("a runner deadlocked: up did not finish within 60 s")
                        .unwrap_or_else(|f| panic!("up failed: {f}"));
                report.migrations.iter().filter(|m| !m.skipped).count()
            }));
        }
        let mut applied = 0;
        for runner in runners {
            applied += runner.await.expect("runner panicked");
        }
        assert_eq!(
            applied, 2,
            "each migration applied exactly once across both runners"
        );
        let mut driver = connect(&db).await;
        let valid = text(
            &mut driver,
            "SELECT i.indisvalid::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 't_v'",
        )
        .await;
        assert_eq!(
            valid.as_deref(),
            Some("true"),
            "the concurrent index is missing or invalid"
        );
        let migrator = Migrator::new(migrations, MigratorOptions::default());
        let history = migrator.history(&mut driver).await.expect("history");
        assert!(
            history.iter().all(|r| r.state == HistoryState::Applied),
            "{history:?}"
        );
        // And back down, also concurrently, under the lock.
        tokio::time::timeout(
            Duration::from_secs(60),
            migrator.down(&mut driver, cairn_core::DownTarget::Steps(1)),
        )
        .await
        .expect("down deadlocked")
        .unwrap_or_else(|f| panic!("down failed: {f}"));
        assert_eq!(
            text(
                &mut driver,
                "SELECT count(*) FROM pg_class WHERE relname = 't_v'"
            )
            .await
            .as_deref(),
            Some("0")
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lock_timeout_names_the_holder() {
        let db = cairn_testkit::postgres::database().await;
        let mut holder = connect(&db).await;
        let mut waiter = connect(&db).await;
        assert_eq!(
            holder.lock_key(),
            waiter.lock_key(),
            "one database, one key"
        );
        holder.lock(Duration::from_secs(5)).await.expect("lock");
        let started = std::time::Instant::now();
        let err = waiter
            .lock(Duration::from_millis(300))
            .await
            .expect_err("took a held lock");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "waited {:?}",
            started.elapsed()
        );
        assert_eq!(err.kind, DriverErrorKind::LockHeld, "{err}");
        assert!(
            err.message
                .contains(&format!("pid {}", holder.backend_pid())),
            "{err}"
        );
        assert!(err.message.contains("application_name `cairn`"), "{err}");
        assert!(err.message.contains("connected since 20"), "{err}");

        // Through the migrator, the same words reach the user.
        let dir = Fixture::new()
            .migration(1, "t", "CREATE TABLE t (id INTEGER);\n", None)
            .build();
        let migrator = Migrator::new(
            dir.read(),
            MigratorOptions {
                lock_wait: Duration::from_millis(300),
                ..MigratorOptions::default()
            },
        );
        let failure = migrator
            .up(&mut waiter, None)
            .await
            .expect_err("up ran without the lock");
        match &failure.error {
            Error::LockTimeout { holder: who, .. } => {
                assert!(
                    who.contains(&format!("pid {}", holder.backend_pid())),
                    "{who}"
                );
            }
            other => panic!("expected a lock timeout, got {other}"),
        }
        holder.unlock().await.expect("unlock");
        migrator
            .up(&mut waiter, None)
            .await
            .expect("up after the lock was released");
        let err = holder
            .unlock()
            .await
            .expect_err("unlocked a lock it does not hold");
        assert!(err.message.contains("not held by this session"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lock_is_released_when_the_holder_disconnects() {
        let db = cairn_testkit::postgres::database().await;
        let mut holder = connect(&db).await;
        holder.lock(Duration::from_secs(5)).await.expect("lock");
        drop(holder);
        let mut next = connect(&db).await;
        next.lock(Duration::from_secs(10))
            .await
            .expect("the lock of a closed session stayed held");
        next.unlock().await.expect("unlock");
    }

    /// DDL queued behind another session's lock fails fast after the retries
    /// instead of hanging (and blocking the application behind it).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ddl_blocked_by_an_open_transaction_times_out_then_applies() {
        let db = cairn_testkit::postgres::database().await;
        let mut blocker = connect(&db).await;
        blocker
            .execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .await
            .expect("create t");
        blocker.begin().await.expect("begin");
        blocker
            .execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
            .await
            .expect("lock t");

        let dir = Fixture::new()
            .migration(
                1,
                "add_c",
                "ALTER TABLE t ADD COLUMN c INTEGER;\n",
                Some("ALTER TABLE t DROP COLUMN c;\n"),
            )
            .build();
        let migrator = Migrator::new(
            dir.read(),
            MigratorOptions {
                statement_lock_timeout: Duration::from_millis(200),
                lock_retries: 2,
                retry_backoff: Duration::from_millis(50),
                ..MigratorOptions::default()
            },
        );
        let mut driver = connect(&db).await;
        let started = std::time::Instant::now();
        let failure = tokio::time::timeout(Duration::from_secs(30), migrator.up(&mut driver, None))
            .await
            .expect("up hung behind the lock")
            .expect_err("up applied while t was locked");
        match &failure.error {
            Error::Statement {
                version,
                message,
                outcome,
                ..
            } => {
                assert_eq!(*version, 1);
                assert!(
                    message.contains("lock timeout") && message.contains("55P03"),
                    "{message}"
                );
                assert!(outcome.contains("unchanged"), "{outcome}");
            }
            other => panic!("expected a statement error, got {other}"),
        }
        // Three attempts of 200 ms each, with 50 ms and 100 ms of backoff
        // between them, each pause jittered down to half at most.
        assert!(
            started.elapsed() >= Duration::from_millis(675),
            "no retries: failed after {:?}",
            started.elapsed()
        );
        assert!(failure.report.migrations.is_empty());
        assert!(migrator
            .history(&mut driver)
            .await
            .expect("history")
            .is_empty());
        let column = "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 't' AND column_name = 'c'";
        assert_eq!(text(&mut driver, column).await.as_deref(), Some("0"));
        let attempts = text(
            &mut driver,
            "SELECT count(*) FROM cairn_history_log WHERE version = 1 AND outcome <> 'ok'",
        )
        .await;
        assert_eq!(
            attempts.as_deref(),
            Some("1"),
            "one failure logged after the retries"
        );

        blocker.commit().await.expect("commit");
        migrator
            .up(&mut driver, None)
            .await
            .expect("up after the blocker committed");
        assert_eq!(text(&mut driver, column).await.as_deref(), Some("1"));
    }

    #[tokio::test]
    async fn values_come_back_as_text_and_execute_counts_rows() {
        let db = cairn_testkit::postgres::database().await;
        let mut driver = connect(&db).await;
        let rows = driver
            .query("SELECT 1, 'two', NULL, 2.5::numeric, true, '\\xff'::bytea, '2026-01-02'::date")
            .await
            .expect("query");
        let expected: Vec<Option<String>> = ["1", "two"]
            .into_iter()
            .map(|s| Some(s.to_owned()))
            .chain([None])
            .chain(
                ["2.5", "t", "\\xff", "2026-01-02"]
                    .into_iter()
                    .map(|s| Some(s.to_owned())),
            )
            .collect();
        assert_eq!(rows, vec![expected]);
        driver
            .execute("CREATE TABLE n (id INTEGER)")
            .await
            .expect("create");
        assert_eq!(
            driver
                .execute("INSERT INTO n SELECT generate_series(1, 5)")
                .await
                .expect("insert"),
            5
        );
        assert_eq!(
            driver
                .execute("UPDATE n SET id = id + 1 WHERE id > 2")
                .await
                .expect("update"),
            3
        );
        assert_eq!(driver.execute("DELETE FROM n").await.expect("delete"), 5);
        assert!(driver
            .query("SELECT * FROM n")
            .await
            .expect("empty")
            .is_empty());
    }

    #[tokio::test]
    async fn statement_errors_carry_sqlstate_detail_and_hint() {
        let db = cairn_testkit::postgres::database().await;
        let mut driver = connect(&db).await;
        let err = driver.execute("SELEC 1").await.expect_err("bad SQL ran");
        assert_eq!(err.kind, DriverErrorKind::Statement);
        assert_eq!(err.code.as_deref(), Some("42601"));
        assert!(
            err.message.contains("syntax error at or near \"SELEC\""),
            "{err}"
        );

        driver
            .execute("CREATE TABLE u (id INTEGER PRIMARY KEY)")
            .await
            .expect("create");
        driver
            .execute("INSERT INTO u VALUES (1)")
            .await
            .expect("insert");
        let err = driver
            .execute("INSERT INTO u VALUES (1)")
            .await
            .expect_err("duplicate accepted");
        assert_eq!(err.code.as_deref(), Some("23505"));
        assert!(
            err.message
                .contains("\nDETAIL: Key (id)=(1) already exists."),
            "{err}"
        );

        let err = driver
            .execute("SELECT lenght('x')")
            .await
            .expect_err("unknown function ran");
        assert!(err.message.contains("\nHINT: No function matches"), "{err}");
    }

    #[tokio::test]
    async fn settings_apply_and_reset() {
        let db = cairn_testkit::postgres::database().await;
        let mut driver = connect(&db).await;
        let server_default = text(&mut driver, "SHOW statement_timeout").await;
        driver
            .apply_settings(&SessionSettings {
                lock_timeout: Some(Duration::from_millis(1500)),
                statement_timeout: Some(Duration::from_millis(100)),
            })
            .await
            .expect("settings");
        assert_eq!(
            text(&mut driver, "SHOW lock_timeout").await.as_deref(),
            Some("1500ms")
        );
        assert_eq!(
            text(&mut driver, "SHOW statement_timeout").await.as_deref(),
            Some("100ms")
        );
        let err = driver
            .execute("SELECT pg_sleep(5)")
            .await
            .expect_err("statement_timeout did not apply");
        assert_eq!(
            (err.kind, err.code.as_deref()),
            (DriverErrorKind::Statement, Some("57014")),
            "{err}"
        );
        driver
            .apply_settings(&SessionSettings::default())
            .await
            .expect("reset");
        assert_eq!(
            text(&mut driver, "SHOW statement_timeout").await,
            server_default
        );
    }

    #[tokio::test]
    async fn application_name_is_cairn_unless_the_url_sets_one() {
        let db = cairn_testkit::postgres::database().await;
        let mut driver = connect(&db).await;
        assert_eq!(
            text(&mut driver, "SHOW application_name").await.as_deref(),
            Some("cairn")
        );
        let mut parts = Parts::parse(db.url());
        parts.query = None;
        let mut named = connect_url(&parts.url("application_name=billing"))
            .await
            .expect("connect");
        assert_eq!(
            text(&mut named, "SHOW application_name").await.as_deref(),
            Some("billing")
        );
    }

    #[tokio::test]
    async fn debug_output_hides_the_password() {
        let db = cairn_testkit::postgres::database().await;
        let name = Parts::parse(db.url()).database;
        let (parts, password) = url_with_password(&name).await;
        let driver = connect_url(&parts.url("")).await.expect("connect");
        let shown = format!("{driver:?}");
        assert!(!shown.contains(&password), "{shown}");
        assert!(shown.contains(&name), "{shown}");
    }

    fn assert_hidden(err: &cairn_core::DriverError, password: &str) {
        for shown in [err.to_string(), format!("{err:?}"), err.message.clone()] {
            assert!(!shown.contains(password), "the password leaked: {shown}");
        }
    }

    mod bad_input {
        use super::*;

        #[tokio::test]
        async fn unreachable_port_is_a_connection_error_without_the_password() {
            let err = connect_url("postgres://postgres:hunter2@127.0.0.1:1/x")
                .await
                .expect_err("port 1 answered");
            assert_eq!(err.kind, DriverErrorKind::Connection, "{err}");
            assert!(err.message.contains("postgres:***@127.0.0.1:1/x"), "{err}");
            assert!(err.message.contains("refused"), "{err}");
            assert_hidden(&err, "hunter2");
        }

        #[tokio::test]
        async fn a_missing_database_is_a_connection_error_naming_it() {
            let name = cairn_testkit::server::unique_name();
            let (parts, password) = url_with_password(&name).await;
            let err = connect_url(&parts.url(""))
                .await
                .expect_err("a missing database accepted connections");
            assert_eq!(err.kind, DriverErrorKind::Connection, "{err}");
            assert_eq!(err.code.as_deref(), Some("3D000"), "{err}");
            assert!(
                err.message
                    .contains(&format!("database \"{name}\" does not exist")),
                "{err}"
            );
            assert_hidden(&err, &password);
        }

        #[tokio::test]
        async fn an_unknown_sslmode_is_an_error() {
            let (parts, password) = url_with_password("postgres").await;
            let err = connect_url(&parts.url("sslmode=allow"))
                .await
                .expect_err("sslmode=allow accepted");
            assert!(err.message.contains("unknown sslmode `allow`"), "{err}");
            assert!(err.message.contains("verify-full"), "{err}");
            assert_hidden(&err, &password);
        }

        #[tokio::test]
        async fn a_missing_root_certificate_file_is_named() {
            let (parts, password) = url_with_password("postgres").await;
            let err = connect_url(&parts.url("sslmode=verify-full&sslrootcert=/nonexistent"))
                .await
                .expect_err("a missing sslrootcert accepted");
            assert!(
                err.message
                    .contains("cannot read sslrootcert `/nonexistent`"),
                "{err}"
            );
            assert_hidden(&err, &password);
        }

        #[tokio::test]
        async fn client_certificates_are_refused_by_name() {
            let (parts, password) = url_with_password("postgres").await;
            let err = connect_url(&parts.url("sslcert=/c.pem&sslkey=/k.pem"))
                .await
                .expect_err("sslcert accepted");
            assert!(err.message.contains("`sslcert` is not supported"), "{err}");
            assert_hidden(&err, &password);
        }
    }

    /// TLS against the test server: what each mode does depends on whether the
    /// server has TLS on, so the test asks it and checks the matching outcome.
    mod tls {
        use super::*;

        /// The server's `ssl` setting and its certificate file, if this machine can read it.
        async fn server_tls() -> (bool, Option<String>) {
            let (parts, _) = url_with_password("postgres").await;
            let mut driver = connect_url(&parts.url("sslmode=disable"))
                .await
                .expect("connect without TLS");
            let on = text(&mut driver, "SHOW ssl").await.as_deref() == Some("on");
            let cert = text(&mut driver, "SHOW ssl_cert_file").await;
            let same_machine =
                parts.host.starts_with("127.0.0.1") || parts.host.starts_with("localhost");
            let cert = cert.filter(|path| same_machine && std::fs::read(path).is_ok());
            (on, cert)
        }

        async fn ssl_in_use(driver: &mut PgDriver) -> String {
            text(
                driver,
                "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            )
            .await
            .unwrap_or_default()
        }

        #[tokio::test]
        async fn sslmode_require_encrypts_or_fails_clearly() {
            let (on, _) = server_tls().await;
            let (parts, password) = url_with_password("postgres").await;
            let result = connect_url(&parts.url("sslmode=require")).await;
            if on {
                let mut driver = result
                    .unwrap_or_else(|e| panic!("sslmode=require failed on a TLS server: {e}"));
                assert_eq!(ssl_in_use(&mut driver).await, "true");
            } else {
                let err = result.expect_err("sslmode=require connected to a server without TLS");
                assert_eq!(err.kind, DriverErrorKind::Connection, "{err}");
                assert!(err.message.contains("server does not support TLS"), "{err}");
                assert!(err.message.contains("sslmode=require needs TLS"), "{err}");
                assert_hidden(&err, &password);
            }
            let mut plain = connect_url(&parts.url("sslmode=disable"))
                .await
                .expect("sslmode=disable");
            assert_eq!(ssl_in_use(&mut plain).await, "false");
        }

        #[tokio::test]
        async fn verify_modes_check_the_certificate() {
            let (on, cert) = server_tls().await;
            let (parts, password) = url_with_password("postgres").await;
            // The built-in Mozilla roots do not trust a test server's certificate.
            let result = connect_url(&parts.url("sslmode=verify-full")).await;
            let err = result.expect_err("verify-full trusted the test server's certificate");
            assert_eq!(err.kind, DriverErrorKind::Connection, "{err}");
            if on {
                assert!(err.message.contains("TLS handshake"), "{err}");
                assert!(err.message.contains("sslrootcert"), "{err}");
            } else {
                assert!(err.message.contains("server does not support TLS"), "{err}");
            }
            assert_hidden(&err, &password);

            // With the server's own (self-signed) certificate as the root,
            // verify-ca passes whatever the host name.
            if let (true, Some(cert)) = (on, cert) {
                let query = format!("sslmode=verify-ca&sslrootcert={cert}");
                let mut driver = connect_url(&parts.url(&query)).await.unwrap_or_else(|e| {
                    panic!("verify-ca with the server's certificate failed: {e}")
                });
                assert_eq!(ssl_in_use(&mut driver).await, "true");

                // verify-full checks the name too: the certificate names
                // `localhost`, so an IP address fails and the name passes.
                let query = format!("sslmode=verify-full&sslrootcert={cert}");
                let mut by_ip = Parts::parse(&parts.url(""));
                by_ip.host = by_ip.host.replacen("localhost", "127.0.0.1", 1);
                let err = connect_url(&by_ip.url(&query))
                    .await
                    .expect_err("verify-full accepted a certificate for another name");
                assert!(
                    err.message.contains("TLS handshake") && err.message.contains(&cert),
                    "{err}"
                );
                let mut by_name = by_ip;
                by_name.host = by_name.host.replacen("127.0.0.1", "localhost", 1);
                let mut driver = connect_url(&by_name.url(&query)).await.unwrap_or_else(|e| {
                    panic!("verify-full with the server's certificate and name failed: {e}")
                });
                assert_eq!(ssl_in_use(&mut driver).await, "true");
            }
        }
    }
}

mod introspection {
    use super::*;
    cairn_testkit::introspection_tests!(Postgres);
}

/// Issue 9: literals and the session preconditions under
/// `standard_conforming_strings = off`, set on the database as legacy servers
/// do, or by a migration on the session itself.
mod literal {
    use cairn_core::history::string_literal;
    use cairn_core::{Engine, SessionSettings};
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    use super::*;

    async fn setting(driver: &mut PgDriver) -> String {
        let rows = driver
            .query("SHOW standard_conforming_strings")
            .await
            .expect("SHOW standard_conforming_strings");
        rows[0][0].clone().expect("a value")
    }

    /// `ALTER DATABASE <db> SET standard_conforming_strings = off`, for the
    /// sessions that connect after it.
    async fn legacy_strings(db: &TestDatabase) {
        let mut driver = connect(db).await;
        let name = quote_ident_pg(driver.database());
        driver
            .execute(&format!(
                "ALTER DATABASE {name} SET standard_conforming_strings = off"
            ))
            .await
            .expect("ALTER DATABASE ... SET standard_conforming_strings = off");
    }

    fn quote_ident_pg(name: &str) -> String {
        cairn_core::history::quote_ident(Engine::Postgres, name)
    }

    #[tokio::test]
    async fn literal_a_database_with_standard_strings_off_gets_sessions_with_them_on() {
        let db = cairn_testkit::postgres::database().await;
        legacy_strings(&db).await;
        let mut driver = connect(&db).await;
        let rows = driver
            .query("SELECT setconfig::text FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())")
            .await
            .expect("read the database's settings");
        assert_eq!(
            rows,
            vec![vec![Some("{standard_conforming_strings=off}".to_owned())]],
            "the database defaults to legacy strings"
        );
        assert_eq!(setting(&mut driver).await, "on", "pinned at connect");

        // A migration turns them off; the next migration's settings turn them on again.
        driver
            .execute("SET standard_conforming_strings = off")
            .await
            .expect("SET off");
        assert_eq!(setting(&mut driver).await, "off");
        driver
            .apply_settings(&SessionSettings::default())
            .await
            .expect("apply_settings");
        assert_eq!(
            setting(&mut driver).await,
            "on",
            "set again before a migration"
        );
    }

    #[tokio::test]
    async fn literal_a_nul_is_refused_by_the_server_not_dropped() {
        let db = cairn_testkit::postgres::database().await;
        let mut driver = connect(&db).await;
        let sql = format!("SELECT {}", string_literal(Engine::Postgres, "a\0b"));
        let err = driver
            .query(&sql)
            .await
            .expect_err("PostgreSQL text cannot hold NUL: the statement must fail");
        assert!(err.message.contains("0x00"), "{err}");
    }

    /// Text with the characters that matter to a lexer, and any other
    /// character but NUL (which PostgreSQL text cannot hold).
    fn text() -> impl Strategy<Value = String> {
        let special = prop_oneof![
            Just('\''),
            Just('\\'),
            Just('"'),
            Just('$'),
            Just(';'),
            Just('\n'),
            Just('é'),
            Just('😀'),
        ];
        let other = any::<char>().prop_filter("no NUL", |c| *c != '\0');
        prop::collection::vec(prop_oneof![other, special], 0..20)
            .prop_map(|chars| chars.into_iter().collect())
    }

    /// Any list of strings read back through their literals, once with
    /// `standard_conforming_strings` off and once on, is the same list.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn literal_any_string_reads_back_exactly_under_both_settings() {
        let db = cairn_testkit::postgres::database().await;
        let driver = tokio::sync::Mutex::new(connect(&db).await);
        let handle = tokio::runtime::Handle::current();
        let mut runner = TestRunner::new(Config {
            cases: 64,
            ..Config::default()
        });
        let result = tokio::task::block_in_place(|| {
            runner.run(&prop::collection::vec(text(), 1..12), |values| {
                let literals: Vec<String> = values
                    .iter()
                    .map(|v| string_literal(Engine::Postgres, v))
                    .collect();
                let sql = format!("SELECT {}", literals.join(", "));
                let expected: Vec<Option<String>> = values.iter().cloned().map(Some).collect();
                for standard in ["off", "on"] {
                    let rows = handle.block_on(async {
                        let mut driver = driver.lock().await;
                        driver
                            .execute(&format!("SET standard_conforming_strings = {standard}"))
                            .await
                            .expect("SET standard_conforming_strings");
                        driver.query(&sql).await
                    });
                    let rows = rows.map_err(|e| {
                        TestCaseError::fail(format!(
                            "standard_conforming_strings = {standard}: {sql}: {e}"
                        ))
                    })?;
                    prop_assert_eq!(
                        &rows,
                        &vec![expected.clone()],
                        "standard_conforming_strings = {}: {}",
                        standard,
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
