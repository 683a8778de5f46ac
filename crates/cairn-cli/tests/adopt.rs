//! `cairn adopt --from <tool>` on every engine (issue 12).
//!
//! Each tool's history table is either written by the **real tool**
//! (sqlx-cli, dbmate; feature `peer-tools`, installed by
//! `scripts/peer-tools.sh`) or, where the tool cannot run here, a **fixture
//! built from its documented table format** (the DDL each tool runs, per
//! engine, from docs/adopting.md and the research notes), named `fixture_*`.
//! After adopting: `status` shows every adopted migration applied, `up`
//! applies none of them, a new Cairn migration applies and its `down` works,
//! and adopting again records nothing. Every refusal leaves the database as
//! it was (no Cairn table created, the foreign table untouched).

use std::path::PathBuf;

use cairn::adopt::checksums;
use cairn::Engine;
use cairn_testkit::TestDatabase;

use crate::support::{self, Finished};

/// A database and a migrations directory beside it.
struct Project {
    db: TestDatabase,
    dir: PathBuf,
}

impl Project {
    fn new(db: TestDatabase) -> Self {
        let dir = db.scratch_dir().join("migrations");
        std::fs::create_dir_all(&dir).expect("the migrations directory");
        Project { db, dir }
    }

    fn engine(&self) -> Engine {
        self.db.engine()
    }

    /// Writes `bytes` to `migrations/<rel>` exactly (no newline added).
    fn file(&self, rel: &str, bytes: &str) -> PathBuf {
        let path = self.dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("a folder");
        std::fs::write(&path, bytes).expect("write the migration");
        path
    }

    async fn exec(&self, statements: &[String]) {
        let mut driver = support::connect(&self.db).await;
        for sql in statements {
            driver
                .execute(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }

    async fn count(&self, sql: &str) -> i64 {
        let mut driver = support::connect(&self.db).await;
        support::count(driver.as_mut(), sql).await
    }

    async fn tables(&self) -> i64 {
        let mut driver = support::connect(&self.db).await;
        support::table_count(driver.as_mut()).await
    }

    async fn cairn(&self, args: &[&str]) -> Finished {
        support::cairn(&self.db, &self.dir, args).await
    }

    /// A binary literal of `bytes` (hex) on this engine.
    fn blob(&self, bytes: &[u8]) -> String {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        match self.engine() {
            Engine::Postgres => format!("decode('{hex}', 'hex')"),
            _ => format!("X'{hex}'"),
        }
    }
}

#[track_caller]
fn fails_with(run: &Finished, code: i32, needle: &str) {
    assert_eq!(run.code(), Some(code), "{run}");
    assert!(
        run.stderr.contains(needle),
        "stderr lacks {needle:?}\n{run}"
    );
}

#[track_caller]
fn says(run: &Finished, needle: &str) {
    let out = run.success();
    assert!(out.contains(needle), "stdout lacks {needle:?}\n{run}");
}

/// After adopting: every adopted migration applied (nothing pending),
/// `up` applies none, and adopting again records nothing.
async fn adopted_and_nothing_left(p: &Project, tool: &str, versions: &[&str]) {
    let status = p.cairn(&["status"]).await;
    let out = status.success();
    for version in versions {
        let line = out
            .lines()
            .find(|line| line.starts_with(&format!("{version} ")))
            .unwrap_or_else(|| panic!("status lacks version {version}\n{status}"));
        assert!(
            line.contains("applied") || line.contains("baseline"),
            "{version} is not applied: {line}\n{status}"
        );
    }
    assert!(!out.contains("pending"), "{status}");
    says(&p.cairn(&["up"]).await, "nothing to apply");
    let before = history_dump(p).await;
    let again = p.cairn(&["adopt", "--from", tool]).await;
    says(&again, "recorded 0 migrations");
    assert_eq!(
        history_dump(p).await,
        before,
        "adopting twice changed the history"
    );
}

/// Cairn's history and log, every column, in order.
async fn history_dump(p: &Project) -> Vec<Vec<Option<String>>> {
    let mut driver = support::connect(&p.db).await;
    let mut rows = Vec::new();
    for sql in [
        "SELECT * FROM cairn_history ORDER BY version",
        "SELECT * FROM cairn_history_log ORDER BY id",
    ] {
        rows.extend(
            driver
                .query(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
        );
    }
    rows
}

/// A new Cairn migration (in the project's layout) applies, and its down works.
async fn a_new_migration_applies_and_rolls_back(p: &Project, rel_up: &str, rel_down: &str) {
    p.file(rel_up, "CREATE TABLE notes (id INTEGER PRIMARY KEY);\n");
    p.file(rel_down, "DROP TABLE notes;\n");
    let up = p.cairn(&["up"]).await;
    says(&up, "notes");
    assert_eq!(p.count("SELECT count(*) FROM notes").await, 0);
    p.cairn(&["down"]).await.success();
    let status = p.cairn(&["status"]).await;
    assert!(status.success().contains("pending"), "{status}");
}

// ---------------------------------------------------------------------------
// sqlx (fixture: its table, with checksums as sqlx computes them).

fn sqlx_ddl(engine: Engine) -> String {
    let (time, blob) = match engine {
        Engine::Postgres => ("TIMESTAMPTZ NOT NULL DEFAULT now()", "BYTEA"),
        _ => ("TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP", "BLOB"),
    };
    format!(
        "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on {time}, success BOOLEAN NOT NULL, checksum {blob} NOT NULL, execution_time BIGINT NOT NULL)"
    )
}

fn sqlx_row(p: &Project, version: i64, description: &str, success: bool, sql: &[u8]) -> String {
    format!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES ({version}, '{description}', {}, {}, 1500000)",
        if success { "TRUE" } else { "FALSE" },
        p.blob(&checksums::sqlx(sql))
    )
}

const USERS: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100));\r\n";
const USERS_INDEX: &str = "CREATE INDEX users_name ON users (name);\n";

/// sqlx applied two migrations (the first with CRLF line endings, which
/// sqlx hashes as they are).
async fn sqlx_project(p: &Project) {
    p.file("1_create_users.up.sql", USERS);
    p.file("1_create_users.down.sql", "DROP TABLE users;\n");
    p.file("2_users_name.up.sql", USERS_INDEX);
    p.file("2_users_name.down.sql", "DROP INDEX users_name ON users;\n");
    if p.engine() != Engine::Mysql {
        p.file("2_users_name.down.sql", "DROP INDEX users_name;\n");
    }
    p.exec(&[
        USERS.to_owned(),
        USERS_INDEX.to_owned(),
        sqlx_ddl(p.engine()),
        sqlx_row(p, 1, "create users", true, USERS.as_bytes()),
        sqlx_row(p, 2, "users name", true, USERS_INDEX.as_bytes()),
    ])
    .await;
}

async fn fixture_sqlx_adopts_and_keeps_working(db: TestDatabase) {
    let p = Project::new(db);
    sqlx_project(&p).await;
    let dry = p.cairn(&["adopt", "--from", "sqlx", "--dry-run"]).await;
    says(&dry, "would record 2 migrations");
    says(&dry, "SHA-384 verified");
    assert_eq!(p.tables().await, 2, "a dry run creates nothing");
    let run = p.cairn(&["adopt", "--from", "sqlx"]).await;
    says(&run, "recorded 2 migrations");
    adopted_and_nothing_left(&p, "sqlx", &["1", "2"]).await;
    // Cairn's history now has the execution time sqlx kept (1.5 ms → 1).
    assert_eq!(
        p.count("SELECT count(*) FROM cairn_history_log WHERE action = 'adopt'")
            .await,
        2
    );
    a_new_migration_applies_and_rolls_back(&p, "3_notes.up.sql", "3_notes.down.sql").await;
    // The foreign table is untouched.
    assert_eq!(p.count("SELECT count(*) FROM _sqlx_migrations").await, 2);
}

async fn fixture_sqlx_checksum_mismatch_is_refused(db: TestDatabase) {
    let p = Project::new(db);
    sqlx_project(&p).await;
    // The file was edited after sqlx applied it: only the line ending.
    p.file(
        "1_create_users.up.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100));\n",
    );
    let tables = p.tables().await;
    let run = p.cairn(&["adopt", "--from", "sqlx"]).await;
    fails_with(&run, 1, "migration 1 (");
    fails_with(&run, 1, "was changed after sqlx applied it");
    fails_with(&run, 1, "SHA-384");
    fails_with(&run, 1, "nothing was changed");
    assert_eq!(p.tables().await, tables, "no Cairn table created");
}

async fn fixture_sqlx_row_without_file_is_refused(db: TestDatabase) {
    let p = Project::new(db);
    sqlx_project(&p).await;
    p.exec(&[sqlx_row(&p, 3, "gone", true, b"SELECT 1;")]).await;
    let tables = p.tables().await;
    let run = p.cairn(&["adopt", "--from", "sqlx"]).await;
    fails_with(&run, 1, "records 3 (version 3)");
    fails_with(&run, 1, "has no migration 3");
    fails_with(&run, 1, "Restore its file");
    assert_eq!(p.tables().await, tables);
}

async fn fixture_sqlx_failed_row_needs_repair(db: TestDatabase) {
    let p = Project::new(db);
    sqlx_project(&p).await;
    p.file(
        "3_notes.up.sql",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY);\n",
    );
    p.file("3_notes.down.sql", "DROP TABLE notes;\n");
    // sqlx on MySQL leaves `success = false` when a migration fails.
    p.exec(&[sqlx_row(
        &p,
        3,
        "notes",
        false,
        b"CREATE TABLE notes (id INTEGER PRIMARY KEY);\n",
    )])
    .await;
    let run = p.cairn(&["adopt", "--from", "sqlx"]).await;
    says(&run, "failed (run `cairn repair` after review)");
    let status = p.cairn(&["status"]).await;
    assert_eq!(
        status.code(),
        Some(3),
        "status reports the problem\n{status}"
    );
    assert!(status.stdout.contains("failed"), "{status}");
    let up = p.cairn(&["up"]).await;
    assert_eq!(up.code(), Some(3), "up refuses a failed migration\n{up}");
    assert!(
        up.stderr.contains("repair") || up.stdout.contains("repair"),
        "{up}"
    );
    p.cairn(&["repair"]).await.success();
    says(&p.cairn(&["up"]).await, "notes");
    assert_eq!(p.count("SELECT count(*) FROM notes").await, 0);
}

async fn fixture_sqlx_over_existing_cairn_history(db: TestDatabase) {
    let p = Project::new(db);
    sqlx_project(&p).await;
    p.cairn(&["adopt", "--from", "sqlx"]).await.success();
    p.file(
        "3_notes.up.sql",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY);\n",
    );
    p.file("3_notes.down.sql", "DROP TABLE notes;\n");
    p.cairn(&["up"]).await.success();
    // Adopting again, with Cairn's own row for 3: nothing recorded, 3 kept.
    let again = p.cairn(&["adopt", "--from", "sqlx"]).await;
    says(
        &again,
        "recorded 0 migrations, 2 already in Cairn's history",
    );
    assert_eq!(p.count("SELECT count(*) FROM cairn_history").await, 3);
    assert_eq!(
        p.count("SELECT count(*) FROM cairn_history_log WHERE action = 'adopt'")
            .await,
        2
    );
}

