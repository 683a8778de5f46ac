//! Tests of reading migrations directories, through [`super::read_dir`] and
//! [`super::detect_layout`] on temporary directories.

use std::fs;
use std::path::Path;
use std::time::Duration;

use tempfile::TempDir;

use super::assemble::first_code;
use super::*;
use crate::engine::Engine;
use crate::error::{Error, Location};
use crate::migration::{Direction, Layout, Migration, Script, Scripts, Version};

const CREATE: &str = "CREATE TABLE t (id INT);\n";

/// A migrations directory holding `files`; a name ending in `/` is a folder.
fn tree(files: &[(&str, &str)]) -> TempDir {
    let entries: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(name, text)| (*name, text.as_bytes()))
        .collect();
    tree_bytes(&entries)
}

fn tree_bytes(files: &[(&str, &[u8])]) -> TempDir {
    let dir = TempDir::new().expect("temp dir");
    for (name, bytes) in files {
        let path = dir.path().join(name);
        if name.ends_with('/') {
            fs::create_dir_all(&path).expect("create folder");
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create parent");
        }
        fs::write(&path, bytes).expect("write file");
    }
    dir
}

fn read(dir: &TempDir) -> Vec<Migration> {
    match read_dir(dir.path()) {
        Ok(migrations) => migrations,
        Err(error) => panic!("{error}"),
    }
}

fn fail(dir: &TempDir) -> Error {
    match read_dir(dir.path()) {
        Ok(migrations) => panic!("read {} migrations", migrations.len()),
        Err(error) => error,
    }
}

/// Asserts that the error's message names `path` (relative to `dir`).
fn names(error: &Error, dir: &TempDir, path: &str) {
    let full = dir.path().join(path);
    let message = error.to_string();
    assert!(
        message.contains(&format!("{}", full.display())),
        "message does not name {}: {message}",
        full.display()
    );
}

fn unrecognised_at(error: &Error, dir: &TempDir, path: &str, hint_part: &str) {
    match error {
        Error::UnrecognisedName { path: got, hint } => {
            assert_eq!(got, &dir.path().join(path), "{error}");
            assert!(hint.contains(hint_part), "hint lacks {hint_part:?}: {hint}");
        }
        other => panic!("expected UnrecognisedName, got {other:?}"),
    }
    names(error, dir, path);
}

fn plain(scripts: &Scripts) -> &Script {
    scripts.plain.as_ref().expect("a plain script")
}

// --- layouts -----------------------------------------------------------

#[test]
fn reads_cairn_folders_with_engine_overrides() {
    let dir = tree(&[
        ("10_add_email/up.sql", "ALTER TABLE users ADD email TEXT;\n"),
        ("10_add_email/down.sql", "ALTER TABLE users DROP email;\n"),
        ("10_add_email/down.sqlite.sql", "SELECT 1;\n"),
        (
            "0002_create_users/up.sql",
            "-- cairn:no-transaction\nCREATE TABLE users (id INT);\n",
        ),
        (
            "0002_create_users/up.postgres.sql",
            "CREATE TABLE users (id SERIAL);\n",
        ),
        (
            "0002_create_users/up.mysql.sql",
            "CREATE TABLE users (id INT AUTO_INCREMENT);\n",
        ),
        ("0002_create_users/README.md", "notes\n"),
        ("0002_create_users/notes.txt", "more notes\n"),
        ("0002_create_users/.DS_Store", "junk"),
        ("0002_create_users/scratch/", ""),
    ]);
    let migrations = read(&dir);
    assert_eq!(migrations.len(), 2);

    let first = &migrations[0];
    assert_eq!(first.version, 2);
    assert_eq!(first.name, "create_users");
    assert_eq!(first.layout, Layout::Cairn);
    assert_eq!(first.location, dir.path().join("0002_create_users"));
    let up = plain(&first.up);
    assert_eq!(up.path, dir.path().join("0002_create_users/up.sql"));
    assert_eq!(up.first_line, 1);
    assert!(up.directives.no_transaction);
    assert_eq!(
        first.up.overrides.keys().copied().collect::<Vec<_>>(),
        [Engine::Postgres, Engine::Mysql]
    );
    assert_eq!(
        first
            .up
            .for_engine(Engine::Postgres)
            .map(|s| s.text.as_str()),
        Some("CREATE TABLE users (id SERIAL);\n")
    );
    assert!(first.down.is_empty());

    let second = &migrations[1];
    assert_eq!(
        (second.version.key(), second.name.as_str()),
        (10, "add_email")
    );
    assert_eq!(
        second
            .down
            .for_engine(Engine::Sqlite)
            .map(|s| s.path.clone()),
        Some(dir.path().join("10_add_email/down.sqlite.sql"))
    );
    assert_eq!(plain(&second.down).text, "ALTER TABLE users DROP email;\n");
}

#[test]
fn an_override_only_migration_exists_only_on_that_engine() {
    let dir = tree(&[("1_pg_only/up.postgres.sql", CREATE)]);
    let migrations = read(&dir);
    assert!(migrations[0].up.plain.is_none());
    assert!(migrations[0].applies_to(Engine::Postgres));
    assert!(!migrations[0].applies_to(Engine::Sqlite));
}

#[test]
fn reads_diesel_folders_with_their_timestamp_as_version() {
    let dir = tree(&[
        ("2023-01-15-093000_create_users/up.sql", CREATE),
        ("2023-01-15-093000_create_users/down.sql", "DROP TABLE t;\n"),
        ("2023-01-15-093000_create_users/up.sqlite.sql", CREATE),
        ("2023-02-01-000000_add_index/up.sql", CREATE),
        ("2023-02-01-000000_add_index/down.sql", ""),
    ]);
    let migrations = read(&dir);
    let summary: Vec<_> = migrations
        .iter()
        .map(|m| (m.version.key(), m.name.as_str(), m.layout))
        .collect();
    assert_eq!(
        summary,
        [
            (20230115093000, "create_users", Layout::Diesel),
            (20230201000000, "add_index", Layout::Diesel),
        ]
    );
    assert!(migrations[0].up.overrides.contains_key(&Engine::Sqlite));
    assert_eq!(plain(&migrations[1].down).text, "");
}

