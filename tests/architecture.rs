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

/// Architecture invariant: only the CLI knows about clap and the terminal.
#[test]
fn only_the_cli_depends_on_clap() {
    for package in ["cairn-core", "cairn-sqlite", "cairn-testkit"] {
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
    let mut files = Vec::new();
    for krate in [
        "cairn-core",
        "cairn-sqlite",
        "cairn-postgres",
        "cairn-mysql",
    ] {
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