/// sqlx 0.9 hashes with `[migrate] ignored-chars` removed when sqlx.toml
/// (in the crate root, beside the migrations directory) sets them.
async fn fixture_sqlx_toml_ignored_chars(db: TestDatabase) {
    let p = Project::new(db);
    p.file("1_create_users.up.sql", USERS);
    p.file("1_create_users.down.sql", "DROP TABLE users;\n");
    let hashed = checksums::sqlx_ignoring(USERS.as_bytes(), &['\r']);
    p.exec(&[
        USERS.to_owned(),
        sqlx_ddl(p.engine()),
        format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (1, 'create users', TRUE, {}, 1)",
            p.blob(&hashed)
        ),
    ])
    .await;
    let toml = p.db.scratch_dir().join("sqlx.toml");
    std::fs::write(&toml, "[migrate]\nignored-chars = [\"x\", \"yz\"]\n").expect("sqlx.toml");
    let bad = p.cairn(&["adopt", "--from", "sqlx"]).await;
    fails_with(&bad, 1, "sqlx.toml` is not valid");
    fails_with(&bad, 1, "not one character");
    std::fs::write(&toml, "[migrate]\nignored-chars = [\"\\r\"]\n").expect("sqlx.toml");
    says(
        &p.cairn(&["adopt", "--from", "sqlx"]).await,
        "SHA-384 verified",
    );
    adopted_and_nothing_left(&p, "sqlx", &["1"]).await;
}

/// PostgreSQL: a history table in another schema, named `SCHEMA.NAME`.
#[cfg(feature = "servers")]
async fn fixture_sqlx_table_in_a_schema(db: TestDatabase) {
    let p = Project::new(db);
    p.file("1_create_users.up.sql", USERS);
    p.file("1_create_users.down.sql", "DROP TABLE users;\n");
    let ddl = sqlx_ddl(p.engine()).replace("_sqlx_migrations", "app._sqlx_migrations");
    let row = sqlx_row(&p, 1, "create users", true, USERS.as_bytes())
        .replace("_sqlx_migrations", "app._sqlx_migrations");
    p.exec(&["CREATE SCHEMA app".to_owned(), USERS.to_owned(), ddl, row])
        .await;
    let run = p
        .cairn(&["adopt", "--from", "sqlx", "--table", "app._sqlx_migrations"])
        .await;
    says(&run, "(table app._sqlx_migrations)");
    says(&run, "recorded 1 migration");
    says(&p.cairn(&["up"]).await, "nothing to apply");
    let again = p
        .cairn(&["adopt", "--from", "sqlx", "--table", "app._sqlx_migrations"])
        .await;
    says(
        &again,
        "recorded 0 migrations, 1 already in Cairn's history",
    );
}

async fn fixture_sqlx_renamed_table(db: TestDatabase) {
    let p = Project::new(db);
    p.file("1_create_users.up.sql", USERS);
    p.file("1_create_users.down.sql", "DROP TABLE users;\n");
    let ddl = sqlx_ddl(p.engine()).replace("_sqlx_migrations", "app_migrations");
    let row = sqlx_row(&p, 1, "create users", true, USERS.as_bytes())
        .replace("_sqlx_migrations", "app_migrations");
    p.exec(&[USERS.to_owned(), ddl, row]).await;
    let missing = p.cairn(&["adopt", "--from", "sqlx"]).await;
    fails_with(&missing, 1, "there is no table `_sqlx_migrations`");
    fails_with(&missing, 1, "pass --table NAME");
    let run = p
        .cairn(&["adopt", "--from", "sqlx", "--table", "app_migrations"])
        .await;
    says(&run, "recorded 1 migration");
}

// ---------------------------------------------------------------------------
// golang-migrate (fixture): one row, version and dirty.

fn golang_migrate_ddl(engine: Engine) -> Vec<String> {
    match engine {
        Engine::Sqlite => vec![
            "CREATE TABLE IF NOT EXISTS schema_migrations (version uint64, dirty bool)".to_owned(),
            "CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON schema_migrations (version)"
                .to_owned(),
        ],
        _ => vec![
            "CREATE TABLE schema_migrations (version bigint not null primary key, dirty boolean not null)"
                .to_owned(),
        ],
    }
}

async fn golang_migrate_project(p: &Project, version: i64, dirty: bool) {
    p.file("1_create_users.up.sql", USERS);
    p.file("1_create_users.down.sql", "DROP TABLE users;\n");
    p.file("2_users_name.up.sql", USERS_INDEX);
    p.file("2_users_name.down.sql", "DROP INDEX users_name ON users;\n");
    if p.engine() != Engine::Mysql {
        p.file("2_users_name.down.sql", "DROP INDEX users_name;\n");
    }
    p.file(
        "3_notes.up.sql",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY);\n",
    );
    p.file("3_notes.down.sql", "DROP TABLE notes;\n");
    let mut statements = vec![USERS.to_owned(), USERS_INDEX.to_owned()];
    statements.extend(golang_migrate_ddl(p.engine()));
    statements.push(format!(
        "INSERT INTO schema_migrations (version, dirty) VALUES ({version}, {})",
        if dirty { "TRUE" } else { "FALSE" }
    ));
    p.exec(&statements).await;
}

async fn fixture_golang_migrate_adopts_up_to_its_version(db: TestDatabase) {
    let p = Project::new(db);
    golang_migrate_project(&p, 2, false).await;
    let run = p.cairn(&["adopt", "--from", "golang-migrate"]).await;
    says(&run, "recorded 2 migrations");
    says(&run, "no checksum kept");
    let status = p.cairn(&["status"]).await;
    let out = status.success();
    assert!(
        out.contains("1 pending") || out.contains("pending"),
        "{status}"
    );
    // Migration 3 was never applied by golang-migrate: it is pending, and applies.
    says(&p.cairn(&["up"]).await, "notes");
    says(
        &p.cairn(&["adopt", "--from", "golang-migrate"]).await,
        "recorded 0 migrations",
    );
    p.cairn(&["down"]).await.success();
}

async fn fixture_golang_migrate_dirty_becomes_failed(db: TestDatabase) {
    let p = Project::new(db);
    golang_migrate_project(&p, 3, true).await;
    let run = p.cairn(&["adopt", "--from", "golang-migrate"]).await;
    says(&run, "3 notes <- 3: failed");
    let up = p.cairn(&["up"]).await;
    assert_eq!(up.code(), Some(3), "{up}");
    p.cairn(&["repair"]).await.success();
    says(&p.cairn(&["up"]).await, "notes");
    // golang-migrate's row is untouched (still dirty).
    assert_eq!(
        p.count("SELECT count(*) FROM schema_migrations WHERE version = 3")
            .await,
        1
    );
}

async fn fixture_golang_migrate_edited_table_is_refused(db: TestDatabase) {
    let p = Project::new(db);
    golang_migrate_project(&p, 1, false).await;
    // golang-migrate keeps one row; a second one was written by hand.
    p.exec(&["INSERT INTO schema_migrations (version, dirty) VALUES (2, FALSE)".to_owned()])
        .await;
    let tables = p.tables().await;
    let run = p.cairn(&["adopt", "--from", "golang-migrate"]).await;
    fails_with(
        &run,
        1,
        "row #2 of `schema_migrations` has version = 2, where golang-migrate writes no second row: only the current version, in one row",
    );
    fails_with(&run, 1, "Was the table edited by hand?");
    assert_eq!(p.tables().await, tables);
}

async fn fixture_schema_migrations_is_told_apart(db: TestDatabase) {
    let p = Project::new(db);
    golang_migrate_project(&p, 2, false).await;
    let tables = p.tables().await;
    let dbmate = p.cairn(&["adopt", "--from", "dbmate"]).await;
    fails_with(
        &dbmate,
        1,
        "looks like golang-migrate's (it has a `dirty` column)",
    );
    fails_with(&dbmate, 1, "--from golang-migrate");
    assert_eq!(p.tables().await, tables);

    // A dbmate-shaped table read as golang-migrate's.
    let q = Project::new(cairn_testkit_fresh(&p).await);
    q.exec(&[
        "CREATE TABLE schema_migrations (version varchar(128) primary key)".to_owned(),
        "INSERT INTO schema_migrations (version) VALUES ('1')".to_owned(),
    ])
    .await;
    q.file("1_create_users.up.sql", USERS);
    let gm = q.cairn(&["adopt", "--from", "golang-migrate"]).await;
    fails_with(
        &gm,
        1,
        "does not have golang-migrate's columns (version, dirty)",
    );
    fails_with(&gm, 1, "pass --from dbmate");

    // Rails keeps ar_internal_metadata beside the same table.
    q.exec(&[
        "CREATE TABLE ar_internal_metadata (\"key\" varchar(255) primary key, value varchar(255))"
            .replace(
                '"',
                if q.engine() == Engine::Mysql {
                    "`"
                } else {
                    "\""
                },
            ),
    ])
    .await;
    let rails = q.cairn(&["adopt", "--from", "dbmate"]).await;
    fails_with(
        &rails,
        1,
        "looks like Rails's (`ar_internal_metadata` is beside it)",
    );
    fails_with(&rails, 1, "--from rails");
    assert_eq!(
        q.count("SELECT count(*) FROM schema_migrations").await,
        1,
        "the foreign table is untouched"
    );
}

/// Another fresh database of the same engine as `p`'s.
async fn cairn_testkit_fresh(p: &Project) -> TestDatabase {
    match p.engine() {
        Engine::Sqlite => TestDatabase::sqlite(),
        #[cfg(feature = "servers")]
        Engine::Postgres => cairn_testkit::postgres::database().await,
        #[cfg(feature = "servers")]
        Engine::Mysql => cairn_testkit::mysql::database().await,
        other => panic!("no fresh {other} database without the `servers` feature"),
    }
}

// ---------------------------------------------------------------------------
// Flyway (fixture): replayed by installed_rank, CRC-32 of lines.

