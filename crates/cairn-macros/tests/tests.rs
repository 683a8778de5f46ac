//! `cairn::embed_migrations!` in a real crate: a fixture crate is written to
//! a temporary directory and built with cargo (offline, into this
//! worktree's target directory so that its dependencies are built once),
//! then changed and built again.
//!
//! - a migration file added, edited or removed is seen by the next build,
//!   through the documented `cairn_build::rerun_if_migrations_change`;
//! - a bad migration fails to compile with its file and line.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root (this crate is `crates/cairn-macros`).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the workspace root above crates/cairn-macros")
        .to_owned()
}

/// The target directory this test binary was built in (`<target>/debug/deps/tests-…`),
/// or `CARGO_TARGET_DIR` when set.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("the path of the test binary");
    exe.ancestors()
        .nth(3)
        .expect("the target directory above debug/deps")
        .to_owned()
}

/// A fixture crate named `name` that embeds `migrations/` and prints, one
/// line per migration, its version, name and up checksum on SQLite.
struct Fixture {
    name: &'static str,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(name: &'static str) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("cairn-embed-fixture-")
            .tempdir()
            .expect("a temporary directory");
        let workspace = workspace();
        let cairn = workspace.join("crates/cairn");
        let cairn_build = workspace.join("crates/cairn-build");
        // The profile is the workspace's, so the dependencies built for the
        // workspace's tests are reused where their features agree.
        let manifest = format!(
            r#"[package]
name = "{name}"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
cairn = {{ path = {cairn:?}, default-features = false, features = ["macros"] }}

[build-dependencies]
cairn-build = {{ path = {cairn_build:?} }}

[workspace]

[profile.dev]
debug = "line-tables-only"

[profile.dev.package."*"]
opt-level = 1
debug = false
"#,
            cairn = cairn.display().to_string(),
            cairn_build = cairn_build.display().to_string(),
        );
        let fixture = Fixture { name, dir };
        fixture.write("Cargo.toml", &manifest);
        // The workspace's lock file: the same versions, resolved offline.
        fs::copy(workspace.join("Cargo.lock"), fixture.path("Cargo.lock"))
            .expect("copy Cargo.lock");
        fixture.write(
            "build.rs",
            "fn main() {\n    cairn_build::rerun_if_migrations_change(\"migrations\");\n}\n",
        );
        fixture.write(
            "src/main.rs",
            r#"static MIGRATIONS: cairn::embed::EmbeddedMigrations = cairn::embed_migrations!("migrations");

fn main() {
    for migration in MIGRATIONS.migrations().expect("the embedded migrations assemble") {
        let checksum = migration.checksum(cairn::Engine::Sqlite).unwrap_or_default();
        println!("{} {} {}", migration.version, migration.name, &checksum[..12]);
    }
}
"#,
        );
        fixture.write(
            "migrations/0001_users/up.sql",
            "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
        );
        fixture.write("migrations/0001_users/down.sql", "DROP TABLE users;\n");
        fixture
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        fs::create_dir_all(path.parent().expect("a parent")).expect("create a folder");
        fs::write(&path, text).expect("write a fixture file");
    }

    /// `cargo build` of the fixture.
    fn build(&self) -> Output {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        Command::new(cargo)
            .args(["build", "--offline", "--quiet", "--manifest-path"])
            .arg(self.path("Cargo.toml"))
            .env("CARGO_TARGET_DIR", target_dir())
            .env_remove("CARGO_MANIFEST_DIR")
            .output()
            .expect("run cargo")
    }

    /// Builds the fixture, which must compile, and runs it: its lines.
    fn build_and_run(&self) -> Vec<String> {
        let built = self.build();
        assert!(
            built.status.success(),
            "the fixture crate did not build:\n{}",
            String::from_utf8_lossy(&built.stderr)
        );
        let binary = target_dir().join("debug").join(self.name);
        let run = Command::new(&binary).output().expect("run the fixture");
        assert!(
            run.status.success(),
            "the fixture failed:\n{}",
            String::from_utf8_lossy(&run.stderr)
        );
        String::from_utf8(run.stdout)
            .expect("UTF-8 output")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Builds the fixture, which must fail to compile: cargo's stderr.
    fn build_error(&self) -> String {
        let built = self.build();
        let stderr = String::from_utf8_lossy(&built.stderr).into_owned();
        assert!(!built.status.success(), "the fixture compiled:\n{stderr}");
        stderr
    }
}