#[test]
fn cairn_and_diesel_folders_may_be_mixed() {
    let dir = tree(&[
        ("2023-01-15-093000_create_users/up.sql", CREATE),
        ("20240101000000_add_email/up.sql", CREATE),
    ]);
    let layouts: Vec<_> = read(&dir).iter().map(|m| m.layout).collect();
    assert_eq!(layouts, [Layout::Diesel, Layout::Cairn]);
}

#[test]
fn diesel_metadata_run_in_transaction_false_means_no_transaction() {
    let dir = tree(&[
        (
            "2023-01-15-093000_index/up.sql",
            "CREATE INDEX CONCURRENTLY i ON t (a);\n",
        ),
        ("2023-01-15-093000_index/down.sql", "DROP INDEX i;\n"),
        (
            "2023-01-15-093000_index/metadata.toml",
            "# diesel\nrun_in_transaction = false # concurrently\n",
        ),
        ("2023-01-16-000000_plain/up.sql", CREATE),
        (
            "2023-01-16-000000_plain/metadata.toml",
            "run_in_transaction = true\n",
        ),
    ]);
    let migrations = read(&dir);
    assert!(plain(&migrations[0].up).directives.no_transaction);
    assert!(plain(&migrations[0].down).directives.no_transaction);
    assert!(!plain(&migrations[1].up).directives.no_transaction);
}

#[test]
fn reads_sqlx_up_down_pairs_and_up_only_files() {
    let dir = tree(&[
        ("20240101000000_create_users.up.sql", CREATE),
        ("20240101000000_create_users.down.sql", "DROP TABLE t;\n"),
        ("20240102000000_seed.sql", "INSERT INTO t VALUES (1);\n"),
    ]);
    let migrations = read(&dir);
    assert_eq!(migrations.len(), 2);
    let first = &migrations[0];
    assert_eq!(
        (first.version.key(), first.name.as_str(), first.layout),
        (20240101000000, "create_users", Layout::Sqlx)
    );
    assert_eq!(
        first.location,
        dir.path().join("20240101000000_create_users.up.sql")
    );
    assert_eq!(
        plain(&first.down).path,
        dir.path().join("20240101000000_create_users.down.sql")
    );
    let second = &migrations[1];
    assert_eq!(
        (second.version.key(), second.name.as_str(), second.layout),
        (20240102000000, "seed", Layout::Sqlx)
    );
    assert!(second.down.is_empty());
}

#[test]
fn reads_flyway_versioned_and_undo_files() {
    let dir = tree(&[
        ("V1__Create_Users.sql", CREATE),
        ("U1__Create_Users.sql", "DROP TABLE t;\n"),
        (
            "V2__add_email.sql",
            "-- cairn:engines postgres\nALTER TABLE t ADD e TEXT;\n",
        ),
    ]);
    let migrations = read(&dir);
    let summary: Vec<_> = migrations
        .iter()
        .map(|m| (m.version.key(), m.name.as_str(), m.layout))
        .collect();
    assert_eq!(
        summary,
        [
            (1, "Create_Users", Layout::Flyway),
            (2, "add_email", Layout::Flyway)
        ]
    );
    assert_eq!(
        plain(&migrations[0].down).path,
        dir.path().join("U1__Create_Users.sql")
    );
    assert!(!migrations[1].applies_to(Engine::Sqlite));
}

#[test]
fn reads_dbmate_sections_with_their_line_numbers() {
    let text = "\
-- a header comment
-- migrate:up transaction:false
-- cairn:lock-timeout 3s
CREATE INDEX CONCURRENTLY i ON t (a);

-- migrate:down
DROP INDEX i;
";
    let dir = tree(&[("20240101000000_index.sql", text)]);
    let migrations = read(&dir);
    let migration = &migrations[0];
    assert_eq!(
        (
            migration.version.key(),
            migration.name.as_str(),
            migration.layout
        ),
        (20240101000000, "index", Layout::Dbmate)
    );
    let path = dir.path().join("20240101000000_index.sql");
    let up = plain(&migration.up);
    assert_eq!(up.path, path);
    assert_eq!(up.first_line, 3);
    assert_eq!(
        up.text,
        "-- cairn:lock-timeout 3s\nCREATE INDEX CONCURRENTLY i ON t (a);\n\n"
    );
    assert!(up.directives.no_transaction);
    assert_eq!(up.directives.lock_timeout, Some(Duration::from_secs(3)));
    assert_eq!(up.location(2), Location::new(&path, 4));
    let down = plain(&migration.down);
    assert_eq!(down.path, path);
    assert_eq!(down.first_line, 7);
    assert_eq!(down.text, "DROP INDEX i;\n");
    assert!(!down.directives.no_transaction);
}

#[test]
fn dbmate_without_a_down_section_and_with_crlf() {
    let dir = tree(&[("1_a.sql", "--migrate:up\r\nSELECT 1;\r\n")]);
    let migrations = read(&dir);
    assert_eq!(migrations[0].layout, Layout::Dbmate);
    assert_eq!(plain(&migrations[0].up).text, "SELECT 1;\n");
    assert_eq!(plain(&migrations[0].up).first_line, 2);
    assert!(migrations[0].down.is_empty());
}

