//! Other tools' layouts read in place and run as their tool runs them
//! (docs/layouts.md), end to end on every engine: sqlx's `-- no-transaction`,
//! golang-migrate's scripts with their own transaction and empty files,
//! diesel ≥ 2.2 names and its initial setup folder, Prisma folders,
//! Liquibase formatted SQL; and, on PostgreSQL, `CREATE INDEX CONCURRENTLY`
//! and the SQLSTATE 25001 hint in each layout's own form.

use std::path::{Path, PathBuf};

use cairn_testkit::TestDatabase;

use crate::support::{self, write, Finished};

/// A project: a database and a migrations directory in its scratch directory.
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

    fn file(&self, name: &str, text: &str) -> &Self {
        write(&self.dir.join(name), text);
        self
    }

    async fn cairn(&self, args: &[&str]) -> Finished {
        support::cairn(&self.db, &self.dir, args).await
    }

    /// `(version, state)` of every migration `cairn status` lists.
    async fn states(&self) -> Vec<(i64, String)> {
        let status = self.cairn(&["status", "--format", "json"]).await;
        let json: serde_json::Value =
            serde_json::from_str(status.success()).expect("status prints JSON");
        json["migrations"]
            .as_array()
            .expect("a migrations array")
            .iter()
            .map(|m| {
                (
                    m["version"].as_i64().expect("version"),
                    m["state"].as_str().expect("state").to_owned(),
                )
            })
            .collect()
    }

    async fn count(&self, sql: &str) -> i64 {
        let mut driver = support::connect(&self.db).await;
        support::count(driver.as_mut(), sql).await
    }

    fn path(&self) -> &Path {
        &self.dir
    }
}

fn applied(versions: &[i64]) -> Vec<(i64, String)> {
    versions
        .iter()
        .map(|v| (*v, "applied".to_owned()))
        .collect()
}

/// golang-migrate: a script with its own `BEGIN;`/`COMMIT;` runs as written,
/// and empty and comment-only files are applied and recorded; all roll back.
async fn golang_migrate_scripts_run_as_written(db: TestDatabase) {
    let p = Project::new(db);
    p.file(
        "1_create.up.sql",
        "BEGIN;\nCREATE TABLE gm_a (id INT PRIMARY KEY);\nINSERT INTO gm_a VALUES (1);\nCOMMIT;\n",
    )
    .file("1_create.down.sql", "BEGIN;\nDROP TABLE gm_a;\nCOMMIT;\n")
    .file("2_empty.up.sql", "")
    .file("2_empty.down.sql", "")
    .file("3_comments.up.sql", "-- nothing yet\n/* later */\n")
    .file("3_comments.down.sql", "-- nothing\n");
    let up = p.cairn(&["up"]).await;
    assert!(up.success().contains("3 migrations applied"), "{up}");
    assert_eq!(p.states().await, applied(&[1, 2, 3]));
    assert_eq!(p.count("SELECT COUNT(*) FROM gm_a").await, 1);
    p.cairn(&["down", "--all"]).await.success();
    let pending: Vec<(i64, String)> = [1, 2, 3]
        .iter()
        .map(|v| (*v, "pending".to_owned()))
        .collect();
    assert_eq!(p.states().await, pending);
    let _ = p.path();
}

/// diesel ≥ 2.2 folder names and `00000000000000_diesel_initial_setup`
/// (version 0, first) apply in diesel's order.
async fn diesel_names_apply_in_order(db: TestDatabase) {
    let p = Project::new(db);
    p.file(
        "00000000000000_diesel_initial_setup/up.sql",
        "CREATE TABLE ds_setup (id INT PRIMARY KEY);\n",
    )
    .file(
        "00000000000000_diesel_initial_setup/down.sql",
        "DROP TABLE ds_setup;\n",
    )
    .file(
        "2024-01-31-120000-0000_users/up.sql",
        "CREATE TABLE ds_users (id INT PRIMARY KEY);\n",
    )
    .file(
        "2024-01-31-120000-0000_users/down.sql",
        "DROP TABLE ds_users;\n",
    )
    .file(
        "2024-01-31-120000-0001_posts/up.sql",
        "CREATE TABLE ds_posts (id INT PRIMARY KEY, user_id INT REFERENCES ds_users (id));\n",
    )
    .file(
        "2024-01-31-120000-0001_posts/down.sql",
        "DROP TABLE ds_posts;\n",
    );
    p.cairn(&["up"]).await.success();
    assert_eq!(
        p.states().await,
        applied(&[0, 2024013112000000000, 2024013112000000001])
    );
    p.cairn(&["down", "--all"]).await.success();
    p.cairn(&["up"]).await.success();
}

/// The provider `migration_lock.toml` names for `engine`.
fn prisma_provider(engine: cairn::Engine) -> &'static str {
    match engine {
        cairn::Engine::Postgres => "postgresql",
        cairn::Engine::Mysql => "mysql",
        _ => "sqlite",
    }
}