fn flyway_ddl(engine: Engine) -> String {
    match engine {
        Engine::Postgres => "CREATE TABLE \"flyway_schema_history\" (\"installed_rank\" INT NOT NULL, \"version\" VARCHAR(50), \"description\" VARCHAR(200) NOT NULL, \"type\" VARCHAR(20) NOT NULL, \"script\" VARCHAR(1000) NOT NULL, \"checksum\" INTEGER, \"installed_by\" VARCHAR(100) NOT NULL, \"installed_on\" TIMESTAMP NOT NULL DEFAULT now(), \"execution_time\" INTEGER NOT NULL, \"success\" BOOLEAN NOT NULL, CONSTRAINT \"flyway_schema_history_pk\" PRIMARY KEY (\"installed_rank\"))".to_owned(),
        Engine::Mysql => "CREATE TABLE `flyway_schema_history` (`installed_rank` INT NOT NULL, `version` VARCHAR(50), `description` VARCHAR(200) NOT NULL, `type` VARCHAR(20) NOT NULL, `script` VARCHAR(1000) NOT NULL, `checksum` INT, `installed_by` VARCHAR(100) NOT NULL, `installed_on` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, `execution_time` INT NOT NULL, `success` BOOL NOT NULL, CONSTRAINT `flyway_schema_history_pk` PRIMARY KEY (`installed_rank`))".to_owned(),
        _ => "CREATE TABLE \"flyway_schema_history\" (\"installed_rank\" INT NOT NULL PRIMARY KEY, \"version\" VARCHAR(50), \"description\" VARCHAR(200) NOT NULL, \"type\" VARCHAR(20) NOT NULL, \"script\" VARCHAR(1000) NOT NULL, \"checksum\" INT, \"installed_by\" VARCHAR(100) NOT NULL, \"installed_on\" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')), \"execution_time\" INT NOT NULL, \"success\" BOOLEAN NOT NULL)".to_owned(),
    }
}

fn flyway_row(
    rank: i64,
    version: Option<&str>,
    description: &str,
    kind: &str,
    script: &str,
    checksum: Option<i32>,
) -> String {
    format!(
        "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) VALUES ({rank}, {}, '{description}', '{kind}', '{script}', {}, 'ops', 12, TRUE)",
        version.map_or_else(|| "NULL".to_owned(), |v| format!("'{v}'")),
        checksum.map_or_else(|| "NULL".to_owned(), |c| c.to_string()),
    )
}

async fn fixture_flyway_adopts_and_keeps_working(db: TestDatabase) {
    let p = Project::new(db);
    let users = "CREATE TABLE users (\r\n  id INTEGER PRIMARY KEY\r\n);\r\n";
    let view = "CREATE VIEW user_ids AS SELECT id FROM users;\n";
    p.file("V1__create_users.sql", users);
    p.file("U1__create_users.sql", "DROP TABLE users;\n");
    p.file("V2__user_ids.sql", view);
    p.file("U2__user_ids.sql", "DROP VIEW user_ids;\n");
    p.exec(&[
        users.to_owned(),
        view.to_owned(),
        flyway_ddl(p.engine()),
        flyway_row(
            1,
            Some("1"),
            "create users",
            "SQL",
            "V1__create_users.sql",
            Some(checksums::flyway(users.as_bytes())),
        ),
        flyway_row(
            2,
            Some("2"),
            "user ids",
            "SQL",
            "V2__user_ids.sql",
            Some(checksums::flyway(view.as_bytes())),
        ),
        flyway_row(3, None, "refresh", "SQL", "R__refresh.sql", Some(7)),
    ])
    .await;
    let run = p.cairn(&["adopt", "--from", "flyway"]).await;
    says(&run, "recorded 2 migrations");
    says(&run, "CRC-32 verified");
    says(&run, "skipped R__refresh.sql: its file is gone");
    adopted_and_nothing_left(&p, "flyway", &["1", "2"]).await;
    // Flyway's installed_by is kept as Cairn's applied_by.
    assert_eq!(
        p.count("SELECT count(*) FROM cairn_history WHERE applied_by = 'ops'")
            .await,
        2
    );
    a_new_migration_applies_and_rolls_back(&p, "V3__notes.sql", "U3__notes.sql").await;
}

/// Flyway's dotted versions are adopted as Cairn's dotted versions (the
/// history gains its `version_text` column first), and `up` then applies
/// only what Flyway never ran, in Flyway's order.
async fn fixture_flyway_dotted_versions_adopt(db: TestDatabase) {
    let p = Project::new(db);
    let a = "CREATE TABLE a (id INTEGER PRIMARY KEY);\n";
    let b = "CREATE TABLE b (id INTEGER PRIMARY KEY);\n";
    p.file("V1__a.sql", a);
    p.file("V1.1__b.sql", b);
    p.exec(&[
        a.to_owned(),
        b.to_owned(),
        flyway_ddl(p.engine()),
        flyway_row(
            1,
            Some("1"),
            "a",
            "SQL",
            "V1__a.sql",
            Some(checksums::flyway(a.as_bytes())),
        ),
        flyway_row(
            2,
            Some("1.1"),
            "b",
            "SQL",
            "V1.1__b.sql",
            Some(checksums::flyway(b.as_bytes())),
        ),
    ])
    .await;
    let run = p.cairn(&["adopt", "--from", "flyway"]).await;
    says(&run, "recorded 2 migrations");
    adopted_and_nothing_left(&p, "flyway", &["1", "1.1"]).await;
    // A later dotted version that Flyway never ran applies after them.
    p.file("V1.2__c.sql", "CREATE TABLE c (id INTEGER PRIMARY KEY);\n");
    says(&p.cairn(&["up"]).await, "applied 1.2 c");
}

async fn fixture_flyway_checksum_mismatch_is_refused(db: TestDatabase) {
    let p = Project::new(db);
    let users = "CREATE TABLE users (id INTEGER PRIMARY KEY);\n";
    p.file(
        "V1__create_users.sql",
        "CREATE TABLE users (id  INTEGER PRIMARY KEY);\n",
    );
    p.exec(&[
        flyway_ddl(p.engine()),
        flyway_row(
            1,
            Some("1"),
            "create users",
            "SQL",
            "V1__create_users.sql",
            Some(checksums::flyway(users.as_bytes())),
        ),
    ])
    .await;
    let run = p.cairn(&["adopt", "--from", "flyway"]).await;
    fails_with(&run, 1, "was changed after flyway applied it");
    fails_with(&run, 1, "CRC-32");
    assert_eq!(p.tables().await, 1);
}

// ---------------------------------------------------------------------------
// refinery (fixture): SipHash-1-3 of name, version and SQL.

async fn fixture_refinery_adopts(db: TestDatabase) {
    let p = Project::new(db);
    let users = "CREATE TABLE users (id INTEGER PRIMARY KEY);\n";
    p.file("V1__create_users.sql", users);
    p.file("U1__create_users.sql", "DROP TABLE users;\n");
    p.exec(&[
        users.to_owned(),
        "CREATE TABLE refinery_schema_history (version int4 PRIMARY KEY, name VARCHAR(255), applied_on VARCHAR(255), checksum VARCHAR(255))".to_owned(),
        format!(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (1, 'create_users', '2026-01-02T03:04:05.678+00:00', '{}')",
            checksums::refinery("create_users", 1, users)
        ),
    ])
    .await;
    let run = p.cairn(&["adopt", "--from", "refinery"]).await;
    says(&run, "SipHash-1-3 verified");
    adopted_and_nothing_left(&p, "refinery", &["1"]).await;
    // refinery's applied_on is kept.
    assert_eq!(
        p.count("SELECT count(*) FROM cairn_history WHERE applied_at = '2026-01-02T03:04:05.678Z'")
            .await,
        1
    );
    a_new_migration_applies_and_rolls_back(&p, "V2__notes.sql", "U2__notes.sql").await;
}

// ---------------------------------------------------------------------------
// diesel (fixture): versions are folder names without dashes.

async fn fixture_diesel_adopts(db: TestDatabase) {
    let p = Project::new(db);
    let users = "CREATE TABLE users (id INTEGER PRIMARY KEY);\n";
    p.file("2024-01-31-120000_create_users/up.sql", users);
    p.file(
        "2024-01-31-120000_create_users/down.sql",
        "DROP TABLE users;\n",
    );
    p.exec(&[
        users.to_owned(),
        "CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)".to_owned(),
        "INSERT INTO __diesel_schema_migrations (version) VALUES ('20240131120000')".to_owned(),
    ])
    .await;
    says(
        &p.cairn(&["adopt", "--from", "diesel"]).await,
        "recorded 1 migration",
    );
    adopted_and_nothing_left(&p, "diesel", &["20240131120000"]).await;
    a_new_migration_applies_and_rolls_back(
        &p,
        "2024-02-01-000000_notes/up.sql",
        "2024-02-01-000000_notes/down.sql",
    )
    .await;
}

// ---------------------------------------------------------------------------
// Prisma (fixture; the folders in Cairn's layout, since reading Prisma's
// `migration.sql` in place is another part of issue 12).

fn prisma_ddl(engine: Engine) -> String {
    match engine {
        Engine::Postgres => "CREATE TABLE \"_prisma_migrations\" (\"id\" VARCHAR(36) PRIMARY KEY NOT NULL, \"checksum\" VARCHAR(64) NOT NULL, \"finished_at\" TIMESTAMPTZ, \"migration_name\" VARCHAR(255) NOT NULL, \"logs\" TEXT, \"rolled_back_at\" TIMESTAMPTZ, \"started_at\" TIMESTAMPTZ NOT NULL DEFAULT now(), \"applied_steps_count\" INTEGER NOT NULL DEFAULT 0)".to_owned(),
        Engine::Mysql => "CREATE TABLE _prisma_migrations (id VARCHAR(36) PRIMARY KEY NOT NULL, checksum VARCHAR(64) NOT NULL, finished_at DATETIME(3), migration_name VARCHAR(255) NOT NULL, logs TEXT, rolled_back_at DATETIME(3), started_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), applied_steps_count INTEGER UNSIGNED NOT NULL DEFAULT 0) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci".to_owned(),
        _ => "CREATE TABLE \"_prisma_migrations\" (\"id\" TEXT PRIMARY KEY NOT NULL, \"checksum\" TEXT NOT NULL, \"finished_at\" DATETIME, \"migration_name\" TEXT NOT NULL, \"logs\" TEXT, \"rolled_back_at\" DATETIME, \"started_at\" DATETIME NOT NULL DEFAULT current_timestamp, \"applied_steps_count\" INTEGER UNSIGNED NOT NULL DEFAULT 0)".to_owned(),
    }
}

async fn fixture_prisma_adopts_with_crlf_tolerance(db: TestDatabase) {
    let p = Project::new(db);
    let users = "CREATE TABLE users (id INTEGER PRIMARY KEY);\n";
    p.file("20240131120000_init/up.sql", users);
    p.file("20240131120000_init/down.sql", "DROP TABLE users;\n");
    // Prisma applied it from a CRLF checkout; the file now has LF.
    let applied_as = users.replace('\n', "\r\n");
    p.exec(&[
        users.to_owned(),
        prisma_ddl(p.engine()),
        format!(
            "INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES ('a', '{}', '2024-01-31 12:00:01', '20240131120000_init', '2024-01-31 12:00:00', 1)",
            checksums::prisma(applied_as.as_bytes())
        ),
        // An earlier attempt, rolled back with `prisma migrate resolve --rolled-back`.
        "INSERT INTO _prisma_migrations (id, checksum, migration_name, rolled_back_at, started_at) VALUES ('b', 'x', '20240131120000_init', '2024-01-31 11:00:01', '2024-01-31 11:00:00')".to_owned(),
    ])
    .await;
    let run = p.cairn(&["adopt", "--from", "prisma"]).await;
    says(&run, "SHA-256 verified");
    says(&run, "skipped 20240131120000_init: an attempt rolled back");
    adopted_and_nothing_left(&p, "prisma", &["20240131120000"]).await;
}