#[test]
fn directive_errors_in_a_dbmate_section_give_the_file_line() {
    let dir = tree(&[("1_a.sql", "-- migrate:up\n\n-- cairn:nope\nSELECT 1;\n")]);
    match fail(&dir) {
        Error::UnknownDirective { location, .. } => {
            assert_eq!(location, Location::new(dir.path().join("1_a.sql"), 3));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn script_text_is_normalised() {
    let dir = tree_bytes(&[("1_a/up.sql", b"\xef\xbb\xbfSELECT 1;\r\nSELECT 2;\r\n")]);
    assert_eq!(plain(&read(&dir)[0].up).text, "SELECT 1;\nSELECT 2;\n");
}

#[test]
fn ignores_hidden_files_readmes_markdown_and_cairn_toml() {
    let dir = tree(&[
        (".gitkeep", ""),
        (".hidden/", ""),
        ("README", "x"),
        ("readme.txt", "x"),
        ("NOTES.md", "x"),
        ("cairn.toml", "x"),
        ("1_a/up.sql", CREATE),
    ]);
    assert_eq!(read(&dir).len(), 1);
}

#[test]
fn an_empty_directory_has_no_migrations() {
    let dir = tree(&[]);
    assert_eq!(read(&dir), []);
}

#[test]
fn directives_are_parsed_from_every_script() {
    let dir = tree(&[
        (
            "1_a/up.sql",
            "-- cairn:irreversible\n-- cairn:statement-timeout 10m\nSELECT 1;\n",
        ),
        ("1_a/down.mysql.sql", "-- cairn:no-transaction\nSELECT 1;\n"),
    ]);
    let migration = &read(&dir)[0];
    assert!(migration.is_irreversible(Engine::Sqlite));
    assert_eq!(
        plain(&migration.up).directives.statement_timeout,
        Some(Duration::from_secs(600))
    );
    assert!(
        migration.down.overrides[&Engine::Mysql]
            .directives
            .no_transaction
    );
}

#[test]
fn detect_layout_follows_the_names() {
    let dir = tree(&[
        ("1_a/up.sql", CREATE),
        ("2023-01-15-093000_b/up.sql", CREATE),
        ("3_c.up.sql", CREATE),
        ("3_c.down.sql", CREATE),
        ("4_d.sql", CREATE),
        ("5_e.sql", "-- migrate:up\nSELECT 1;\n"),
        ("V6__f.sql", CREATE),
        ("U6__f.sql", CREATE),
        ("README.md", ""),
        ("junk.txt", ""),
        ("V1.1__x.sql", ""),
        ("R__views.sql", ""),
        ("V1.a__x.sql", ""),
    ]);
    let table = [
        ("1_a", Some(Layout::Cairn)),
        ("2023-01-15-093000_b", Some(Layout::Diesel)),
        ("3_c.up.sql", Some(Layout::Sqlx)),
        ("3_c.down.sql", Some(Layout::Sqlx)),
        ("4_d.sql", Some(Layout::Sqlx)),
        ("5_e.sql", Some(Layout::Dbmate)),
        ("V6__f.sql", Some(Layout::Flyway)),
        ("U6__f.sql", Some(Layout::Flyway)),
        ("README.md", None),
        ("junk.txt", None),
        ("V1.1__x.sql", Some(Layout::Flyway)),
        ("R__views.sql", Some(Layout::Flyway)),
        ("V1.a__x.sql", None),
    ];
    for (name, expected) in table {
        let got = detect_layout(&dir.path().join(name)).expect("detect");
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn checksum_fixtures_lf_crlf_and_bom_agree_and_tabs_differ() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/source/checksum");
    // Guard against a checkout that rewrote the fixtures' bytes.
    let raw = |name: &str| fs::read(dir.join(name).join("up.sql")).expect("fixture");
    assert!(!raw("1_lf").contains(&b'\r'));
    assert!(raw("2_crlf").windows(2).any(|pair| pair == b"\r\n"));
    assert!(raw("3_bom").starts_with(b"\xef\xbb\xbf"));
    assert!(raw("4_tabs").contains(&b'\t'));

    let migrations = read_dir(&dir).expect("fixtures read");
    let names: Vec<_> = migrations.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["lf", "crlf", "bom", "tabs"]);
    let sums: Vec<_> = migrations.iter().map(|m| plain(&m.up).checksum()).collect();
    assert_eq!(sums[0], sums[1], "crlf changed the checksum");
    assert_eq!(sums[0], sums[2], "bom changed the checksum");
    assert_ne!(sums[0], sums[3], "tabs did not change the checksum");
    for migration in &migrations {
        assert_eq!(
            plain(&migration.up).directives.lock_timeout,
            Some(Duration::from_secs(2)),
            "{}",
            migration.name
        );
        assert_eq!(
            migration.checksum(Engine::Postgres),
            Some(sums_of(migration))
        );
    }
}

fn sums_of(migration: &Migration) -> String {
    plain(&migration.up).checksum()
}

// --- errors ------------------------------------------------------------

#[test]
fn missing_directory() {
    let dir = tree(&[]);
    let missing = dir.path().join("nope");
    let error = read_dir(&missing).expect_err("missing");
    assert!(
        matches!(&error, Error::MissingDirectory { path } if *path == missing),
        "{error:?}"
    );
    names(&error, &dir, "nope");
}

#[test]
fn a_file_instead_of_a_directory_is_an_io_error() {
    let dir = tree(&[("file", "x")]);
    let error = read_dir(&dir.path().join("file")).expect_err("not a dir");
    assert!(matches!(&error, Error::Io { path, .. } if *path == dir.path().join("file")));
    names(&error, &dir, "file");
}

#[cfg(unix)]
#[test]
fn a_dangling_symlink_is_an_io_error_naming_it() {
    let dir = tree(&[]);
    std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("1_a")).expect("symlink");
    let error = fail(&dir);
    assert!(matches!(&error, Error::Io { path, .. } if *path == dir.path().join("1_a")));
    names(&error, &dir, "1_a");
}

#[cfg(unix)]
#[test]
fn symlinks_are_followed_to_folders_and_scripts() {
    let dir = tree(&[
        ("elsewhere/up.sql", CREATE),
        ("shared/down.sql", "SELECT 1;\n"),
    ]);
    let migrations = dir.path().join("migrations");
    fs::create_dir(&migrations).expect("migrations");
    std::os::unix::fs::symlink(dir.path().join("elsewhere"), migrations.join("1_a"))
        .expect("folder symlink");
    fs::create_dir(migrations.join("2_b")).expect("folder");
    fs::write(migrations.join("2_b/up.sql"), CREATE).expect("up");
    std::os::unix::fs::symlink(
        dir.path().join("shared/down.sql"),
        migrations.join("2_b/down.sql"),
    )
    .expect("file symlink");
    let read = read_dir(&migrations).expect("reads");
    assert_eq!(read.len(), 2);
    assert_eq!(read[0].location, migrations.join("1_a"));
    assert_eq!(plain(&read[0].up).text, CREATE);
    assert_eq!(plain(&read[1].down).text, "SELECT 1;\n");
}

#[cfg(unix)]
#[test]
fn a_dangling_symlink_in_a_folder_is_an_io_error_naming_it() {
    let dir = tree(&[("1_a/up.sql", CREATE)]);
    let link = dir.path().join("1_a/notes.txt");
    std::os::unix::fs::symlink(dir.path().join("gone"), &link).expect("symlink");
    let error = fail(&dir);
    assert!(matches!(&error, Error::Io { path, .. } if *path == link));
    names(&error, &dir, "1_a/notes.txt");
}

#[test]
fn scripts_larger_than_the_read_buffer_are_read_whole() {
    for size in [4095, 4096, 4097, 100_000] {
        let mut text = "SELECT 1;\n".repeat(size / 10 + 1);
        text.truncate(size - 1);
        text.push('\n');
        let crlf = text.replace('\n', "\r\n");
        let dir = tree(&[("1_a/up.sql", &text), ("1_a/down.sql", &crlf)]);
        let migration = &read(&dir)[0];
        assert_eq!(plain(&migration.up).text, text, "{size}");
        assert_eq!(plain(&migration.down).text, text, "{size}");
    }
}

#[test]
fn a_script_that_is_not_utf8_gives_the_offset() {
    let dir = tree_bytes(&[("1_a/up.sql", b"SELECT '\xff';\n")]);
    let error = fail(&dir);
    match &error {
        Error::NotUtf8 { path, offset } => {
            assert_eq!(path, &dir.path().join("1_a/up.sql"));
            assert_eq!(*offset, 8);
        }
        other => panic!("unexpected {other:?}"),
    }
    names(&error, &dir, "1_a/up.sql");
    assert!(error.to_string().contains("offset 8"));
}

#[test]
fn input_a_nul_character_is_refused_with_file_line_and_column() {
    let cases: &[(&str, &[u8], usize, usize)] = &[
        (
            "1_a/up.sql",
            b"CREATE TABLE t (a TEXT);\nINSERT INTO t VALUES ('x\0y');\n",
            2,
            25,
        ),
        ("1_a.up.sql", b"\0SELECT 1;\n", 1, 1),
        (
            "1_a/migration.toml",
            b"[[backfill]]\ntable = \"t\0\"\n",
            2,
            11,
        ),
        (
            "2021-01-01-000000_a/metadata.toml",
            b"run_in_transaction = false\0\n",
            1,
            27,
        ),
    ];
    for (file, bytes, line, column) in cases {
        let mut files: Vec<(&str, &[u8])> = vec![(file, bytes)];
        if file.ends_with(".toml") {
            let folder = file.rsplit_once('/').unwrap().0;
            files.push((
                Box::leak(format!("{folder}/up.sql").into_boxed_str()),
                b"SELECT 1;\n",
            ));
        }
        let dir = tree_bytes(&files);
        let error = fail(&dir);
        match &error {
            Error::NulByte { location } => {
                assert_eq!(
                    location,
                    &Location::new(dir.path().join(file), *line).with_column(*column),
                    "{file}"
                );
            }
            other => panic!("{file}: unexpected {other:?}"),
        }
        let message = error.to_string();
        assert!(
            message.contains(&format!(
                "{}`:{line}:{column}",
                dir.path().join(file).display()
            )),
            "{message}"
        );
        assert!(message.contains("NUL"), "{message}");
    }
}

#[cfg(unix)]
#[test]
fn input_a_fifo_where_a_script_is_read_is_refused_without_opening_it() {
    for (file, folder_script) in [
        ("1_a/up.sql", false),
        ("1_a/down.sql", true),
        ("1_a/migration.toml", true),
        ("1_a.up.sql", false),
        ("1_a.sql", false),
    ] {
        let dir = tree(&[]);
        let path = dir.path().join(file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        if folder_script {
            fs::write(path.parent().unwrap().join("up.sql"), CREATE).unwrap();
        }
        let status = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .expect("mkfifo runs");
        assert!(status.success());
        // Reading would block forever if the FIFO were opened.
        let error = fail(&dir);
        match &error {
            Error::NotRegularFile { path: got, what } => {
                assert_eq!(got, &path);
                assert!(what.contains("FIFO"), "{what}");
            }
            other => panic!("{file}: unexpected {other:?}"),
        }
        assert!(error.to_string().contains("not a regular file"), "{error}");
        if file == "1_a.sql" {
            assert!(detect_layout(&path).is_err());
        }
    }
    // A symbolic link to a FIFO is refused too; one to a file is read.
    let outside = tree(&[("script.sql", CREATE)]);
    let fifo = outside.path().join("pipe");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.expect("mkfifo runs").success());
    let dir = tree(&[("1_a/", ""), ("2_b/", "")]);
    let link = |target: &Path, at: &str| {
        std::os::unix::fs::symlink(target, dir.path().join(at)).expect("symlink")
    };
    link(&outside.path().join("script.sql"), "1_a/up.sql");
    link(&fifo, "2_b/up.sql");
    match fail(&dir) {
        Error::NotRegularFile { path, .. } => assert_eq!(path, dir.path().join("2_b/up.sql")),
        other => panic!("unexpected {other:?}"),
    }
    fs::remove_file(dir.path().join("2_b/up.sql")).unwrap();
    fs::remove_dir(dir.path().join("2_b")).unwrap();
    assert_eq!(read(&dir).len(), 1);
}

#[test]
fn a_file_fitting_no_layout_lists_the_accepted_forms() {
    let dir = tree(&[("1_a/up.sql", CREATE), ("schema.rb", "x")]);
    unrecognised_at(&fail(&dir), &dir, "schema.rb", "V<version>__<name>.sql");
}

#[test]
fn a_folder_fitting_no_layout_lists_the_accepted_forms() {
    let dir = tree(&[("fixtures/up.sql", CREATE)]);
    unrecognised_at(&fail(&dir), &dir, "fixtures", "<version>_<name>/");
}

#[test]
fn a_name_without_the_name_part_is_rejected() {
    let dir = tree(&[("1_/up.sql", CREATE)]);
    unrecognised_at(&fail(&dir), &dir, "1_", "name after the version is missing");
}

#[test]
fn an_uppercase_extension_is_rejected() {
    let dir = tree(&[("1_a.SQL", CREATE)]);
    unrecognised_at(&fail(&dir), &dir, "1_a.SQL", "lowercase");
}

#[test]
fn a_loose_up_sql_suggests_pointing_at_the_parent() {
    let dir = tree(&[("up.sql", CREATE)]);
    unrecognised_at(&fail(&dir), &dir, "up.sql", "point --dir");
}

#[test]
fn an_unknown_engine_override_lists_the_engines() {
    let dir = tree(&[("1_a/up.sql", CREATE), ("1_a/up.oracle.sql", CREATE)]);
    let error = fail(&dir);
    unrecognised_at(&error, &dir, "1_a/up.oracle.sql", "postgres, mysql, sqlite");
    assert!(error.to_string().contains("oracle"));
}

#[test]
fn an_engine_alias_in_a_file_name_asks_for_the_canonical_name() {
    let dir = tree(&[("1_a/up.sql", CREATE), ("1_a/down.pg.sql", CREATE)]);
    unrecognised_at(&fail(&dir), &dir, "1_a/down.pg.sql", "`down.postgres.sql`");
}

#[test]
fn a_stray_sql_file_in_a_migration_folder_is_rejected() {
    let dir = tree(&[("1_a/up.sql", CREATE), ("1_a/seed.sql", CREATE)]);
    unrecognised_at(&fail(&dir), &dir, "1_a/seed.sql", "would never run");
}

const BACKFILL: &str = "[[backfill]]\ntable = \"t\"\nset = \"x = 1\"\n";

#[test]
fn a_migration_toml_alone_is_a_backfill_with_empty_scripts() {
    let dir = tree(&[("1_a/migration.toml", BACKFILL)]);
    let migrations = read_dir(dir.path()).unwrap();
    let m = &migrations[0];
    assert_eq!(m.backfills().len(), 1);
    assert_eq!(m.up.plain.as_ref().unwrap().text, "");
    assert_eq!(m.down.plain.as_ref().unwrap().text, "");
    assert!(m.script(Direction::Down, Engine::Postgres).is_some());
}

#[test]
fn migration_toml_beside_up_sql_runs_after_it_and_joins_the_checksum() {
    let dir = tree(&[("1_a/migration.toml", BACKFILL), ("1_a/up.sql", CREATE)]);
    let with = read_dir(dir.path()).unwrap();
    let dir = tree(&[("1_a/up.sql", CREATE)]);
    let without = read_dir(dir.path()).unwrap();
    assert_eq!(with[0].backfills().len(), 1);
    assert!(with[0].down.is_empty());
    assert_ne!(
        with[0].checksum(Engine::Sqlite),
        without[0].checksum(Engine::Sqlite)
    );
}

const OPERATION: &str =
    "[[operation]]\nkind = \"rename_column\"\ntable = \"t\"\ncolumn = \"a\"\nto = \"b\"\n";

#[test]
fn a_migration_toml_of_operations_alone_needs_no_up_sql() {
    let dir = tree(&[("1_a/migration.toml", OPERATION)]);
    let migrations = read_dir(dir.path()).unwrap();
    let m = &migrations[0];
    let declaration = m.declaration.as_ref().unwrap();
    assert_eq!(declaration.operations.len(), 1);
    assert_eq!(declaration.operations[0].kind.name(), "rename_column");
    assert!(declaration.backfills.is_empty());
    assert_eq!(m.up.plain.as_ref().unwrap().text, "");
    // The operation's location is its header in the file.
    assert!(declaration.operations[0]
        .location
        .to_string()
        .ends_with("1_a/migration.toml:1"));
}

#[test]
fn operations_and_backfills_share_a_migration_toml() {
    let text = format!("{OPERATION}\n{BACKFILL}");
    let dir = tree(&[
        ("1_a/migration.toml", text.as_str()),
        ("1_a/up.sql", CREATE),
    ]);
    let migrations = read_dir(dir.path()).unwrap();
    let declaration = migrations[0].declaration.as_ref().unwrap();
    assert_eq!(declaration.operations.len(), 1);
    assert_eq!(migrations[0].backfills().len(), 1);
    assert_eq!(
        migrations[0].backfills()[0].location.rsplit(':').next(),
        Some("7")
    );
}

#[test]
fn a_bad_operation_names_its_line() {
    let text = format!("{OPERATION}\n[[operation]]\nkind = \"drop_colum\"\n");
    let dir = tree(&[("1_a/migration.toml", text.as_str())]);
    let message = fail(&dir).to_string();
    assert!(
        message.contains(
            "1_a/migration.toml:7: migration.toml: operation 2 (drop_colum): unknown kind `drop_colum`"
        ),
        "{message}"
    );
}

#[test]
fn a_bad_migration_toml_names_its_line() {
    let dir = tree(&[(
        "1_a/migration.toml",
        "[[backfill]]\ntable = \"t\"\nsett = 1\n",
    )]);
    let message = fail(&dir).to_string();
    assert!(
        message.contains("1_a/migration.toml:3: migration.toml: unknown field `sett`"),
        "{message}"
    );
}

#[test]
fn flyway_dotted_and_underscored_versions_read_in_flyway_order() {
    let dir = tree(&[
        ("V1__a.sql", CREATE),
        ("V1.1__b.sql", CREATE),
        ("V1.10__e.sql", CREATE),
        ("V1_2__c.sql", CREATE),
        ("V13.1__f.sql", CREATE),
        ("V2__d.sql", CREATE),
        ("U1.1__b.sql", "DROP TABLE t;\n"),
    ]);
    let migrations = read(&dir);
    let got: Vec<(String, &str)> = migrations
        .iter()
        .map(|m| (m.version.to_string(), m.name.as_str()))
        .collect();
    let expected = [
        ("1", "a"),
        ("1.1", "b"),
        ("1.2", "c"),
        ("1.10", "e"),
        ("2", "d"),
        ("13.1", "f"),
    ];
    assert_eq!(got, expected.map(|(v, n)| (v.to_owned(), n)).to_vec());
    assert_eq!(
        migrations[0].version, 1,
        "an integral version is what it was"
    );
    let undo = plain(&migrations[1].down);
    assert_eq!(undo.path, dir.path().join("U1.1__b.sql"));
}

#[test]
fn flyway_versions_that_are_the_same_number_are_a_duplicate() {
    // Flyway compares 1.0 and 1 as equal: one of them would never run.
    let dir = tree(&[("V1.0__a.sql", CREATE), ("V1__b.sql", CREATE)]);
    assert!(
        matches!(fail(&dir), Error::DuplicateVersion { .. }),
        "{}",
        fail(&dir)
    );
}

#[test]
fn repeatable_migrations_sort_after_every_versioned_one_by_name() {
    let dir = tree(&[
        ("R__b_views.sql", CREATE),
        ("R__a_functions.sql", CREATE),
        ("V1__a.sql", CREATE),
        ("V20260101000000__b.sql", CREATE),
    ]);
    let migrations = read(&dir);
    let got: Vec<(&str, bool)> = migrations
        .iter()
        .map(|m| (m.name.as_str(), m.version.is_repeatable()))
        .collect();
    assert_eq!(
        got,
        [
            ("a", false),
            ("b", false),
            ("a_functions", true),
            ("b_views", true)
        ]
    );
    assert!(
        migrations[2].down.is_empty(),
        "a repeatable has no down script"
    );
}

#[test]
fn repeatable_migrations_sit_beside_cairn_folders() {
    let dir = tree(&[("1_users/up.sql", CREATE), ("R__views.sql", CREATE)]);
    let migrations = read(&dir);
    assert_eq!(migrations.len(), 2);
    assert_eq!(migrations[0].layout, Layout::Cairn);
    assert_eq!(migrations[1].version, Version::repeatable("views"));
    let dir = tree(&[("R__.sql", CREATE)]);
    unrecognised_at(&fail(&dir), &dir, "R__.sql", "description after `R__`");
}

#[test]
fn flyway_callbacks_are_not_migrations() {
    let dir = tree(&[("V1__a.sql", CREATE), ("beforeMigrate.sql", "SELECT 1;\n")]);
    assert_eq!(read(&dir).len(), 1);
}

#[test]
fn flyway_bad_versions_are_rejected_with_the_rule() {
    let dir = tree(&[("V1.a__x.sql", CREATE)]);
    unrecognised_at(
        &fail(&dir),
        &dir,
        "V1.a__x.sql",
        "integers separated by `.` or `_`",
    );
    let dir = tree(&[("V1..1__x.sql", CREATE)]);
    unrecognised_at(&fail(&dir), &dir, "V1..1__x.sql", "a part is empty");
}

#[test]
fn flyway_without_a_description_is_rejected() {
    let dir = tree(&[("V1__.sql", CREATE)]);
    unrecognised_at(&fail(&dir), &dir, "V1__.sql", "description");
    let dir = tree(&[("V1_x.sql", CREATE)]);
    unrecognised_at(&fail(&dir), &dir, "V1_x.sql", "two underscores");
}

#[test]
fn version_zero_is_rejected() {
    let dir = tree(&[("000_a/up.sql", CREATE)]);
    unrecognised_at(&fail(&dir), &dir, "000_a", "positive integers");
    let dir = tree(&[("0_a.up.sql", CREATE)]);
    unrecognised_at(&fail(&dir), &dir, "0_a.up.sql", "version 0");
}

#[test]
fn a_negative_version_is_rejected() {
    let dir = tree(&[("-1_a/up.sql", CREATE)]);
    unrecognised_at(&fail(&dir), &dir, "-1_a", "positive integers");
}

#[test]
fn a_version_too_large_for_i64_is_rejected() {
    let dir = tree(&[("9223372036854775808_a/up.sql", CREATE)]);
    unrecognised_at(&fail(&dir), &dir, "9223372036854775808_a", "too large");
    let dir = tree(&[("9223372036854775807_a/up.sql", CREATE)]);
    assert_eq!(read(&dir)[0].version, i64::MAX);
}

#[test]
fn a_sqlx_down_without_an_up_is_rejected() {
    let dir = tree(&[("1_a.up.sql", CREATE), ("2_b.down.sql", CREATE)]);
    unrecognised_at(&fail(&dir), &dir, "2_b.down.sql", "needs an up script");
}

#[test]
fn a_flyway_undo_without_a_versioned_file_is_rejected() {
    let dir = tree(&[("U1__a.sql", CREATE)]);
    unrecognised_at(&fail(&dir), &dir, "U1__a.sql", "V1__<name>.sql");
}

#[test]
fn mixed_layouts_name_one_file_of_each() {
    let cases = [
        ("1_a.up.sql", "V2__b.sql", "sqlx", "flyway"),
        ("1_a/", "2_b.up.sql", "cairn", "sqlx"),
        ("1_a.sql", "2_b.up.sql", "dbmate", "sqlx"),
    ];
    for (first, second, first_layout, second_layout) in cases {
        let first_file = if first.ends_with('/') {
            format!("{first}up.sql")
        } else {
            first.to_owned()
        };
        let first_text = if first == "1_a.sql" {
            "-- migrate:up\nSELECT 1;\n"
        } else {
            CREATE
        };
        let dir = tree(&[(first_file.as_str(), first_text), (second, CREATE)]);
        let error = fail(&dir);
        match &error {
            Error::MixedLayouts {
                dir: got_dir,
                first: got_first,
                first_layout: got_first_layout,
                second: got_second,
                second_layout: got_second_layout,
            } => {
                assert_eq!(got_dir, dir.path());
                assert_eq!(got_first, &dir.path().join(first.trim_end_matches('/')));
                assert_eq!(got_second, &dir.path().join(second));
                assert_eq!(*got_first_layout, first_layout);
                assert_eq!(*got_second_layout, second_layout);
            }
            other => panic!("{first} + {second}: unexpected {other:?}"),
        }
        names(&error, &dir, first.trim_end_matches('/'));
        names(&error, &dir, second);
    }
}

#[test]
fn sqlx_up_only_and_up_down_files_are_one_layout() {
    let dir = tree(&[("1_a.sql", CREATE), ("2_b.up.sql", CREATE)]);
    assert_eq!(read(&dir).len(), 2);
}

fn assert_duplicate(error: &Error, dir: &TempDir, version: Version, first: &str, second: &str) {
    match error {
        Error::DuplicateVersion {
            version: got,
            first: got_first,
            second: got_second,
        } => {
            assert_eq!(*got, version);
            assert_eq!(got_first, &dir.path().join(first));
            assert_eq!(got_second, &dir.path().join(second));
        }
        other => panic!("unexpected {other:?}"),
    }
    names(error, dir, first);
    names(error, dir, second);
}

#[test]
fn duplicate_versions_name_both_folders() {
    let dir = tree(&[("1_a/up.sql", CREATE), ("1_b/up.sql", CREATE)]);
    assert_duplicate(
        &fail(&dir),
        &dir,
        crate::migration::Version::from(1),
        "1_a",
        "1_b",
    );
}

#[test]
fn versions_compare_numerically() {
    let dir = tree(&[("0001_a/up.sql", CREATE), ("1_b/up.sql", CREATE)]);
    assert_duplicate(
        &fail(&dir),
        &dir,
        crate::migration::Version::from(1),
        "0001_a",
        "1_b",
    );
}

#[test]
fn a_diesel_and_a_cairn_folder_can_share_a_version() {
    let dir = tree(&[
        ("2023-01-15-093000_a/up.sql", CREATE),
        ("20230115093000_b/up.sql", CREATE),
    ]);
    assert_duplicate(
        &fail(&dir),
        &dir,
        crate::migration::Version::from(20230115093000),
        "2023-01-15-093000_a",
        "20230115093000_b",
    );
}

#[test]
fn duplicate_flat_up_files_are_rejected() {
    let dir = tree(&[("1_a.sql", CREATE), ("1_a.up.sql", CREATE)]);
    assert_duplicate(
        &fail(&dir),
        &dir,
        crate::migration::Version::from(1),
        "1_a.sql",
        "1_a.up.sql",
    );
    let dir = tree(&[("V01__b.sql", CREATE), ("V1__a.sql", CREATE)]);
    assert_duplicate(
        &fail(&dir),
        &dir,
        crate::migration::Version::from(1),
        "V01__b.sql",
        "V1__a.sql",
    );
    let dir = tree(&[
        ("1_a.up.sql", CREATE),
        ("1_a.down.sql", CREATE),
        ("1_b.down.sql", CREATE),
    ]);
    assert_duplicate(
        &fail(&dir),
        &dir,
        crate::migration::Version::from(1),
        "1_a.down.sql",
        "1_b.down.sql",
    );
}

#[test]
fn duplicate_dbmate_versions_are_rejected() {
    let up = "-- migrate:up\nSELECT 1;\n";
    let dir = tree(&[("01_a.sql", up), ("1_b.sql", up)]);
    assert_duplicate(
        &fail(&dir),
        &dir,
        crate::migration::Version::from(1),
        "01_a.sql",
        "1_b.sql",
    );
}

fn assert_empty(error: &Error, dir: &TempDir, path: &str) {
    assert!(
        matches!(error, Error::EmptyScript { path: got } if *got == dir.path().join(path)),
        "{error:?}"
    );
    names(error, dir, path);
}

#[test]
fn an_empty_up_sql_is_rejected() {
    let dir = tree(&[("1_a/up.sql", ""), ("1_a/down.sql", "SELECT 1;\n")]);
    assert_empty(&fail(&dir), &dir, "1_a/up.sql");
}

#[test]
fn an_up_sql_of_only_comments_and_whitespace_is_rejected() {
    let text = "-- cairn:no-transaction\n\n  /* nothing\n here */ \t\n-- to do\n";
    let dir = tree(&[("1_a/up.sql", text)]);
    assert_empty(&fail(&dir), &dir, "1_a/up.sql");
}

#[test]
fn an_empty_engine_override_is_rejected() {
    let dir = tree(&[("1_a/up.sql", CREATE), ("1_a/up.mysql.sql", "\n")]);
    assert_empty(&fail(&dir), &dir, "1_a/up.mysql.sql");
}

#[test]
fn a_folder_with_only_a_down_script_is_rejected() {
    let dir = tree(&[("1_a/down.sql", CREATE)]);
    assert_empty(&fail(&dir), &dir, "1_a");
    assert!(fail(&dir).to_string().contains("up script"));
}

#[test]
fn an_empty_folder_is_rejected() {
    let dir = tree(&[("1_a/", "")]);
    assert_empty(&fail(&dir), &dir, "1_a");
}

#[test]
fn an_empty_flyway_up_script_is_rejected() {
    // sqlx and golang-migrate empty files are accepted: tools::sqlx's tests.
    let dir = tree(&[("V1__a.sql", "-- nothing\n")]);
    assert_empty(&fail(&dir), &dir, "V1__a.sql");
}

#[test]
fn an_empty_dbmate_up_section_is_rejected() {
    let dir = tree(&[(
        "1_a.sql",
        "-- migrate:up\n\n-- migrate:down\nDROP TABLE t;\n",
    )]);
    assert_empty(&fail(&dir), &dir, "1_a.sql");
}

#[test]
fn an_empty_down_script_is_accepted() {
    let dir = tree(&[("1_a/up.sql", CREATE), ("1_a/down.sql", "")]);
    assert_eq!(plain(&read(&dir)[0].down).text, "");
}

fn assert_bad_directive(error: &Error, dir: &TempDir, path: &str, line: usize, part: &str) {
    match error {
        Error::BadDirective { location, message } => {
            assert_eq!(location, &Location::new(dir.path().join(path), line));
            assert!(message.contains(part), "message lacks {part:?}: {message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    names(error, dir, path);
}

#[test]
fn dbmate_statements_before_the_up_marker_are_rejected() {
    let dir = tree(&[(
        "1_a.sql",
        "-- header\n\nSELECT 1;\n-- migrate:up\nSELECT 2;\n",
    )]);
    assert_bad_directive(&fail(&dir), &dir, "1_a.sql", 3, "before `-- migrate:up`");
}

#[test]
fn dbmate_down_before_up_is_rejected() {
    let dir = tree(&[(
        "1_a.sql",
        "-- migrate:down\nDROP TABLE t;\n-- migrate:up\nSELECT 1;\n",
    )]);
    assert_bad_directive(&fail(&dir), &dir, "1_a.sql", 1, "without a `-- migrate:up`");
}

#[test]
fn dbmate_down_only_is_rejected() {
    let dir = tree(&[("1_a.sql", "SELECT 1;\n-- migrate:down\nDROP TABLE t;\n")]);
    assert_bad_directive(&fail(&dir), &dir, "1_a.sql", 2, "without a `-- migrate:up`");
}

#[test]
fn dbmate_repeated_markers_are_rejected() {
    let dir = tree(&[(
        "1_a.sql",
        "-- migrate:up\nSELECT 1;\n-- migrate:up\nSELECT 2;\n",
    )]);
    assert_bad_directive(&fail(&dir), &dir, "1_a.sql", 3, "second `-- migrate:up`");
    let text = "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 2;\n-- migrate:down\n";
    let dir = tree(&[("1_a.sql", text)]);
    assert_bad_directive(&fail(&dir), &dir, "1_a.sql", 5, "second `-- migrate:down`");
    let text = "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 2;\n-- migrate:up\n";
    let dir = tree(&[("1_a.sql", text)]);
    assert_bad_directive(&fail(&dir), &dir, "1_a.sql", 5, "second `-- migrate:up`");
}

#[test]
fn dbmate_unknown_option_is_rejected() {
    let dir = tree(&[("1_a.sql", "-- migrate:up transaction:maybe\nSELECT 1;\n")]);
    assert_bad_directive(&fail(&dir), &dir, "1_a.sql", 1, "transaction:false");
}

#[test]
fn diesel_metadata_with_a_bad_value_is_rejected() {
    let dir = tree(&[
        ("2023-01-15-093000_a/up.sql", CREATE),
        (
            "2023-01-15-093000_a/metadata.toml",
            "\nrun_in_transaction = \"no\"\n",
        ),
    ]);
    assert_bad_directive(
        &fail(&dir),
        &dir,
        "2023-01-15-093000_a/metadata.toml",
        2,
        "`true` or `false`",
    );
}

#[test]
fn an_unknown_directive_names_the_file_and_line() {
    let dir = tree(&[("1_a/up.sql", "-- intro\n-- cairn:xyz\nSELECT 1;\n")]);
    let error = fail(&dir);
    match &error {
        Error::UnknownDirective {
            location,
            directive,
        } => {
            assert_eq!(location, &Location::new(dir.path().join("1_a/up.sql"), 2));
            assert_eq!(directive, "xyz");
        }
        other => panic!("unexpected {other:?}"),
    }
    names(&error, &dir, "1_a/up.sql");
}

#[test]
fn a_bad_directive_in_a_down_script_is_reported_too() {
    let dir = tree(&[
        ("1_a/up.sql", CREATE),
        ("1_a/down.sql", "-- cairn:lock-timeout x\n"),
    ]);
    assert_bad_directive(&fail(&dir), &dir, "1_a/down.sql", 1, "`500ms`");
}

#[test]
fn first_code_skips_whitespace_and_comments() {
    let table = [
        ("", None),
        ("  \n\t", None),
        ("-- a\n-- b", None),
        ("/* a */ /* b", None),
        ("/**/x", Some(4)),
        ("-- a\nSELECT", Some(5)),
        ("'--'", Some(0)),
        ("-x", Some(0)),
    ];
    for (text, expected) in table {
        assert_eq!(first_code(text), expected, "{text:?}");
    }
}

// --- survey (`cairn new`) --------------------------------------------------

#[test]
fn survey_reads_versions_from_every_layout() {
    for (files, version) in [
        (&[("3_add_users/", "")][..], 3),
        (&[("20240101120000_x/", "")][..], 20_240_101_120_000),
        (&[("7_x.up.sql", "")][..], 7),
        (&[("V12__x.sql", "")][..], 12),
        (&[("U12__x.sql", "")][..], 12),
        (&[("2024-01-31-120000_x/", "")][..], 20_240_131_120_000),
    ] {
        let dir = tree(files);
        let survey = survey(dir.path()).expect("surveys");
        assert_eq!(survey.versions, vec![version], "{files:?}");
    }
    let dir = tree(&[
        ("README.md", ""),
        (".gitkeep", ""),
        ("12", ""),
        ("notes/", ""),
    ]);
    assert_eq!(
        survey(dir.path()).expect("surveys"),
        Survey {
            versions: Vec::new(),
            shape: NewShape::CairnFolder
        }
    );
}

#[test]
fn survey_follows_the_layout_of_the_newest_migration() {
    for (files, shape) in [
        (&[("1_a/up.sql", CREATE)][..], NewShape::CairnFolder),
        (
            &[("2024-01-31-120000_a/up.sql", CREATE)][..],
            NewShape::DieselFolder,
        ),
        (
            &[("1_a.up.sql", CREATE), ("1_a.down.sql", "")][..],
            NewShape::SqlxPair,
        ),
        (&[("1_a.sql", CREATE)][..], NewShape::SqlxUpOnly),
        (&[("V1__a.sql", CREATE)][..], NewShape::Flyway),
        (
            &[("1_a.sql", "-- migrate:up\nSELECT 1;\n-- migrate:down\n")][..],
            NewShape::Dbmate,
        ),
        // Cairn and diesel folders mix: the newest decides.
        (
            &[
                ("2024-01-31-120000_a/up.sql", CREATE),
                ("30000000000000_b/up.sql", CREATE),
            ][..],
            NewShape::CairnFolder,
        ),
        (
            &[
                ("5_a/up.sql", CREATE),
                ("2024-01-31-120000_b/up.sql", CREATE),
            ][..],
            NewShape::DieselFolder,
        ),
    ] {
        let dir = tree(files);
        assert_eq!(
            survey(dir.path()).expect("surveys").shape,
            shape,
            "{files:?}"
        );
    }
    // A fresh, still empty migration does not stop the survey.
    let dir = tree(&[("1_a.up.sql", ""), ("1_a.down.sql", "")]);
    assert_eq!(
        survey(dir.path()).expect("surveys").shape,
        NewShape::SqlxPair
    );
}

#[test]
fn survey_of_a_missing_directory_is_an_io_error_naming_it() {
    let dir = tree(&[]);
    let missing = dir.path().join("nowhere");
    match survey(&missing) {
        Err(Error::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("unexpected {other:?}"),
    }
}