fn names(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|line| line.split(' ').take(2).collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn added_edited_and_removed_migrations_are_seen_by_the_next_build() {
    let fixture = Fixture::new("cairn_embed_fixture_rebuild");
    let first = fixture.build_and_run();
    assert_eq!(names(&first), ["1 users"]);

    // Added: only the build script's rerun-if-changed can see this.
    fixture.write(
        "migrations/0002_orders/up.sql",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY);\n",
    );
    let added = fixture.build_and_run();
    assert_eq!(names(&added), ["1 users", "2 orders"]);

    // Edited: the checksum of migration 2 changes.
    fixture.write(
        "migrations/0002_orders/up.sql",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER);\n",
    );
    let edited = fixture.build_and_run();
    assert_eq!(names(&edited), ["1 users", "2 orders"]);
    assert_eq!(edited[0], added[0]);
    assert_ne!(edited[1], added[1], "the edit changed the embedded text");

    // Removed.
    fs::remove_dir_all(fixture.path("migrations/0002_orders")).expect("remove a migration");
    let removed = fixture.build_and_run();
    assert_eq!(removed, first);
}

#[test]
fn a_bad_migration_is_a_compile_error_naming_file_and_line() {
    let fixture = Fixture::new("cairn_embed_fixture_errors");
    fixture.write(
        "migrations/0002_bad/up.sql",
        "-- cairn:no-transaction\n-- cairn:bogus\nSELECT 1;\n",
    );
    let stderr = fixture.build_error();
    assert!(
        stderr.contains("cairn::embed_migrations!(\"migrations\")")
            && stderr.contains("migrations/0002_bad/up.sql:2: unknown directive `cairn:bogus`"),
        "the error names the macro, the file and the line:\n{stderr}"
    );

    // A layout problem (a file that would never run) is as precise.
    fs::remove_dir_all(fixture.path("migrations/0002_bad")).expect("remove");
    fixture.write(
        "migrations/0001_users/seed.sql",
        "INSERT INTO users VALUES (1);\n",
    );
    let stderr = fixture.build_error();
    assert!(
        stderr.contains("migrations/0001_users/seed.sql"),
        "the error names the file:\n{stderr}"
    );

    // A missing directory says how to fix it.
    fs::remove_dir_all(fixture.path("migrations")).expect("remove");
    let stderr = fixture.build_error();
    assert!(
        stderr.contains("migrations directory") && stderr.contains("does not exist"),
        "the error names the directory:\n{stderr}"
    );

    // And once fixed, it builds.
    fixture.write(
        "migrations/0001_users/up.sql",
        "CREATE TABLE users (id INTEGER);\n",
    );
    assert_eq!(names(&fixture.build_and_run()), ["1 users"]);

    // The argument: one string literal (raw ones too), else a usage error.
    let main = fs::read_to_string(fixture.path("src/main.rs")).expect("read main.rs");
    let call = "embed_migrations!(\"migrations\")";
    fixture.write("src/main.rs", &main.replace(call, "embed_migrations!(42)"));
    let stderr = fixture.build_error();
    assert!(
        stderr.contains("cairn::embed_migrations! takes one string literal"),
        "the usage is explained:\n{stderr}"
    );
    fixture.write(
        "src/main.rs",
        &main.replace(call, "embed_migrations!(r#\"migrations\"#)"),
    );
    assert_eq!(names(&fixture.build_and_run()), ["1 users"]);
}