// ---------------------------------------------------------------------------
// TypeORM and Knex (fixtures): code migrations become baselines.

async fn fixture_typeorm_code_becomes_baseline(db: TestDatabase) {
    let p = Project::new(db);
    let ddl = match p.engine() {
        Engine::Postgres => "CREATE TABLE migrations (id SERIAL PRIMARY KEY, \"timestamp\" bigint NOT NULL, name varchar NOT NULL)",
        Engine::Mysql => "CREATE TABLE migrations (id int AUTO_INCREMENT PRIMARY KEY, `timestamp` bigint NOT NULL, name varchar(255) NOT NULL)",
        _ => "CREATE TABLE migrations (id integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"timestamp\" bigint NOT NULL, name varchar NOT NULL)",
    };
    let q = if p.engine() == Engine::Mysql {
        "`"
    } else {
        "\""
    };
    p.exec(&[
        ddl.to_owned(),
        format!("INSERT INTO migrations ({q}timestamp{q}, name) VALUES (1700000000000, 'CreateUsers1700000000000'), (1700000001000, 'AddEmail1700000001000')"),
    ])
    .await;
    let run = p.cairn(&["adopt", "--from", "typeorm"]).await;
    says(&run, "recorded 2 migrations");
    says(&run, "code: no file");
    adopted_and_nothing_left(&p, "typeorm", &["1700000000000", "1700000001000"]).await;
    a_new_migration_applies_and_rolls_back(
        &p,
        "20300101000000_notes/up.sql",
        "20300101000000_notes/down.sql",
    )
    .await;
}

async fn fixture_knex_code_becomes_baseline(db: TestDatabase) {
    let p = Project::new(db);
    let ddl = match p.engine() {
        Engine::Postgres => "CREATE TABLE knex_migrations (id serial primary key, name varchar(255), batch integer, migration_time timestamptz)",
        Engine::Mysql => "CREATE TABLE knex_migrations (id int unsigned auto_increment primary key, name varchar(255), batch int, migration_time timestamp NULL)",
        _ => "CREATE TABLE knex_migrations (id integer primary key autoincrement not null, name varchar(255), batch integer, migration_time datetime)",
    };
    p.exec(&[
        ddl.to_owned(),
        "INSERT INTO knex_migrations (name, batch, migration_time) VALUES ('20240131120000_create_users.js', 1, '2024-01-31 12:00:01')".to_owned(),
    ])
    .await;
    // A SQL migration below the last Knex one, which Knex never ran, would be
    // hidden by the baseline: refused until it is renumbered.
    let early = p.file(
        "20240101000000_early/up.sql",
        "CREATE TABLE early (id INTEGER);\n",
    );
    let hidden = p.cairn(&["adopt", "--from", "knex"]).await;
    fails_with(
        &hidden,
        1,
        "migration 20240101000000 (early) is not in knex's history",
    );
    std::fs::remove_dir_all(early.parent().expect("its folder")).expect("remove it");
    let run = p.cairn(&["adopt", "--from", "knex"]).await;
    says(
        &run,
        "20240131120000 create_users <- 20240131120000_create_users.js",
    );
    adopted_and_nothing_left(&p, "knex", &["20240131120000"]).await;
    a_new_migration_applies_and_rolls_back(
        &p,
        "20300101000000_notes/up.sql",
        "20300101000000_notes/down.sql",
    )
    .await;
}

/// Rails (fixture): `schema_migrations` beside `ar_internal_metadata`; the
/// Ruby migrations become baselines. dbmate's table (no metadata) is refused.
async fn fixture_rails_code_becomes_baseline(db: TestDatabase) {
    let p = Project::new(db);
    p.exec(&[
        "CREATE TABLE schema_migrations (version varchar(255) primary key)".to_owned(),
        "INSERT INTO schema_migrations (version) VALUES ('20240131120000'), ('20240201000000')"
            .to_owned(),
    ])
    .await;
    let tables = p.tables().await;
    let dbmate = p.cairn(&["adopt", "--from", "rails"]).await;
    fails_with(&dbmate, 1, "looks like dbmate or golang-migrate's (Rails keeps `ar_internal_metadata` beside it, and it is not there)");
    assert_eq!(p.tables().await, tables);
    let q = if p.engine() == Engine::Mysql {
        "`"
    } else {
        "\""
    };
    p.exec(&[format!(
        "CREATE TABLE ar_internal_metadata ({q}key{q} varchar(255) primary key, value varchar(255))"
    )])
    .await;
    let run = p.cairn(&["adopt", "--from", "rails"]).await;
    says(&run, "recorded 2 migrations");
    says(&run, "code: no file");
    adopted_and_nothing_left(&p, "rails", &["20240131120000", "20240201000000"]).await;
    a_new_migration_applies_and_rolls_back(
        &p,
        "20300101000000_notes/up.sql",
        "20300101000000_notes/down.sql",
    )
    .await;
}

// ---------------------------------------------------------------------------
// The real tools (feature `peer-tools`).

/// Where `scripts/peer-tools.sh` installed the tools.
#[cfg(feature = "peer-tools")]
fn peer_tool(relative: &str) -> PathBuf {
    let root = std::env::var_os("CAIRN_PEER_TOOLS").unwrap_or_else(|| {
        panic!("CAIRN_PEER_TOOLS is not set: run `scripts/peer-tools.sh` and export what it prints (the `peer-tools` feature runs sqlx-cli and dbmate)")
    });
    let path = std::path::Path::new(&root).join(relative);
    assert!(
        path.exists(),
        "{} is missing: run `scripts/peer-tools.sh` (it installs sqlx-cli and dbmate into $CAIRN_PEER_TOOLS)",
        path.display()
    );
    path
}

