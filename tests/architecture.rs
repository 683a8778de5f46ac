//! Architecture invariants from docs/ARCHITECTURE.md, each checked here so
//! that breaking one fails the build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The normal (non-dev) dependency tree of a workspace crate, one name per line.
fn dependencies(package: &str) -> Vec<String> {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-p",
            package,
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(root())
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree -p {package} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect()
}

const DATABASE_CLIENTS: &[&str] = &[
    "rusqlite",
    "libsqlite3-sys",
    "tokio-postgres",
    "postgres",
    "mysql_async",
    "mysql",
    "sqlx",
    "sqlx-core",
    "diesel",
];

/// Architecture invariant: cairn-core depends on no database client crate.
#[test]
fn core_depends_on_no_database_client() {
    let deps = dependencies("cairn-core");
    let clients: Vec<&String> = deps
        .iter()
        .filter(|d| DATABASE_CLIENTS.contains(&d.as_str()))
        .collect();
    assert!(
        clients.is_empty(),
        "cairn-core must not depend on a database client, found {clients:?}"
    );
    assert!(
        deps.iter().any(|d| d == "sha2"),
        "cargo tree output looks wrong: {deps:?}"
    );
}

/// Every crate of the workspace under `crates/`, by package name, read from
/// each `crates/*/Cargo.toml` (so a new crate is checked without an edit here).
fn workspace_crates() -> Vec<String> {
    let mut crates: Vec<String> = std::fs::read_dir(root().join("crates"))
        .expect("crates/")
        .filter_map(|entry| {
            let manifest = entry.expect("crate dir").path().join("Cargo.toml");
            let text = std::fs::read_to_string(manifest).ok()?;
            let package = text.split("[package]").nth(1)?;
            let name = package
                .lines()
                .find_map(|line| line.trim().strip_prefix("name"))?
                .trim()
                .trim_start_matches('=')
                .trim()
                .trim_matches('"')
                .to_owned();
            Some(name)
        })
        .collect();
    crates.sort();
    assert!(
        crates.iter().any(|c| c == "cairn-core") && crates.len() >= 5,
        "crates/*/Cargo.toml read wrong: {crates:?}"
    );
    crates
}

/// The crates that are programs rather than libraries, which talk to a terminal.
const PROGRAMS: &[&str] = &["cairn-cli", "cairn-bench"];

/// Architecture invariant: only the CLI knows about clap and the terminal.
#[test]
fn only_the_cli_depends_on_clap() {
    for package in workspace_crates().iter().filter(|c| *c != "cairn-cli") {
        let deps = dependencies(package);
        for banned in ["clap", "anyhow", "indicatif"] {
            assert!(
                !deps.iter().any(|d| d == banned),
                "{package} depends on {banned}"
            );
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every module of every crate opens with a `//!` doc saying what it is for.
#[test]
fn every_module_has_a_module_doc() {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root().join("crates")).expect("crates/") {
        let src = entry.expect("crate dir").path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    assert!(files.len() > 10, "found only {files:?}");
    let missing: Vec<String> = files
        .iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).expect("readable source file");
            !text.trim_start().starts_with("//!")
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(missing.is_empty(), "modules without a //! doc: {missing:?}");
}

/// Only the CLI prints: library crates never write to stdout or stderr.
#[test]
fn libraries_do_not_print() {
    // The testkit is test support: its `Drop`s report a test database they
    // could not remove on stderr, which the test harness captures.
    // cairn-build runs in build scripts, which talk to Cargo on stdout.
    let may_print = [PROGRAMS, &["cairn-testkit", "cairn-build"]].concat();
    let mut files = Vec::new();
    let crates = workspace_crates();
    for krate in crates.iter().filter(|c| !may_print.contains(&c.as_str())) {
        let src = root().join("crates").join(krate).join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable");
        // Test modules may print; only look at the code before `#[cfg(test)]`.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for banned in ["println!", "eprintln!", "print!(", "eprint!(", "dbg!("] {
            assert!(!code.contains(banned), "{} uses {banned}", path.display());
        }
    }
}

/// The tokens that name one engine family.
const ENGINE_BRANCH: &[&str] = &["Engine::Postgres", "Engine::Mysql", "Engine::Sqlite"];

/// How strictly a crate's code is scanned for engine knowledge.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scan {
    /// Any mention of an engine family (cairn-core outside `dialect/`, the
    /// CLI, the facade): they ask the connection's `Dialect` and never need
    /// to name an engine.
    Mentions,
    /// Branches only: a `match` arm, an or-pattern, a comparison, `matches!`
    /// or `if let` on an engine family (the drivers, the testkit, the bench
    /// and any new crate). Naming an engine as data (`engine: Engine::Mysql`,
    /// `.on(Engine::Mysql, sql)`, a table of per-engine settings) is allowed:
    /// a driver crate is one engine, and test fixtures hold per-engine SQL as
    /// overrides of one default, found by lookup rather than by branching.
    Branches,
}

