//! Faults: the server ends the migrating session (an administrator's
//! `pg_terminate_backend`, a restart, a dropped network) during a migration or
//! between two — the testkit's fault suite ([`cairn_testkit::faults`]) on
//! PostgreSQL. And a wrong password must be a clear error that never shows
//! the password.

use cairn_core::url::DatabaseUrl;
use cairn_core::{DriverErrorKind, Engine};
use cairn_postgres::PgDriver;
use cairn_testkit::faults::Server;

use super::Postgres;

impl Server for Postgres {
    fn session_id_query(&self) -> &'static str {
        "SELECT pg_backend_pid()"
    }

    fn running_query(&self, id: &str, needle: &str) -> String {
        format!(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = {id} AND state = 'active' AND position('{needle}' IN query) > 0"
        )
    }

    fn alive_query(&self, id: &str) -> String {
        format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {id}")
    }

    fn kill_statement(&self, id: &str) -> String {
        format!("SELECT pg_terminate_backend({id})")
    }

    fn sleep_statement(&self, seconds: u32) -> String {
        format!("SELECT pg_sleep({seconds})")
    }

    /// The server's FATAL message, or the closed socket if it came first.
    fn says_killed(&self, message: &str) -> bool {
        message.contains("terminating connection due to administrator command (57P01)")
            || message.contains("the connection to the PostgreSQL server was closed")
    }

    fn says_gone(&self, message: &str) -> bool {
        message.contains("connection")
            && (message.contains("closed") || message.contains("terminating"))
    }
}

cairn_testkit::fault_tests!(Postgres);

/// The local test server trusts every connection, so this one runs against a
/// container whose `pg_hba.conf` asks for scram-sha-256 passwords.
#[tokio::test]
async fn wrong_password_is_a_clear_error_without_the_password() {
    let admin = cairn_testkit::server::container_url(Engine::Postgres)
        .await
        .unwrap_or_else(|why| panic!("no PostgreSQL container for this test: {why}"));
    let right = super::Parts::parse(&admin);
    let user = right.user.clone();
    let good = right
        .password
        .clone()
        .expect("the container URL has a password");
    let wrong_password = "hunter2-wrong";
    assert_ne!(good, wrong_password);

    // The right password connects: the failure below is the password's.
    let driver = PgDriver::connect(&DatabaseUrl::parse(&right.url("")).expect("a URL"))
        .await
        .unwrap_or_else(|e| panic!("the container refused its own password: {e}"));
    drop(driver);

    let mut wrong = super::Parts::parse(&admin);
    wrong.password = Some(wrong_password.to_owned());
    let url = DatabaseUrl::parse(&wrong.url("")).expect("a URL");
    let err = PgDriver::connect(&url)
        .await
        .expect_err("a wrong password was accepted");
    assert_eq!(err.kind, DriverErrorKind::Connection, "{err}");
    assert_eq!(err.code.as_deref(), Some("28P01"), "{err}");
    assert!(
        err.message.contains(&format!(
            "password authentication failed for user \"{user}\""
        )),
        "{err}"
    );
    assert!(
        err.message.contains(&format!("{user}:***@127.0.0.1:")),
        "{err}"
    );
    // Nor does any error beneath it (the client's, kept as the source).
    let mut chain = Vec::new();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(error) = cause {
        chain.push(error.to_string());
        cause = error.source();
    }
    for shown in [err.to_string(), format!("{err:?}"), err.message.clone()]
        .into_iter()
        .chain(chain)
    {
        assert!(
            !shown.contains(wrong_password),
            "the password leaked: {shown}"
        );
        assert!(!shown.contains(&good), "the right password leaked: {shown}");
    }
}
