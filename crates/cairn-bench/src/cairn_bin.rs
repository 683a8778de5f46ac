//! The `cairn` binary whose processes are timed: given with `--cairn PATH`, or
//! built here with `cargo build --release -p cairn-cli`, using the Cargo that
//! runs this benchmark (`$CARGO`), so that `just bench` always times the code
//! in the tree.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{BenchError, Context as _, Result};

/// The workspace root, where `cargo build` runs.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The binary to time, as an absolute path (its processes run in the scratch
/// directory): `given` (it must exist), else a fresh release build.
pub fn locate(given: Option<&Path>) -> Result<PathBuf> {
    match given {
        Some(path) if path.is_file() => path
            .canonicalize()
            .context(|| format!("--cairn {}", path.display())),
        Some(path) => Err(BenchError::new(format!(
            "--cairn {}: no such file; build it with `cargo build --release -p cairn-cli` or leave out --cairn",
            path.display()
        ))),
        None => build(),
    }
}

/// Runs `cargo build --release -p cairn-cli` and returns the `cairn` it built.
fn build() -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "-p",
            "cairn-cli",
            "--bin",
            "cairn",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context(|| format!("running {} build", cargo.to_string_lossy()))?;
    if !output.status.success() {
        return Err(BenchError::new(format!(
            "`cargo build --release -p cairn-cli` failed ({}); see its output above",
            output.status
        )));
    }
    executable_from_messages(&String::from_utf8_lossy(&output.stdout)).ok_or_else(|| {
        BenchError::new("`cargo build --release -p cairn-cli` reported no `cairn` executable")
    })
}

/// The path of the `cairn` executable in Cargo's JSON messages, one per line.
pub fn executable_from_messages(stdout: &str) -> Option<PathBuf> {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| message["target"]["name"] == "cairn")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cairn_executable_is_found_among_cargo_messages() {
        let messages = r#"{"reason":"compiler-artifact","target":{"name":"cairn_core"},"executable":null}
not json
{"reason":"compiler-artifact","target":{"name":"cairn"},"executable":"/t/release/cairn"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            executable_from_messages(messages),
            Some(PathBuf::from("/t/release/cairn"))
        );
        assert_eq!(
            executable_from_messages(r#"{"reason":"build-finished"}"#),
            None
        );
    }
}
