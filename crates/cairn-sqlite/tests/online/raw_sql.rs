//! `raw_sql` on SQLite.

use super::*;

#[tokio::test]
async fn raw_sql_runs_what_the_user_wrote_and_is_flagged_unchecked() {
    let mut db = Db::new(&["CREATE TABLE t (id INTEGER PRIMARY KEY)"]).await;
    let before = db.snapshot().await;
    let kind = Kind::RawSql {
        up: expr(
            "CREATE TABLE audit (id INTEGER PRIMARY KEY); CREATE INDEX audit_id ON audit (id)",
        ),
        down: Some(expr("DROP TABLE audit")),
        contract: Some(expr("DROP TABLE t")),
    };
    let phases = compile(kind, None).expect("compiles");
    assert!(phases.unchecked);
    assert!(
        phases.expand[0].what.contains("unchecked"),
        "{}",
        phases.expand[0].what
    );
    assert!(phases.expand[0].done_if.is_none());
    db.run(&phases.expand).await;
    assert!(db.snapshot().await.tables.contains_key("audit"));
    db.run(&phases.abort).await;
    assert_eq!(diff(&before, &db.snapshot().await), vec![]);
    db.run(&phases.expand).await;
    db.run(&phases.contract).await;
    assert_eq!(
        db.snapshot().await.tables.keys().collect::<Vec<_>>(),
        ["audit"]
    );
}