/// Prisma: folders of `migration.sql` apply; `down` refuses with the hint,
/// `verify` reports them irreversible; a lock file of another provider is
/// refused before anything runs.
async fn prisma_project(db: TestDatabase, verify_db: TestDatabase) {
    let engine = db.engine();
    let p = Project::new(db);
    let v = Project::new(verify_db);
    for project in [&p, &v] {
        project
            .file(
                "migration_lock.toml",
                &format!(
                    "# Please do not edit this file manually\n# It should be added in your \
                     version-control system (e.g., Git)\nprovider = \"{}\"\n",
                    prisma_provider(engine)
                ),
            )
            .file(
                "20210313140442_init/migration.sql",
                "-- CreateTable\nCREATE TABLE pr_user (id INTEGER NOT NULL PRIMARY KEY, email TEXT);\n",
            )
            .file(
                "20210314090000_job/migration.sql",
                "-- AlterTable\nALTER TABLE pr_user ADD COLUMN job TEXT;\n",
            );
    }
    let verify = v.cairn(&["verify"]).await;
    assert!(verify.stdout.contains("irreversible"), "{verify}");
    let up = p.cairn(&["up"]).await;
    assert!(up.success().contains("2 migrations applied"), "{up}");
    assert_eq!(p.states().await, applied(&[20210313140442, 20210314090000]));
    let down = p.cairn(&["down"]).await;
    assert_eq!(down.code(), Some(1), "{down}");
    assert!(
        down.stderr
            .contains("Prisma migrations have no down script"),
        "{down}"
    );
    assert_eq!(p.states().await, applied(&[20210313140442, 20210314090000]));

    let other = if engine == cairn::Engine::Sqlite {
        "mysql"
    } else {
        "sqlite"
    };
    p.file("migration_lock.toml", &format!("provider = \"{other}\"\n"));
    let refused = p.cairn(&["status"]).await;
    assert_eq!(refused.code(), Some(1), "{refused}");
    assert!(
        refused.stderr.contains("migration_lock.toml:1"),
        "{refused}"
    );
    assert!(
        refused
            .stderr
            .contains(&format!("the database is {engine}")),
        "{refused}"
    );
}

const CHANGELOG: &str = "\
--liquibase formatted sql

--changeset alice:1
CREATE TABLE lb_person (id INT PRIMARY KEY, name VARCHAR(50));
--rollback DROP TABLE lb_person;

--changeset alice:2 dbms:postgresql runInTransaction:false
CREATE INDEX CONCURRENTLY lb_person_name ON lb_person (name);
--rollback DROP INDEX CONCURRENTLY lb_person_name;

--changeset alice:3 dbms:!postgresql
CREATE INDEX lb_person_name ON lb_person (name);
--rollback DROP INDEX lb_person_name ON lb_person;

--changeset bob:4 context:test
INSERT INTO lb_person VALUES (1, 'Ada');
/* liquibase rollback
DELETE FROM lb_person WHERE id = 1;
*/

--changeset bob:5 labels:v2
INSERT INTO lb_person VALUES (2, 'Grace');
--rollback DELETE FROM lb_person WHERE id = 2;
";

/// Liquibase formatted SQL: changesets apply in order, `dbms:` and
/// `runInTransaction:false` are honoured, `--contexts` and `--label-filter`
/// select changesets, and the rollbacks take everything back.
async fn liquibase_changelog(db: TestDatabase) {
    let engine = db.engine();
    let p = Project::new(db);
    // SQLite has no `DROP INDEX ... ON`: its rollback is its own changeset's.
    let changelog = if engine == cairn::Engine::Sqlite {
        CHANGELOG.replace(
            "DROP INDEX lb_person_name ON lb_person;",
            "DROP INDEX lb_person_name;",
        )
    } else {
        CHANGELOG.to_owned()
    };
    p.file("changelog.sql", &changelog);
    let up = p
        .cairn(&["--contexts", "prod", "--label-filter", "!v2", "up"])
        .await;
    up.success();
    assert_eq!(p.count("SELECT COUNT(*) FROM lb_person").await, 0);
    let listed: Vec<i64> = p.states().await.into_iter().map(|(v, _)| v).collect();
    assert!(listed.contains(&100001), "{listed:?}");
    p.cairn(&["--contexts", "test", "up"]).await.success();
    assert_eq!(p.count("SELECT COUNT(*) FROM lb_person").await, 2);
    p.cairn(&["down", "--all"]).await.success();
    let mut driver = support::connect(&p.db).await;
    assert!(!cairn_testkit::conformance::table_exists(driver.as_mut(), "lb_person").await);
}

mod sqlite {
    use super::*;

