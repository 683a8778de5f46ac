//! Scratch databases on a real server (`cairn verify --engines`, `cairn
//! drift`): removed after the run whatever its outcome, also when the run
//! fails after it connected.

use cairn_core::url::DatabaseUrl;
use cairn_core::verify::scratch::{with_scratch, Connect, Source};
use cairn_core::{Driver, Engine, Error};
use cairn_postgres::PgDriver;

fn connect_pg() -> Box<Connect> {
    Box::new(|url: DatabaseUrl| {
        Box::pin(async move {
            PgDriver::connect(&url)
                .await
                .map(|driver| Box::new(driver) as Box<dyn Driver>)
        })
    })
}

/// The databases whose names start with `prefix`.
async fn databases(admin: &mut PgDriver, prefix: &str) -> Vec<String> {
    admin
        .query(&format!(
            "SELECT datname FROM pg_database WHERE datname LIKE '{prefix}%' ORDER BY datname"
        ))
        .await
        .expect("list the databases")
        .into_iter()
        .filter_map(|row| row.into_iter().next().flatten())
        .collect()
}

#[tokio::test]
async fn scratch_a_run_that_fails_after_connecting_leaves_no_database_behind() {
    let admin_url = cairn_testkit::server::admin_url(Engine::Postgres).await;
    let admin = DatabaseUrl::parse(&admin_url).expect("a postgres URL");
    let connect = connect_pg();
    // The run's name is unique to this test, so other tests' scratch
    // databases never count.
    let what = format!("failing_{}", std::process::id());
    let prefix = format!("cairn_{what}");
    let run = with_scratch(
        Engine::Postgres,
        &Source::Server(admin.clone()),
        &what,
        &connect,
        async |driver: &mut dyn Driver| -> Result<(), Error> {
            driver
                .execute("CREATE TABLE t (id INTEGER)")
                .await
                .expect("the scratch database takes a table");
            driver
                .execute("SELECT * FROM no_such_table")
                .await
                .map(|_| ())
                .map_err(|cause| Error::Driver {
                    engine: Engine::Postgres,
                    context: "the run".to_owned(),
                    cause,
                })
        },
    )
    .await;
    let database = run.database.expect("the scratch database was created");
    assert!(
        database.to_string().contains(&prefix),
        "{database} is not named after the run"
    );
    let error = run.outcome.expect_err("the run failed").to_string();
    assert!(error.contains("no_such_table"), "{error}");
    assert!(run.removal.is_none(), "{:?}", run.removal);
    let mut admin = PgDriver::connect(&admin)
        .await
        .expect("connect to the admin database");
    assert_eq!(databases(&mut admin, &prefix).await, Vec::<String>::new());
}