/// Files that still branch on an engine, because another stream owns them
/// and moves their branches into the dialect or into data. The lead empties
/// this list as those streams merge; each file listed must still have a
/// branch (checked below), so the list cannot go stale.
const NOT_YET_MOVED: &[&str] = &[];

/// Whether a line of code branches on an engine family.
fn is_branch(line: &str) -> bool {
    ENGINE_BRANCH.iter().any(|token| {
        line.match_indices(token).any(|(at, _)| {
            let before = line[..at].trim_end();
            let after = line[at + token.len()..].trim_start();
            after.starts_with("=>")
                || after.starts_with('|')
                || after.starts_with("==")
                || after.starts_with("!=")
                || before.ends_with('|')
                || before.ends_with("==")
                || before.ends_with("!=")
                || before.ends_with("if let")
                || before.contains("matches!(")
        })
    })
}

/// Where engine knowledge occurs in the code of `path` (`line: text`), as
/// `scan` defines it, test code excluded: what follows the first
/// `#[cfg(test)]`, and files that are test modules themselves (`tests.rs`).
fn engine_branches(path: &Path, scan: Scan) -> Vec<String> {
    if path.file_name().is_some_and(|name| name == "tests.rs") {
        return Vec::new();
    }
    let text = std::fs::read_to_string(path).expect("readable source file");
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines()
        .enumerate()
        .filter(|(_, line)| {
            let line = line.trim_start();
            !line.starts_with("//")
                && match scan {
                    Scan::Mentions => ENGINE_BRANCH.iter().any(|token| line.contains(token)),
                    Scan::Branches => is_branch(line),
                }
        })
        .map(|(index, line)| format!("{}: {}", index + 1, line.trim()))
        .collect()
}

/// Architecture invariant: engine knowledge lives in the dialect. No code of
/// cairn-core outside `src/dialect/`, of the CLI or of the `cairn` facade
/// names an engine family; no code of any other crate of the workspace (the
/// drivers, the testkit, the bench, new crates) branches on one.
#[test]
fn no_engine_branch_outside_dialect() {
    let dialect = root().join("crates/cairn-core/src/dialect");
    let mut files = Vec::new();
    for krate in std::fs::read_dir(root().join("crates")).expect("crates/") {
        let krate = krate.expect("crate dir").path();
        let src = krate.join("src");
        if !src.is_dir() {
            continue;
        }
        let name = krate
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        let scan = if ["cairn-core", "cairn-cli", "cairn"].contains(&name.as_str()) {
            Scan::Mentions
        } else {
            Scan::Branches
        };
        let mut here = Vec::new();
        rust_files(&src, &mut here);
        files.extend(here.into_iter().map(|path| (path, scan)));
    }
    files.retain(|(path, _)| !path.starts_with(&dialect));
    for (krate, scan) in [
        ("cairn-core", Scan::Mentions),
        ("cairn-testkit", Scan::Branches),
        ("cairn-bench", Scan::Branches),
    ] {
        let prefix = root().join("crates").join(krate);
        assert!(
            files
                .iter()
                .any(|(p, s)| p.starts_with(&prefix) && *s == scan),
            "the scan missed {krate}: {files:?}"
        );
    }
    let relative = |path: &Path| {
        path.strip_prefix(root())
            .expect("under the root")
            .to_string_lossy()
            .replace('\\', "/")
    };
    let mut found = Vec::new();
    let mut still_branching = Vec::new();
    for (path, scan) in &files {
        let name = relative(path);
        let branches = engine_branches(path, *scan);
        if NOT_YET_MOVED.contains(&name.as_str()) {
            if !branches.is_empty() {
                still_branching.push(name);
            }
            continue;
        }
        found.extend(branches.into_iter().map(|b| format!("{name}:{b}")));
    }
    assert!(
        found.is_empty(),
        "engine branches outside crates/cairn-core/src/dialect/ (move each into the \
         dialect: a `Bookkeeping`/`Schema` method, or data such as `SplitRules`; in test \
         and bench fixtures, a per-engine override of one default):\n{}",
        found.join("\n")
    );
    let stale: Vec<&&str> = NOT_YET_MOVED
        .iter()
        .filter(|name| !still_branching.iter().any(|s| s == **name))
        .collect();
    assert!(
        stale.is_empty(),
        "NOT_YET_MOVED lists files without an engine branch (or missing): remove them from the list: {stale:?}"
    );
}