    /// `cairn new` beside diesel ≥ 2.2 folders writes one with a subversion,
    /// which sorts after them, and beside Prisma folders a Prisma folder.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn new_follows_diesel_2_2_and_prisma_folders() {
        for (existing, suffix, script) in [
            (
                "2024-01-31-120000-0000_first/up.sql",
                "-0000_second",
                "up.sql",
            ),
            (
                "20210313140442_first/migration.sql",
                "_second",
                "migration.sql",
            ),
        ] {
            let p = Project::new(TestDatabase::sqlite());
            p.file(existing, "CREATE TABLE first_t (id INT);\n");
            let new = p.cairn(&["new", "second", "--format", "json"]).await;
            let json: serde_json::Value = serde_json::from_str(new.success()).expect("JSON");
            let up = json["files"][0].as_str().expect("a file").to_owned();
            let folder = Path::new(&up).parent().expect("a folder");
            let folder_name = folder.file_name().unwrap().to_string_lossy().into_owned();
            assert!(folder_name.ends_with(suffix), "{json}");
            assert!(up.ends_with(script), "{json}");
            let written = p.db.scratch_dir().join(&up);
            let text = std::fs::read_to_string(&written).expect("the new script");
            std::fs::write(&written, format!("{text}CREATE TABLE second_t (id INT);\n")).unwrap();
            p.cairn(&["up"]).await.success();
            let states = p.states().await;
            assert_eq!(states.len(), 2, "{states:?}");
            assert!(
                states.iter().all(|(_, state)| state == "applied"),
                "{states:?}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn liquibase_changesets_rollbacks_and_selection() {
        liquibase_changelog(TestDatabase::sqlite()).await;
    }

    /// A changelog whose next changeset would need a version of the next
    /// file (`<file> × 100000 + 100000`) is refused: start a new file.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn new_refuses_a_full_liquibase_changelog() {
        let p = Project::new(TestDatabase::sqlite());
        let mut text = String::from("--liquibase formatted sql\n");
        for id in 1..100_000 {
            text.push_str(&format!("--changeset ann:{id}\nSELECT 1;\n"));
        }
        p.file("changelog.sql", &text);
        let full = p.cairn(&["new", "one_more"]).await;
        assert_eq!(full.code(), Some(1), "{full}");
        assert!(
            full.stderr.contains("holds 99999 changesets, the most one changelog file numbers: start a new changelog file after it"),
            "{full}"
        );
        let after = std::fs::read_to_string(p.path().join("changelog.sql")).expect("changelog");
        assert_eq!(after, text, "a refused `cairn new` changed the changelog");
    }