#[cfg(feature = "peer-tools")]
fn run_tool(program: &std::path::Path, args: &[&str], cwd: &std::path::Path) {
    let output = std::process::Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", program.display()));
    assert!(
        output.status.success(),
        "{} {args:?} failed:\n{}\n{}",
        program.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[cfg(feature = "peer-tools")]
async fn real_sqlx_then_adopt(db: TestDatabase) {
    let p = Project::new(db);
    p.file("1_create_users.up.sql", USERS);
    p.file("1_create_users.down.sql", "DROP TABLE users;\n");
    p.file("2_users_name.up.sql", USERS_INDEX);
    let drop_index = if p.engine() == Engine::Mysql {
        "DROP INDEX users_name ON users;\n"
    } else {
        "DROP INDEX users_name;\n"
    };
    p.file("2_users_name.down.sql", drop_index);
    let url = match p.engine() {
        Engine::Sqlite => {
            let path = p.db.sqlite_path().expect("a SQLite file");
            std::fs::write(&path, b"").expect("create the SQLite file");
            format!("sqlite://{}", path.display())
        }
        _ => p.db.url().to_owned(),
    };
    let dir = p.dir.display().to_string();
    run_tool(
        &peer_tool("bin/sqlx"),
        &["migrate", "run", "--database-url", &url, "--source", &dir],
        p.db.scratch_dir(),
    );
    assert_eq!(p.count("SELECT count(*) FROM _sqlx_migrations").await, 2);
    let run = p.cairn(&["adopt", "--from", "sqlx"]).await;
    says(&run, "recorded 2 migrations");
    says(&run, "SHA-384 verified");
    adopted_and_nothing_left(&p, "sqlx", &["1", "2"]).await;
    a_new_migration_applies_and_rolls_back(&p, "3_notes.up.sql", "3_notes.down.sql").await;
}

/// refinery_cli applied two migrations (the first with CRLF line endings,
/// which refinery hashes as read), its URL in `-e`'s environment variable.
#[cfg(feature = "peer-tools")]
async fn real_refinery_then_adopt(db: TestDatabase) {
    let p = Project::new(db);
    // refinery's `U` prefix is an unversioned migration, not an undo: the
    // project has only `V` files.
    p.file("V1__create_users.sql", USERS);
    p.file("V2__users_name.sql", USERS_INDEX);
    let url = match p.engine() {
        Engine::Sqlite => {
            let path = p.db.sqlite_path().expect("a SQLite file");
            std::fs::write(&path, b"").expect("create the SQLite file");
            format!("sqlite://{}", path.display())
        }
        _ => p.db.url().to_owned(),
    };
    let program = peer_tool("bin/refinery");
    let dir = p.dir.display().to_string();
    let output = std::process::Command::new(&program)
        .args(["migrate", "-e", "CAIRN_REFINERY_URL", "-p", &dir])
        .env("CAIRN_REFINERY_URL", &url)
        .current_dir(p.db.scratch_dir())
        .output()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", program.display()));
    assert!(
        output.status.success(),
        "refinery migrate failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        p.count("SELECT count(*) FROM refinery_schema_history")
            .await,
        2
    );
    let run = p.cairn(&["adopt", "--from", "refinery"]).await;
    says(&run, "recorded 2 migrations");
    says(&run, "SipHash-1-3 verified");
    adopted_and_nothing_left(&p, "refinery", &["1", "2"]).await;
    a_new_migration_applies_and_rolls_back(&p, "V3__notes.sql", "U3__notes.sql").await;
    assert_eq!(
        p.count("SELECT count(*) FROM refinery_schema_history")
            .await,
        2
    );
}

#[cfg(feature = "peer-tools")]
async fn real_dbmate_then_adopt(db: TestDatabase) {
    let p = Project::new(db);
    p.file(
        "20240131120000_create_users.sql",
        "-- migrate:up\nCREATE TABLE users (id INTEGER PRIMARY KEY);\n\n-- migrate:down\nDROP TABLE users;\n",
    );
    p.file(
        "20240201000000_add_name.sql",
        "-- migrate:up\nALTER TABLE users ADD COLUMN name VARCHAR(100);\n\n-- migrate:down\nALTER TABLE users DROP COLUMN name;\n",
    );
    let url = match p.engine() {
        Engine::Sqlite => format!(
            "sqlite:{}",
            p.db.sqlite_path().expect("a SQLite file").display()
        ),
        Engine::Postgres => {
            let url = p.db.url();
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}sslmode=disable")
        }
        _ => p.db.url().to_owned(),
    };
    let dir = p.dir.display().to_string();
    run_tool(
        &peer_tool("npm/node_modules/.bin/dbmate"),
        &[
            "--url",
            &url,
            "--migrations-dir",
            &dir,
            "--no-dump-schema",
            "up",
        ],
        p.db.scratch_dir(),
    );
    assert_eq!(p.count("SELECT count(*) FROM schema_migrations").await, 2);
    let run = p.cairn(&["adopt", "--from", "dbmate"]).await;
    says(&run, "recorded 2 migrations");
    adopted_and_nothing_left(&p, "dbmate", &["20240131120000", "20240201000000"]).await;
    p.file(
        "20300101000000_notes.sql",
        "-- migrate:up\nCREATE TABLE notes (id INTEGER PRIMARY KEY);\n\n-- migrate:down\nDROP TABLE notes;\n",
    );
    says(&p.cairn(&["up"]).await, "notes");
    p.cairn(&["down"]).await.success();
    assert_eq!(p.count("SELECT count(*) FROM schema_migrations").await, 2);
}

/// Runs a Node.js CLI installed under `$CAIRN_PEER_TOOLS/npm` with `env`.
#[cfg(feature = "peer-tools")]
fn run_node_tool(tool: &str, args: &[&str], cwd: &std::path::Path, env: &[(&str, String)]) {
    let program = peer_tool(&format!("npm/node_modules/.bin/{tool}"));
    let modules = peer_tool("npm/node_modules");
    let output = std::process::Command::new(&program)
        .args(args)
        .current_dir(cwd)
        .env("NODE_PATH", &modules)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", program.display()));
    assert!(
        output.status.success(),
        "{tool} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Knex's client name and connection for this test database.
#[cfg(feature = "peer-tools")]
fn node_client(p: &Project) -> (&'static str, String) {
    match p.engine() {
        Engine::Postgres => ("pg", p.db.url().to_owned()),
        Engine::Mysql => ("mysql2", p.db.url().to_owned()),
        other => panic!("the Node.js tools run here on PostgreSQL and MySQL, not {other}"),
    }
}

/// Knex applies two JavaScript migrations; Cairn adopts them as baselines and
/// continues with a SQL migration of its own.
#[cfg(feature = "peer-tools")]
async fn real_knex_then_adopt(db: TestDatabase) {
    let p = Project::new(db);
    let knex_dir = p.db.scratch_dir().join("knex");
    std::fs::create_dir_all(&knex_dir).expect("the knex directory");
    std::fs::write(
        knex_dir.join("20240131120000_create_users.js"),
        "exports.up = (knex) => knex.schema.createTable('users', (t) => { t.increments('id'); });\nexports.down = (knex) => knex.schema.dropTable('users');\n",
    )
    .expect("a knex migration");
    std::fs::write(
        knex_dir.join("20240201000000_add_name.js"),
        "exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.string('name'); });\nexports.down = (knex) => knex.schema.alterTable('users', (t) => { t.dropColumn('name'); });\n",
    )
    .expect("a knex migration");
    let knexfile = p.db.scratch_dir().join("knexfile.js");
    std::fs::write(
        &knexfile,
        "module.exports = { client: process.env.KNEX_CLIENT, connection: process.env.KNEX_URL, migrations: { directory: process.env.KNEX_DIR } };\n",
    )
    .expect("a knexfile");
    let (client, url) = node_client(&p);
    run_node_tool(
        "knex",
        &[
            "migrate:latest",
            "--knexfile",
            &knexfile.display().to_string(),
        ],
        p.db.scratch_dir(),
        &[
            ("KNEX_CLIENT", client.to_owned()),
            ("KNEX_URL", url),
            ("KNEX_DIR", knex_dir.display().to_string()),
        ],
    );
    assert_eq!(p.count("SELECT count(*) FROM knex_migrations").await, 2);
    let run = p.cairn(&["adopt", "--from", "knex"]).await;
    says(&run, "recorded 2 migrations");
    says(
        &run,
        "20240131120000 create_users <- 20240131120000_create_users.js: baseline",
    );
    adopted_and_nothing_left(&p, "knex", &["20240131120000", "20240201000000"]).await;
    a_new_migration_applies_and_rolls_back(
        &p,
        "20300101000000_notes/up.sql",
        "20300101000000_notes/down.sql",
    )
    .await;
    assert_eq!(p.count("SELECT count(*) FROM knex_migrations").await, 2);
}

/// TypeORM applies two migration classes; Cairn adopts them as baselines.
#[cfg(feature = "peer-tools")]
async fn real_typeorm_then_adopt(db: TestDatabase) {
    let p = Project::new(db);
    let dir = p.db.scratch_dir().join("typeorm");
    std::fs::create_dir_all(&dir).expect("the typeorm directory");
    std::fs::write(
        dir.join("1700000000000-CreateUsers.js"),
        "module.exports = class CreateUsers1700000000000 {\n  async up(q) { await q.query('CREATE TABLE users (id integer PRIMARY KEY)'); }\n  async down(q) { await q.query('DROP TABLE users'); }\n};\n",
    )
    .expect("a typeorm migration");
    std::fs::write(
        dir.join("1700000001000-AddName.js"),
        "module.exports = class AddName1700000001000 {\n  async up(q) { await q.query('ALTER TABLE users ADD COLUMN name varchar(100)'); }\n  async down(q) { await q.query('ALTER TABLE users DROP COLUMN name'); }\n};\n",
    )
    .expect("a typeorm migration");
    let source = p.db.scratch_dir().join("datasource.js");
    std::fs::write(
        &source,
        "const { DataSource } = require('typeorm');\nexports.AppDataSource = new DataSource({ type: process.env.T_TYPE, url: process.env.T_URL, migrations: [process.env.T_DIR + '/*.js'] });\n",
    )
    .expect("a data source");
    let kind = match p.engine() {
        Engine::Postgres => "postgres",
        _ => "mysql",
    };
    let (_, url) = node_client(&p);
    run_node_tool(
        "typeorm",
        &["migration:run", "-d", &source.display().to_string()],
        p.db.scratch_dir(),
        &[
            ("T_TYPE", kind.to_owned()),
            ("T_URL", url),
            ("T_DIR", dir.display().to_string()),
        ],
    );
    assert_eq!(p.count("SELECT count(*) FROM migrations").await, 2);
    let run = p.cairn(&["adopt", "--from", "typeorm"]).await;
    says(&run, "recorded 2 migrations");
    says(
        &run,
        "1700000001000 AddName1700000001000 <- AddName1700000001000: baseline",
    );
    adopted_and_nothing_left(&p, "typeorm", &["1700000000000", "1700000001000"]).await;
    a_new_migration_applies_and_rolls_back(
        &p,
        "20300101000000_notes/up.sql",
        "20300101000000_notes/down.sql",
    )
    .await;
}

// ---------------------------------------------------------------------------
// The JSON of a dry run (snapshot).

async fn dry_run_json(db: TestDatabase) -> serde_json::Value {
    let p = Project::new(db);
    sqlx_project(&p).await;
    let run = p
        .cairn(&["adopt", "--from", "sqlx", "--dry-run", "--format", "json"])
        .await;
    let mut json: serde_json::Value =
        serde_json::from_str(run.success()).unwrap_or_else(|e| panic!("{e}\n{run}"));
    let dir = p.dir.display().to_string();
    for entry in json["adopt"]["entries"].as_array_mut().expect("entries") {
        entry["applied_at"] = "[applied_at]".into();
        if let Some(file) = entry["file"].as_str() {
            entry["file"] = file.replace(&dir, "[dir]").into();
        }
    }
    json
}

macro_rules! adopt_tests {
    ($make:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_sqlx_adopts_and_keeps_working() {
            super::fixture_sqlx_adopts_and_keeps_working($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_sqlx_checksum_mismatch_is_refused() {
            super::fixture_sqlx_checksum_mismatch_is_refused($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_sqlx_row_without_file_is_refused() {
            super::fixture_sqlx_row_without_file_is_refused($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_sqlx_failed_row_needs_repair() {
            super::fixture_sqlx_failed_row_needs_repair($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_sqlx_over_existing_cairn_history() {
            super::fixture_sqlx_over_existing_cairn_history($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_sqlx_toml_ignored_chars() {
            super::fixture_sqlx_toml_ignored_chars($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_sqlx_renamed_table() {
            super::fixture_sqlx_renamed_table($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_golang_migrate_adopts_up_to_its_version() {
            super::fixture_golang_migrate_adopts_up_to_its_version($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_golang_migrate_dirty_becomes_failed() {
            super::fixture_golang_migrate_dirty_becomes_failed($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_golang_migrate_edited_table_is_refused() {
            super::fixture_golang_migrate_edited_table_is_refused($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_schema_migrations_is_told_apart() {
            super::fixture_schema_migrations_is_told_apart($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_flyway_adopts_and_keeps_working() {
            super::fixture_flyway_adopts_and_keeps_working($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_flyway_dotted_versions_adopt() {
            super::fixture_flyway_dotted_versions_adopt($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_flyway_checksum_mismatch_is_refused() {
            super::fixture_flyway_checksum_mismatch_is_refused($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_refinery_adopts() {
            super::fixture_refinery_adopts($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_diesel_adopts() {
            super::fixture_diesel_adopts($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_prisma_adopts_with_crlf_tolerance() {
            super::fixture_prisma_adopts_with_crlf_tolerance($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_typeorm_code_becomes_baseline() {
            super::fixture_typeorm_code_becomes_baseline($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_knex_code_becomes_baseline() {
            super::fixture_knex_code_becomes_baseline($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_rails_code_becomes_baseline() {
            super::fixture_rails_code_becomes_baseline($make).await;
        }
        #[cfg(feature = "peer-tools")]
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn real_sqlx_then_adopt() {
            super::real_sqlx_then_adopt($make).await;
        }
        #[cfg(feature = "peer-tools")]
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn real_refinery_then_adopt() {
            super::real_refinery_then_adopt($make).await;
        }
        #[cfg(feature = "peer-tools")]
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn real_dbmate_then_adopt() {
            super::real_dbmate_then_adopt($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_liquibase_adopts_and_keeps_working() {
            super::fixture_liquibase_adopts_and_keeps_working($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_liquibase_checksum_mismatch_is_refused() {
            super::fixture_liquibase_checksum_mismatch_is_refused($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_liquibase_row_without_changeset_is_refused() {
            super::fixture_liquibase_row_without_changeset_is_refused($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_liquibase_other_file_is_refused() {
            super::fixture_liquibase_other_file_is_refused($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_liquibase_lock_held_is_refused() {
            super::fixture_liquibase_lock_held_is_refused($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_liquibase_failed_and_skipped_rows() {
            super::fixture_liquibase_failed_and_skipped_rows($make).await;
        }
        #[cfg(feature = "peer-tools")]
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn real_liquibase_then_adopt() {
            super::real_liquibase_then_adopt($make).await;
        }
        #[cfg(feature = "peer-tools")]
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn real_liquibase_v8_then_adopt() {
            super::real_liquibase_v8_then_adopt($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_alembic_graph_becomes_baseline() {
            super::fixture_alembic_graph_becomes_baseline($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_alembic_refusals() {
            super::fixture_alembic_refusals($make).await;
        }
        #[cfg(feature = "peer-tools")]
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn real_alembic_then_adopt() {
            super::real_alembic_then_adopt($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_prisma_duplicate_timestamps_adopt() {
            super::fixture_prisma_duplicate_timestamps_adopt($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_sqlx_toml_table_name() {
            super::fixture_sqlx_toml_table_name($make).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fixture_flyway_repeatables_adopt() {
            super::fixture_flyway_repeatables_adopt($make).await;
        }
    };
}

/// The suites that need a Node.js database driver (pg, mysql2): the servers only.
#[cfg(feature = "servers")]
macro_rules! node_tests {
    ($make:expr) => {
        #[cfg(feature = "peer-tools")]
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn real_knex_then_adopt() {
            super::real_knex_then_adopt($make).await;
        }
        #[cfg(feature = "peer-tools")]
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn real_typeorm_then_adopt() {
            super::real_typeorm_then_adopt($make).await;
        }
    };
}

mod sqlite {
    use super::*;

    adopt_tests!(TestDatabase::sqlite());

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dry_run_json_snapshot() {
        let json = super::dry_run_json(TestDatabase::sqlite()).await;
        let text = serde_json::to_string_pretty(&json).expect("JSON prints");
        insta::assert_snapshot!("adopt_dry_run", text);
    }
}

#[cfg(feature = "servers")]
mod postgres {
    adopt_tests!(cairn_testkit::postgres::database().await);
    node_tests!(cairn_testkit::postgres::database().await);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fixture_sqlx_table_in_a_schema() {
        super::fixture_sqlx_table_in_a_schema(cairn_testkit::postgres::database().await).await;
    }
}

#[cfg(feature = "servers")]
mod mysql {
    adopt_tests!(cairn_testkit::mysql::database().await);
    node_tests!(cairn_testkit::mysql::database().await);
}

// ---------------------------------------------------------------------------
// Liquibase formatted SQL: fixtures built from its table format (checksums
// computed independently of Cairn, as literals) and the real Liquibase.

/// Three changesets, rollbacks as a line and as a block.
const LIQUIBASE_CHANGELOG: &str = "--liquibase formatted sql

--changeset alice:1
CREATE TABLE person (id INTEGER PRIMARY KEY, name VARCHAR(100));
--rollback DROP TABLE person;

--changeset alice:2
-- seed
INSERT INTO person VALUES (1, 'Ada');
/* liquibase rollback
DELETE FROM person WHERE id = 1;
*/

--changeset bob:3
CREATE TABLE pet (id INTEGER PRIMARY KEY);
--rollback DROP TABLE pet;
";

/// The changeset a test appends after adopting.
const LIQUIBASE_NOTES: &str = "
--changeset carol:4
CREATE TABLE notes (id INTEGER PRIMARY KEY);
--rollback DROP TABLE notes;
";

/// MD5SUMs of the changelog's changesets by Liquibase's documented
/// algorithms, computed outside Cairn: `9:` for 1 and 2, `8:` for 3.
const LIQUIBASE_SUMS: [&str; 3] = [
    "9:0551ca0e4f11a8d1e4e94c060d769715",
    "9:b38a086be84aae4f2c986be4683f363b",
    "8:9d206de9451e2a5d2af78f8fa574aa17",
];

/// Liquibase's two tables as it creates them (unquoted names: lower case on
/// PostgreSQL, upper case elsewhere), with the lock row it inserts.
fn liquibase_ddl(engine: Engine, locked: bool) -> Vec<String> {
    let (time, flag) = match engine {
        Engine::Postgres => (
            "TIMESTAMP WITHOUT TIME ZONE",
            if locked { "TRUE" } else { "FALSE" },
        ),
        Engine::Mysql => ("DATETIME", if locked { "1" } else { "0" }),
        _ => ("TEXT", if locked { "1" } else { "0" }),
    };
    vec![
        format!("CREATE TABLE DATABASECHANGELOG (ID VARCHAR(255) NOT NULL, AUTHOR VARCHAR(255) NOT NULL, FILENAME VARCHAR(255) NOT NULL, DATEEXECUTED {time} NOT NULL, ORDEREXECUTED INT NOT NULL, EXECTYPE VARCHAR(10) NOT NULL, MD5SUM VARCHAR(35), DESCRIPTION VARCHAR(255), COMMENTS VARCHAR(255), TAG VARCHAR(255), LIQUIBASE VARCHAR(20), CONTEXTS VARCHAR(255), LABELS VARCHAR(255), DEPLOYMENT_ID VARCHAR(10))"),
        format!("CREATE TABLE DATABASECHANGELOGLOCK (ID INT NOT NULL PRIMARY KEY, LOCKED BOOLEAN NOT NULL, LOCKGRANTED {time}, LOCKEDBY VARCHAR(255))"),
        format!("INSERT INTO DATABASECHANGELOGLOCK (ID, LOCKED, LOCKEDBY) VALUES (1, {flag}, {})", if locked { "'ci-runner (10.0.0.7)'" } else { "NULL" }),
    ]
}

fn liquibase_row(
    order: i64,
    id: &str,
    author: &str,
    filename: &str,
    exectype: &str,
    sum: &str,
) -> String {
    format!(
        "INSERT INTO DATABASECHANGELOG (ID, AUTHOR, FILENAME, DATEEXECUTED, ORDEREXECUTED, EXECTYPE, MD5SUM, LIQUIBASE, DEPLOYMENT_ID) VALUES ('{id}', '{author}', '{filename}', '2026-11-30 10:00:0{order}', {order}, '{exectype}', '{sum}', '4.28.1', '4731200000')"
    )
}

/// Liquibase applied the changelog (changeset 2 recorded under the path
/// Liquibase was given from the project root); the lock is free.
async fn liquibase_project(p: &Project, locked: bool) {
    p.file("changelog.sql", LIQUIBASE_CHANGELOG);
    let mut statements = vec![
        "CREATE TABLE person (id INTEGER PRIMARY KEY, name VARCHAR(100))".to_owned(),
        "INSERT INTO person VALUES (1, 'Ada')".to_owned(),
        "CREATE TABLE pet (id INTEGER PRIMARY KEY)".to_owned(),
    ];
    statements.extend(liquibase_ddl(p.engine(), locked));
    statements.push(liquibase_row(
        1,
        "1",
        "alice",
        "changelog.sql",
        "EXECUTED",
        LIQUIBASE_SUMS[0],
    ));
    statements.push(liquibase_row(
        2,
        "2",
        "Alice",
        "db/changelog/changelog.sql",
        "EXECUTED",
        LIQUIBASE_SUMS[1],
    ));
    statements.push(liquibase_row(
        3,
        "3",
        "bob",
        "changelog.sql",
        "EXECUTED",
        LIQUIBASE_SUMS[2],
    ));
    p.exec(&statements).await;
}

/// The name Liquibase's table has on this engine.
fn liquibase_table(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "databasechangelog",
        _ => "DATABASECHANGELOG",
    }
}

/// After adopting: a changeset appended to the changelog applies and rolls back.
async fn liquibase_appended_changeset_applies_and_rolls_back(p: &Project) {
    let path = p.dir.join("changelog.sql");
    let mut text = std::fs::read_to_string(&path).expect("the changelog");
    text.push_str(LIQUIBASE_NOTES);
    std::fs::write(&path, text).expect("append a changeset");
    let up = p.cairn(&["up"]).await;
    says(&up, "carol:4");
    assert_eq!(p.count("SELECT count(*) FROM notes").await, 0);
    p.cairn(&["down"]).await.success();
    let status = p.cairn(&["status"]).await;
    assert!(status.success().contains("pending"), "{status}");
    assert_eq!(
        p.count("SELECT count(*) FROM pet").await,
        0,
        "the adopted changesets stay"
    );
}

async fn fixture_liquibase_adopts_and_keeps_working(db: TestDatabase) {
    let p = Project::new(db);
    liquibase_project(&p, false).await;
    let dry = p
        .cairn(&["adopt", "--from", "liquibase", "--dry-run"])
        .await;
    says(&dry, "would record 3 migrations");
    says(&dry, "Liquibase MD5 (9:) verified");
    says(&dry, "Liquibase MD5 (8:) verified");
    says(&dry, "db/changelog/changelog.sql::2::Alice");
    let run = p.cairn(&["adopt", "--from", "liquibase"]).await;
    says(&run, "recorded 3 migrations");
    adopted_and_nothing_left(&p, "liquibase", &["100001", "100002", "100003"]).await;
    liquibase_appended_changeset_applies_and_rolls_back(&p).await;
    let table = liquibase_table(p.engine());
    assert_eq!(
        p.count(&format!("SELECT count(*) FROM {table}")).await,
        3,
        "Liquibase's table is untouched"
    );
}

async fn fixture_liquibase_checksum_mismatch_is_refused(db: TestDatabase) {
    let p = Project::new(db);
    liquibase_project(&p, false).await;
    // Whitespace does not count for `9:`, a changed type does.
    p.file(
        "changelog.sql",
        &LIQUIBASE_CHANGELOG.replace("name VARCHAR(100)", "name  VARCHAR(200)"),
    );
    let tables = p.tables().await;
    let run = p.cairn(&["adopt", "--from", "liquibase"]).await;
    fails_with(&run, 1, "migration 100001 (");
    fails_with(&run, 1, "was changed after liquibase applied it");
    fails_with(
        &run,
        1,
        "Liquibase MD5 (9:) 9:0551ca0e4f11a8d1e4e94c060d769715",
    );
    fails_with(&run, 1, "nothing was changed");
    assert_eq!(p.tables().await, tables, "no Cairn table created");
}

async fn fixture_liquibase_row_without_changeset_is_refused(db: TestDatabase) {
    let p = Project::new(db);
    liquibase_project(&p, false).await;
    p.exec(&[liquibase_row(
        4,
        "9",
        "alice",
        "changelog.sql",
        "EXECUTED",
        "9:00",
    )])
    .await;
    let tables = p.tables().await;
    let run = p.cairn(&["adopt", "--from", "liquibase"]).await;
    fails_with(&run, 1, "records changeset changelog.sql::9::alice");
    fails_with(
        &run,
        1,
        "no Liquibase file of the migrations directory has a `--changeset alice:9`",
    );
    fails_with(&run, 1, "Restore the changeset");
    assert_eq!(p.tables().await, tables);
}

async fn fixture_liquibase_other_file_is_refused(db: TestDatabase) {
    let p = Project::new(db);
    liquibase_project(&p, false).await;
    let table = liquibase_table(p.engine());
    p.exec(&[format!(
        "UPDATE {table} SET FILENAME = 'db/other.sql' WHERE ID = '3'"
    )])
    .await;
    let run = p.cairn(&["adopt", "--from", "liquibase"]).await;
    fails_with(&run, 1, "records changeset db/other.sql::3::bob");
    fails_with(
        &run,
        1,
        "changelog.sql`, not in a file `db/other.sql` names",
    );
}

async fn fixture_liquibase_lock_held_is_refused(db: TestDatabase) {
    let p = Project::new(db);
    liquibase_project(&p, true).await;
    let tables = p.tables().await;
    let run = p.cairn(&["adopt", "--from", "liquibase"]).await;
    fails_with(
        &run,
        1,
        "says Liquibase holds its lock (LOCKEDBY ci-runner (10.0.0.7))",
    );
    fails_with(&run, 1, "liquibase release-locks");
    fails_with(&run, 1, "nothing was changed");
    assert_eq!(p.tables().await, tables);
}

async fn fixture_liquibase_failed_and_skipped_rows(db: TestDatabase) {
    let p = Project::new(db);
    liquibase_project(&p, false).await;
    let table = liquibase_table(p.engine());
    p.exec(&[
        format!("UPDATE {table} SET EXECTYPE = 'FAILED' WHERE ID = '3'"),
        format!("UPDATE {table} SET EXECTYPE = 'SKIPPED' WHERE ID = '2'"),
    ])
    .await;
    let run = p.cairn(&["adopt", "--from", "liquibase"]).await;
    says(&run, "failed (run `cairn repair` after review)");
    says(&run, "SKIPPED");
    let status = p.cairn(&["status"]).await;
    assert_eq!(
        status.code(),
        Some(3),
        "status reports the failed changeset\n{status}"
    );
    assert!(status.stdout.contains("failed"), "{status}");
    let bad = p.cairn(&["adopt", "--from", "liquibase"]).await;
    says(&bad, "recorded 0 migrations");
    p.exec(&[format!(
        "UPDATE {table} SET EXECTYPE = 'GONE' WHERE ID = '1'"
    )])
    .await;
    let bad = p.cairn(&["adopt", "--from", "liquibase"]).await;
    fails_with(&bad, 1, "EXECTYPE = GONE");
}

/// Where a Liquibase version from npm was installed by scripts/peer-tools.sh.
#[cfg(feature = "peer-tools")]
fn liquibase_bin(version: &str) -> PathBuf {
    peer_tool(&format!(
        "liquibase-{version}/node_modules/liquibase/dist/liquibase/liquibase"
    ))
}

/// Runs Liquibase `update` on the project's changelog, from its directory
/// (so FILENAME is `changelog.sql`); user and password go through the
/// environment, never the command line.
#[cfg(feature = "peer-tools")]
fn liquibase_update(p: &Project, version: &str) {
    let (url, user, password) = match p.engine() {
        Engine::Sqlite => (
            format!(
                "jdbc:sqlite:{}",
                p.db.sqlite_path().expect("a SQLite file").display()
            ),
            String::new(),
            String::new(),
        ),
        engine => {
            let url = p.db.url();
            let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
            let (credentials, location) = rest.rsplit_once('@').unwrap_or(("", rest));
            let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
            let scheme = if engine == Engine::Postgres {
                "postgresql"
            } else {
                "mariadb"
            };
            (
                format!("jdbc:{scheme}://{location}"),
                user.to_owned(),
                password.to_owned(),
            )
        }
    };
    let program = liquibase_bin(version);
    let output = std::process::Command::new(&program)
        .args([
            "--changelog-file=changelog.sql",
            &format!("--url={url}"),
            "update",
        ])
        .env("LIQUIBASE_COMMAND_USERNAME", &user)
        .env("LIQUIBASE_COMMAND_PASSWORD", &password)
        .env("LIQUIBASE_USERNAME", &user)
        .env("LIQUIBASE_PASSWORD", &password)
        .current_dir(&p.dir)
        .output()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", program.display()));
    assert!(
        output.status.success(),
        "liquibase {version} update failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Liquibase 4.28.1 (`9:` sums) applies the changelog; Cairn adopts it and
/// keeps working with a changeset appended to the same file.
#[cfg(feature = "peer-tools")]
async fn real_liquibase_then_adopt(db: TestDatabase) {
    let p = Project::new(db);
    p.file("changelog.sql", LIQUIBASE_CHANGELOG);
    liquibase_update(&p, "4.28.1");
    let table = liquibase_table(p.engine());
    assert_eq!(p.count(&format!("SELECT count(*) FROM {table}")).await, 3);
    let run = p.cairn(&["adopt", "--from", "liquibase"]).await;
    says(&run, "recorded 3 migrations");
    says(&run, "Liquibase MD5 (9:) verified");
    adopted_and_nothing_left(&p, "liquibase", &["100001", "100002", "100003"]).await;
    liquibase_appended_changeset_applies_and_rolls_back(&p).await;
    assert_eq!(p.count(&format!("SELECT count(*) FROM {table}")).await, 3);
}

/// Liquibase 4.4.0 (`8:` sums, rollback blocks hashed as SQL) applies the
/// changelog; Cairn verifies its sums and adopts.
#[cfg(feature = "peer-tools")]
async fn real_liquibase_v8_then_adopt(db: TestDatabase) {
    let p = Project::new(db);
    p.file("changelog.sql", LIQUIBASE_CHANGELOG);
    liquibase_update(&p, "4.4.0");
    let run = p.cairn(&["adopt", "--from", "liquibase"]).await;
    says(&run, "recorded 3 migrations");
    says(&run, "Liquibase MD5 (8:) verified");
    adopted_and_nothing_left(&p, "liquibase", &["100001", "100002", "100003"]).await;
    liquibase_appended_changeset_applies_and_rolls_back(&p).await;
}

// ---------------------------------------------------------------------------
// Alembic: `alembic_version` holds the current head of a graph of Python
// revisions, which become Cairn baselines at their position in the graph.

/// An Alembic revision file as `alembic revision` writes it (Alembic 1.18's
/// template: annotated assignments), running `sql` up and `undo` down.
fn alembic_revision(id: &str, down: Option<&str>, sql: &str, undo: &str) -> String {
    let down = down.map_or("None".to_owned(), |d| format!("'{d}'"));
    format!(
        "\"\"\"{id}\n\nRevision ID: {id}\nRevises: \nCreate Date: 2026-12-01 21:00:00.000000\n\n\"\"\"\nfrom typing import Sequence, Union\n\nfrom alembic import op\nimport sqlalchemy as sa\n\n\n# revision identifiers, used by Alembic.\nrevision: str = '{id}'\ndown_revision: Union[str, Sequence[str], None] = {down}\nbranch_labels: Union[str, Sequence[str], None] = None\ndepends_on: Union[str, Sequence[str], None] = None\n\n\ndef upgrade() -> None:\n    op.execute(\"{sql}\")\n\n\ndef downgrade() -> None:\n    op.execute(\"{undo}\")\n"
    )
}

/// Three revisions in `<scratch>/alembic/versions` (where `cairn adopt`
/// looks by default, from the current directory), ids out of graph order.
fn alembic_project(p: &Project) -> PathBuf {
    let versions = p.db.scratch_dir().join("alembic/versions");
    std::fs::create_dir_all(&versions).expect("the versions directory");
    for (file, text) in [
        (
            "f3a1c9e2b7d4_create_users.py",
            alembic_revision(
                "f3a1c9e2b7d4",
                None,
                "CREATE TABLE users (id INTEGER PRIMARY KEY)",
                "DROP TABLE users",
            ),
        ),
        (
            "0b5d2e8a4c61_add_name.py",
            alembic_revision(
                "0b5d2e8a4c61",
                Some("f3a1c9e2b7d4"),
                "ALTER TABLE users ADD COLUMN name VARCHAR(100)",
                "ALTER TABLE users DROP COLUMN name",
            ),
        ),
        (
            "7c9e4f1a2b38_create_posts.py",
            alembic_revision(
                "7c9e4f1a2b38",
                Some("0b5d2e8a4c61"),
                "CREATE TABLE posts (id INTEGER PRIMARY KEY)",
                "DROP TABLE posts",
            ),
        ),
    ] {
        std::fs::write(versions.join(file), text).expect("a revision file");
    }
    versions
}

/// `alembic_version` as Alembic creates it, holding `head`.
fn alembic_table(head: &str) -> Vec<String> {
    vec![
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))".to_owned(),
        format!("INSERT INTO alembic_version (version_num) VALUES ('{head}')"),
    ]
}

async fn fixture_alembic_graph_becomes_baseline(db: TestDatabase) {
    let p = Project::new(db);
    alembic_project(&p);
    p.exec(&[
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100))".to_owned(),
        "CREATE TABLE posts (id INTEGER PRIMARY KEY)".to_owned(),
    ])
    .await;
    p.exec(&alembic_table("7c9e4f1a2b38")).await;
    let dry = p.cairn(&["adopt", "--from", "alembic", "--dry-run"]).await;
    says(&dry, "would record 3 migrations");
    let run = p.cairn(&["adopt", "--from", "alembic"]).await;
    says(&run, "recorded 3 migrations");
    says(
        &run,
        "1 create_users <- f3a1c9e2b7d4: baseline, code: no file",
    );
    says(&run, "2 add_name <- 0b5d2e8a4c61: baseline");
    says(&run, "3 create_posts <- 7c9e4f1a2b38: baseline");
    adopted_and_nothing_left(&p, "alembic", &["1", "2", "3"]).await;
    a_new_migration_applies_and_rolls_back(
        &p,
        "20300101000000_notes/up.sql",
        "20300101000000_notes/down.sql",
    )
    .await;
    assert_eq!(
        p.count("SELECT count(*) FROM alembic_version").await,
        1,
        "the foreign table is left as it was"
    );
}

/// Every refusal names what is wrong and leaves the database as it was.
async fn fixture_alembic_refusals(db: TestDatabase) {
    let p = Project::new(db);
    let versions = alembic_project(&p);
    p.exec(&alembic_table("0b5d2e8a4c61")).await;
    let tables = p.tables().await;
    let refused = |run: &Finished, needle: &str| fails_with(run, 1, needle);

    // The head is behind the files: Cairn cannot run the rest.
    let behind = p.cairn(&["adopt", "--from", "alembic"]).await;
    refused(
        &behind,
        "1 of 3 Alembic revisions is not applied (7c9e4f1a2b38 (",
    );
    refused(
        &behind,
        "run `alembic upgrade head` first, then adopt again",
    );

    // A stored head with no file.
    p.exec(&["UPDATE alembic_version SET version_num = 'deadbeef0000'".to_owned()])
        .await;
    let gone = p.cairn(&["adopt", "--from", "alembic"]).await;
    refused(
        &gone,
        "`alembic_version` holds revision deadbeef0000, but no file in `",
    );
    p.exec(&["UPDATE alembic_version SET version_num = '7c9e4f1a2b38'".to_owned()])
        .await;

    // Two heads in the files.
    let branch = versions.join("aa11bb22cc33_branch.py");
    std::fs::write(
        &branch,
        alembic_revision("aa11bb22cc33", Some("0b5d2e8a4c61"), "SELECT 1", "SELECT 1"),
    )
    .expect("a branch");
    let heads = p.cairn(&["adopt", "--from", "alembic"]).await;
    refused(&heads, "the revisions have 2 heads: 7c9e4f1a2b38 (");
    refused(&heads, "alembic merge heads");

    // A value Cairn cannot read without running Python.
    std::fs::write(
        &branch,
        "import os\nrevision = 'aa11bb22cc33'\ndown_revision = os.environ['DOWN']\n",
    )
    .expect("an unreadable revision");
    let unreadable = p.cairn(&["adopt", "--from", "alembic"]).await;
    refused(
        &unreadable,
        "aa11bb22cc33_branch.py:3: cannot read `down_revision = os.environ['DOWN']`",
    );
    std::fs::remove_file(&branch).expect("remove the branch");

    // No versions directory where it was told to look.
    let nowhere = p
        .cairn(&[
            "adopt",
            "--from",
            "alembic",
            "--alembic-versions",
            "nowhere",
        ])
        .await;
    refused(
        &nowhere,
        "cannot read Alembic's versions directory `nowhere`",
    );
    assert_eq!(p.tables().await, tables, "a refusal created a table");

    // Told where to look, it adopts.
    let moved = p.db.scratch_dir().join("db/versions");
    std::fs::create_dir_all(moved.parent().expect("a parent")).expect("db");
    std::fs::rename(&versions, &moved).expect("move the versions");
    let run = p
        .cairn(&[
            "adopt",
            "--from",
            "alembic",
            "--alembic-versions",
            &moved.display().to_string(),
        ])
        .await;
    says(&run, "recorded 3 migrations");
}

/// The URL SQLAlchemy takes for this test database (psycopg2, PyMySQL).
#[cfg(feature = "peer-tools")]
fn sqlalchemy_url(p: &Project) -> String {
    let url = p.db.url();
    match p.engine() {
        Engine::Sqlite => format!(
            "sqlite:///{}",
            p.db.sqlite_path().expect("a SQLite file").display()
        ),
        Engine::Postgres => format!(
            "postgresql+psycopg2://{}",
            url.split_once("://").expect("a URL").1
        ),
        _ => format!(
            "mysql+pymysql://{}",
            url.split_once("://").expect("a URL").1
        ),
    }
}

/// Alembic applies three Python revisions; Cairn adopts them as baselines
/// (finding them through alembic.ini) and continues with SQL of its own.
#[cfg(feature = "peer-tools")]
async fn real_alembic_then_adopt(db: TestDatabase) {
    let p = Project::new(db);
    let scratch = p.db.scratch_dir().to_owned();
    let versions = alembic_project(&p);
    let script_dir = scratch.join("scripts");
    std::fs::create_dir_all(&script_dir).expect("the script directory");
    std::fs::rename(&versions, script_dir.join("versions")).expect("move the versions");
    std::fs::write(
        scratch.join("alembic.ini"),
        "[alembic]\nscript_location = %(here)s/scripts\n",
    )
    .expect("alembic.ini");
    let url = sqlalchemy_url(&p);
    std::fs::write(
        script_dir.join("env.py"),
        format!("from alembic import context\nfrom sqlalchemy import create_engine\n\nwith create_engine({url:?}).connect() as connection:\n    context.configure(connection=connection)\n    with context.begin_transaction():\n        context.run_migrations()\n"),
    )
    .expect("env.py");
    if p.engine() == Engine::Sqlite {
        let path = p.db.sqlite_path().expect("a SQLite file");
        std::fs::write(&path, b"").expect("create the SQLite file");
    }
    run_tool(
        &peer_tool("venv/bin/alembic"),
        &["upgrade", "head"],
        &scratch,
    );
    assert_eq!(p.count("SELECT count(*) FROM alembic_version").await, 1);
    assert_eq!(p.count("SELECT count(*) FROM posts").await, 0);
    let run = p.cairn(&["adopt", "--from", "alembic"]).await;
    says(&run, "recorded 3 migrations");
    says(&run, "3 create_posts <- 7c9e4f1a2b38: baseline");
    adopted_and_nothing_left(&p, "alembic", &["1", "2", "3"]).await;
    a_new_migration_applies_and_rolls_back(
        &p,
        "20300101000000_notes/up.sql",
        "20300101000000_notes/down.sql",
    )
    .await;
}

// ---------------------------------------------------------------------------
// Prisma folders sharing a timestamp (fixture, Prisma's own layout).

/// Two folders with one timestamp: Prisma runs both (folder-name order) and
/// records each by name; Cairn reads them as `<ts>` and `<ts>.1` and maps
/// each row to its folder.
async fn fixture_prisma_duplicate_timestamps_adopt(db: TestDatabase) {
    let p = Project::new(db);
    let provider = match p.engine() {
        Engine::Postgres => "postgresql",
        Engine::Mysql => "mysql",
        _ => "sqlite",
    };
    p.file(
        "migration_lock.toml",
        &format!("# Please do not edit this file manually\nprovider = \"{provider}\"\n"),
    );
    let users = "CREATE TABLE users (id INTEGER PRIMARY KEY);\n";
    let posts = "CREATE TABLE posts (id INTEGER PRIMARY KEY);\n";
    p.file("20240131120000_a_users/migration.sql", users);
    p.file("20240131120000_b_posts/migration.sql", posts);
    let row = |id: &str, name: &str, sql: &str| {
        format!(
            "INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES ('{id}', '{}', '2024-01-31 12:00:01', '{name}', '2024-01-31 12:00:00', 1)",
            checksums::prisma(sql.as_bytes())
        )
    };
    p.exec(&[
        users.to_owned(),
        posts.to_owned(),
        prisma_ddl(p.engine()),
        row("a", "20240131120000_a_users", users),
        row("b", "20240131120000_b_posts", posts),
    ])
    .await;
    let run = p.cairn(&["adopt", "--from", "prisma"]).await;
    says(&run, "recorded 2 migrations");
    says(
        &run,
        "20240131120000 a_users <- 20240131120000_a_users: applied, SHA-256 verified",
    );
    says(
        &run,
        "20240131120000.1 b_posts <- 20240131120000_b_posts: applied, SHA-256 verified",
    );
    adopted_and_nothing_left(&p, "prisma", &["20240131120000", "20240131120000.1"]).await;
    a_new_migration_applies_and_rolls_back(
        &p,
        "20300101000000_notes/migration.sql",
        "20300101000000_notes/down.sql",
    )
    .await;
}

// ---------------------------------------------------------------------------
// sqlx 0.9's `[migrate] table-name` (fixture).

/// The table sqlx.toml names is read when --table is not given; --table wins.
async fn fixture_sqlx_toml_table_name(db: TestDatabase) {
    let p = Project::new(db);
    p.file("1_create_users.up.sql", USERS);
    p.file("1_create_users.down.sql", "DROP TABLE users;\n");
    let ddl = sqlx_ddl(p.engine()).replace("_sqlx_migrations", "app_migrations");
    let row = sqlx_row(&p, 1, "create users", true, USERS.as_bytes())
        .replace("_sqlx_migrations", "app_migrations");
    p.exec(&[USERS.to_owned(), ddl, row]).await;
    let toml = p.db.scratch_dir().join("sqlx.toml");
    std::fs::write(&toml, "[migrate]\ntable-name = 42\n").expect("sqlx.toml");
    let bad = p.cairn(&["adopt", "--from", "sqlx"]).await;
    fails_with(
        &bad,
        1,
        "sqlx.toml` is not valid: `[migrate] table-name` is 42",
    );
    assert_eq!(p.tables().await, 2, "a refusal created a table");
    std::fs::write(&toml, "[migrate]\ntable-name = \"app_migrations\"\n").expect("sqlx.toml");
    let told = p
        .cairn(&[
            "adopt",
            "--from",
            "sqlx",
            "--table",
            "_sqlx_migrations",
            "--dry-run",
        ])
        .await;
    fails_with(&told, 1, "there is no table `_sqlx_migrations`");
    let run = p.cairn(&["adopt", "--from", "sqlx"]).await;
    says(&run, "(table app_migrations)");
    says(&run, "recorded 1 migration");
    adopted_and_nothing_left(&p, "sqlx", &["1"]).await;
}

// ---------------------------------------------------------------------------
// Flyway repeatables (fixture): adopted when unchanged, re-run when changed.

async fn fixture_flyway_repeatables_adopt(db: TestDatabase) {
    let p = Project::new(db);
    let users = "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100));\n";
    let ids = "DROP VIEW IF EXISTS user_ids;\nCREATE VIEW user_ids AS SELECT id FROM users;\n";
    let names_then =
        "DROP VIEW IF EXISTS user_names;\nCREATE VIEW user_names AS SELECT name FROM users;\n";
    let names_now =
        "DROP VIEW IF EXISTS user_names;\nCREATE VIEW user_names AS SELECT id, name FROM users;\n";
    p.file("V1__create_users.sql", users);
    p.file("R__user_ids.sql", ids);
    p.file("R__user_names.sql", names_now);
    let mut setup = vec![users.to_owned()];
    setup.extend(
        [ids, names_then]
            .iter()
            .flat_map(|script| script.lines().map(str::to_owned)),
    );
    setup.extend([
        flyway_ddl(p.engine()),
        flyway_row(
            1,
            Some("1"),
            "create users",
            "SQL",
            "V1__create_users.sql",
            Some(checksums::flyway(users.as_bytes())),
        ),
        // R__user_ids ran twice: the latest run has the file's checksum.
        flyway_row(
            2,
            None,
            "user ids",
            "SQL",
            "R__user_ids.sql",
            Some(checksums::flyway(b"SELECT 1;")),
        ),
        flyway_row(
            3,
            None,
            "user ids",
            "SQL",
            "R__user_ids.sql",
            Some(checksums::flyway(ids.as_bytes())),
        ),
        flyway_row(
            4,
            None,
            "user names",
            "SQL",
            "R__user_names.sql",
            Some(checksums::flyway(names_then.as_bytes())),
        ),
    ]);
    p.exec(&setup).await;
    let dry = p.cairn(&["adopt", "--from", "flyway", "--dry-run"]).await;
    says(&dry, "would record 2 migrations");
    says(
        &dry,
        "R__user_ids user_ids <- R__user_ids.sql: applied, CRC-32 verified",
    );
    says(
        &dry,
        "skipped R__user_names.sql: changed since Flyway last ran it",
    );
    says(&dry, "Cairn applies it on the next `cairn up`");
    let run = p.cairn(&["adopt", "--from", "flyway"]).await;
    says(&run, "recorded 2 migrations");
    let status = p.cairn(&["status"]).await;
    says(&status, "R__user_names");
    let up = p.cairn(&["up"]).await;
    says(&up, "user_names");
    assert!(
        !up.stdout.contains("user_ids"),
        "an unchanged repeatable ran again\n{up}"
    );
    assert_eq!(
        p.count("SELECT count(*) FROM user_names WHERE id IS NULL")
            .await,
        0
    );
    says(&p.cairn(&["up"]).await, "nothing to apply");
    assert_eq!(
        p.count("SELECT count(*) FROM flyway_schema_history").await,
        4
    );
}