/// The scan sees a branch where there is one, and none in test code.
#[test]
fn the_engine_branch_scan_finds_branches_and_skips_tests() {
    let dir = std::env::temp_dir().join(format!("cairn-arch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let code = dir.join("code.rs");
    std::fs::write(
        &code,
        "//! doc\nfn f(e: Engine) -> bool {\n    e == Engine::Mysql\n}\n// Engine::Sqlite in a comment\nconst D: Engine = Engine::Sqlite;\n#[cfg(test)]\nmod tests { const E: Engine = Engine::Postgres; }\n",
    )
    .expect("write");
    assert_eq!(
        engine_branches(&code, Scan::Mentions),
        [
            "3: e == Engine::Mysql",
            "6: const D: Engine = Engine::Sqlite;"
        ]
    );
    assert_eq!(
        engine_branches(&code, Scan::Branches),
        ["3: e == Engine::Mysql"]
    );
    let tests = dir.join("tests.rs");
    std::fs::write(&tests, "const E: Engine = Engine::Sqlite;\n").expect("write");
    assert!(engine_branches(&tests, Scan::Mentions).is_empty());
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// What the branch rule counts as a branch, and what it leaves as data.
#[test]
fn the_branch_rule_tells_branches_from_data() {
    for branch in [
        "Engine::Postgres => \"x\",",
        "Engine::Mysql | Engine::Sqlite => 1,",
        "_ | Engine::Sqlite => 1,",
        "if engine == Engine::Mysql {",
        "if Engine::Sqlite != engine {",
        "matches!(engine, Engine::Mysql)",
        "if let Engine::Postgres = engine {",
    ] {
        assert!(is_branch(branch), "{branch}");
    }
    for data in [
        "engine: Engine::Mysql,",
        ".on(Engine::Mysql, \"SELECT 1\")",
        "admin_url(Engine::Postgres).await",
        "Server::Mariadb => Engine::Mysql,",
    ] {
        assert!(!is_branch(data), "{data}");
    }
}

/// API boundary: the CLI links the `cairn` facade and no other workspace
/// crate (core and the drivers come through the facade; dev-dependencies
/// such as the testkit are not counted).
#[test]
fn the_cli_depends_only_on_the_facade() {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--offline",
            "--format-version",
            "1",
            "--no-deps",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    let workspace: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    assert!(
        workspace.contains(&"cairn") && workspace.contains(&"cairn-core"),
        "cargo metadata output looks wrong: {workspace:?}"
    );
    let cli = packages
        .iter()
        .find(|p| p["name"] == "cairn-cli")
        .expect("cairn-cli is a workspace member");
    let deps = cli["dependencies"].as_array().expect("dependencies");
    assert!(
        deps.iter().any(|d| d["name"] == "clap"),
        "cargo metadata output looks wrong: {deps:?}"
    );
    // `kind` is null for normal dependencies, "dev" or "build" otherwise.
    let linked: Vec<&str> = deps
        .iter()
        .filter(|d| d["kind"].is_null())
        .filter_map(|d| d["name"].as_str())
        .filter(|name| workspace.contains(name))
        .collect();
    assert_eq!(
        linked,
        ["cairn"],
        "cairn-cli's normal dependencies on workspace crates must be the `cairn` facade only: reach core and the drivers through it"
    );
}

/// The workspace crates among `package`'s normal dependencies, from `cargo metadata`.
fn workspace_dependencies(package: &str) -> Vec<String> {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--offline",
            "--format-version",
            "1",
            "--no-deps",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata failed");
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    let workspace: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let found = packages
        .iter()
        .find(|p| p["name"] == package)
        .unwrap_or_else(|| panic!("{package} is not a workspace member: {workspace:?}"));
    found["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .filter(|d| d["kind"].is_null())
        .filter_map(|d| d["name"].as_str())
        .filter(|name| workspace.contains(name))
        .map(str::to_owned)
        .collect()
}

/// Architecture invariant: sqlx is a database client of cairn-sqlx only,
/// and cairn-sqlx is written against the `cairn` facade, as an outside
/// adopter would write it (no engine driver, no core internals).
#[test]
fn sqlx_only_in_cairn_sqlx_and_cairn_sqlx_only_on_the_facade() {
    for package in workspace_crates().iter().filter(|c| *c != "cairn-sqlx") {
        let deps = dependencies(package);
        for sqlx in ["sqlx", "sqlx-core"] {
            assert!(
                !deps.iter().any(|d| d == sqlx),
                "{package} depends on {sqlx}: only cairn-sqlx may"
            );
        }
    }
    let deps = dependencies("cairn-sqlx");
    assert!(
        deps.iter().any(|d| d == "sqlx"),
        "cargo tree output looks wrong: {deps:?}"
    );
    for banned in ["rusqlite", "tokio-postgres", "mysql_async"] {
        assert!(
            !deps.iter().any(|d| d == banned),
            "cairn-sqlx depends on {banned}: it runs everything through sqlx"
        );
    }
    assert_eq!(
        workspace_dependencies("cairn-sqlx"),
        ["cairn"],
        "cairn-sqlx's normal dependencies on workspace crates must be the `cairn` facade only: add what it needs from core to the facade"
    );
}

/// One version of each database client in the lock file: two
/// `libsqlite3-sys` (rusqlite's and sqlx's) would not even link.
#[test]
fn one_version_of_each_database_client() {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).expect("Cargo.lock");
    for client in DATABASE_CLIENTS {
        let versions = lock
            .matches(&format!("[[package]]\nname = \"{client}\"\n"))
            .count();
        assert!(
            versions <= 1,
            "Cargo.lock holds {versions} versions of {client}: keep one (cargo tree -i {client})"
        );
    }
    assert!(
        lock.contains("[[package]]\nname = \"libsqlite3-sys\"\n"),
        "Cargo.lock read wrong"
    );
}

/// Publishing: every crate that is published carries what crates.io and
/// docs.rs show (docs/cli.md, "Publishing the crates"), and the `just package`
/// recipe names each of them, so a new crate is neither unpublishable nor
/// forgotten.
#[test]
fn every_published_crate_has_its_package_metadata() {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--offline",
            "--format-version",
            "1",
            "--no-deps",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let justfile = std::fs::read_to_string(root().join("justfile")).expect("justfile");
    let publishable = justfile
        .lines()
        .find(|l| l.starts_with("publishable :="))
        .expect("the `publishable` list in the justfile");
    let mut published = Vec::new();
    for package in metadata["packages"].as_array().expect("packages") {
        let name = package["name"].as_str().expect("name");
        // `publish = false` is an empty list of registries.
        if package["publish"].as_array().is_some_and(Vec::is_empty) {
            assert!(
                !publishable.contains(&format!("-p {name} "))
                    && !publishable.ends_with(&format!("-p {name}\"")),
                "{name} has publish = false but the justfile packages it"
            );
            continue;
        }
        published.push(name.to_owned());
        for field in [
            "description",
            "license",
            "repository",
            "readme",
            "rust_version",
        ] {
            assert!(
                package[field].as_str().is_some_and(|v| !v.is_empty()),
                "{name}: `{field}` is missing from [package] (inherit it: `{}.workspace = true`)",
                field.replace('_', "-")
            );
        }
        for field in ["keywords", "categories"] {
            assert!(
                package[field].as_array().is_some_and(|v| !v.is_empty()),
                "{name}: `{field}` is missing from [package] (`{field}.workspace = true`)"
            );
        }
        assert!(
            publishable.contains(&format!("-p {name} "))
                || publishable.ends_with(&format!("-p {name}\"")),
            "{name} is published but `publishable` in the justfile does not name it"
        );
    }
    assert!(
        published.contains(&"cairn".to_owned()) && published.len() >= 7,
        "{published:?}"
    );
}