    /// `cairn new` in a Liquibase directory appends a changeset to the last
    /// changelog (no existing version moves); a taken author:id is refused.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn new_appends_a_changeset_to_the_last_liquibase_changelog() {
        let p = Project::new(TestDatabase::sqlite());
        p.file(
            "001-init.sql",
            "--liquibase formatted sql\n--changeset ann:1\nCREATE TABLE a (id INT);\n--rollback DROP TABLE a;\n",
        );
        p.file(
            "002-more.sql",
            "--liquibase formatted sql\n\n--changeset ann:2\n--rollback DROP TABLE b;\nCREATE TABLE b (id INT);",
        );
        let last = p.path().join("002-more.sql");
        p.cairn(&["up"]).await.success();
        let new = p.cairn(&["new", "add notes", "--format", "json"]).await;
        let json: serde_json::Value = serde_json::from_str(new.success()).expect("JSON");
        assert_eq!(json["version"], 200002, "{json}");
        assert_eq!(json["layout"], "liquibase", "{json}");
        let id = json["changeset"].as_str().expect("a changeset").to_owned();
        assert!(id.ends_with(":add_notes"), "{json}");
        let text = std::fs::read_to_string(&last).expect("the changelog");
        assert!(
            text.contains(&format!("CREATE TABLE b (id INT);\n--changeset {id}\n")),
            "{text}"
        );
        // The last line had no line break: one is added, and no existing
        // changeset's checksum changes (the run below would refuse it).
        // Until a statement is written, the empty changeset is refused.
        let empty = p.cairn(&["up"]).await;
        assert_ne!(empty.code(), Some(0), "{empty}");
        std::fs::write(
            &last,
            format!("{text}CREATE TABLE notes (id INT);\n--rollback DROP TABLE notes;\n"),
        )
        .expect("write the changeset");
        p.cairn(&["up"]).await.success();
        assert_eq!(p.count("SELECT COUNT(*) FROM notes").await, 0);
        let states = p.states().await;
        assert_eq!(states.len(), 3, "{states:?}");
        p.cairn(&["down"]).await.success();
        let mut driver = support::connect(&p.db).await;
        assert!(!cairn_testkit::conformance::table_exists(driver.as_mut(), "notes").await);
        let again = p.cairn(&["new", "add_notes"]).await;
        assert_eq!(again.code(), Some(1), "{again}");
        assert!(
            again
                .stderr
                .contains(&format!("changeset `{id}` is already in")),
            "{again}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn prisma_folders_lock_file_and_no_down() {
        prisma_project(TestDatabase::sqlite(), TestDatabase::sqlite()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn golang_migrate_own_transactions_and_empty_files() {
        golang_migrate_scripts_run_as_written(TestDatabase::sqlite()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn diesel_2_2_names_and_initial_setup() {
        diesel_names_apply_in_order(TestDatabase::sqlite()).await;
    }
}

#[cfg(feature = "servers")]
mod postgres {
    use super::*;

    async fn database() -> TestDatabase {
        cairn_testkit::postgres::database().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn liquibase_changesets_rollbacks_and_selection() {
        liquibase_changelog(database().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn prisma_folders_lock_file_and_no_down() {
        prisma_project(database().await, database().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn golang_migrate_own_transactions_and_empty_files() {
        golang_migrate_scripts_run_as_written(database().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn diesel_2_2_names_and_initial_setup() {
        diesel_names_apply_in_order(database().await).await;
    }

    /// sqlx's `-- no-transaction` and golang-migrate's lone `CREATE INDEX
    /// CONCURRENTLY` file run outside a transaction, up and down.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn create_index_concurrently_in_sqlx_and_golang_migrate_files() {
        let p = Project::new(database().await);
        p.file("1_t.up.sql", "CREATE TABLE cic (a INT, b INT);\n")
            .file("1_t.down.sql", "DROP TABLE cic;\n")
            .file(
                "2_sqlx.up.sql",
                "-- no-transaction\nCREATE INDEX CONCURRENTLY cic_a ON cic (a);\n",
            )
            .file(
                "2_sqlx.down.sql",
                "-- no-transaction\nDROP INDEX CONCURRENTLY cic_a;\n",
            )
            .file(
                "3_gm.up.sql",
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS cic_b ON cic (b);\n",
            )
            .file(
                "3_gm.down.sql",
                "DROP INDEX CONCURRENTLY IF EXISTS cic_b;\n",
            );
        p.cairn(&["up"]).await.success();
        assert_eq!(p.states().await, applied(&[1, 2, 3]));
        assert_eq!(
            p.count("SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'cic'")
                .await,
            2
        );
        p.cairn(&["down", "--to", "1"]).await.success();
        assert_eq!(
            p.count("SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'cic'")
                .await,
            0
        );
    }

    /// SQLSTATE 25001 says how to run the script outside a transaction, in
    /// the form of the migration's layout; nothing is applied.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cannot_run_inside_a_transaction_block_names_the_layouts_form() {
        for (files, form) in [
            (
                vec![
                    ("1_t/up.sql", "CREATE TABLE hint (a INT);\n"),
                    (
                        "2_i/up.sql",
                        "CREATE INDEX CONCURRENTLY hint_a ON hint (a);\n",
                    ),
                ],
                "put `-- cairn:no-transaction` at the top of its script",
            ),
            (
                vec![
                    ("1_t.sql", "-- migrate:up\nCREATE TABLE hint (a INT);\n"),
                    (
                        "2_i.sql",
                        "-- migrate:up\nCREATE INDEX CONCURRENTLY hint_a ON hint (a);\n",
                    ),
                ],
                "`-- migrate:up transaction:false`",
            ),
            (
                vec![
                    ("2024-01-01-000000_t/up.sql", "CREATE TABLE hint (a INT);\n"),
                    (
                        "2024-01-02-000000_i/up.sql",
                        "CREATE INDEX CONCURRENTLY hint_a ON hint (a);\n",
                    ),
                ],
                "`run_in_transaction = false`",
            ),
        ] {
            let p = Project::new(database().await);
            for (name, text) in files {
                p.file(name, text);
            }
            let up = p.cairn(&["up"]).await;
            assert_eq!(up.code(), Some(1), "{up}");
            assert!(
                up.stderr.contains("cannot run inside a transaction"),
                "{up}"
            );
            assert!(up.stderr.contains(form), "{up}\nlacks {form}");
            let states = p.states().await;
            assert_eq!(states[1].1, "pending", "{states:?}");
        }
    }
}

#[cfg(feature = "servers")]
mod mysql {
    use super::*;

    async fn database() -> TestDatabase {
        cairn_testkit::mysql::database().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn liquibase_changesets_rollbacks_and_selection() {
        liquibase_changelog(database().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn prisma_folders_lock_file_and_no_down() {
        prisma_project(database().await, database().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn golang_migrate_own_transactions_and_empty_files() {
        golang_migrate_scripts_run_as_written(database().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn diesel_2_2_names_and_initial_setup() {
        diesel_names_apply_in_order(database().await).await;
    }
}
