//! Generated migrations directories and the scratch space they live in.
//!
//! Scratch space is under the Cargo target directory, not the system temp
//! directory: `/tmp` is a tmpfs on many machines, and a benchmark of a tool
//! that fsyncs on every commit must run on the disk users have.

use std::fs;
use std::path::{Path, PathBuf};

use cairn::Engine;

use crate::error::{Context as _, Result};

/// `default`, or the override listed for `engine`: per-engine fixture text is
/// data found by lookup, so that no code outside the dialect branches on an
/// engine (tests/architecture.rs).
pub fn per_engine<T: Copy>(engine: Engine, default: T, overrides: &[(Engine, T)]) -> T {
    overrides
        .iter()
        .find(|(which, _)| *which == engine)
        .map_or(default, |(_, value)| *value)
}

/// The up script of generated migration `n`: a table and an index.
pub fn up_sql(n: usize) -> String {
    format!("CREATE TABLE t{n} (id INTEGER PRIMARY KEY, a INTEGER, b TEXT);\nCREATE INDEX t{n}_a ON t{n} (a);\n")
}

/// The up script of generated migration `n` on PostgreSQL and MariaDB: the
/// same table and index, with a `VARCHAR` column (MySQL cannot index `TEXT`
/// without a prefix length, so the servers share this form).
pub fn server_up_sql(n: usize) -> String {
    format!("CREATE TABLE t{n} (id INTEGER PRIMARY KEY, a INTEGER, b VARCHAR(100));\nCREATE INDEX t{n}_a ON t{n} (a);\n")
}

/// The down script of generated migration `n`.
pub fn down_sql(n: usize) -> String {
    format!("DROP TABLE t{n};\n")
}

/// Writes migrations `1..=count` into `dir` in Cairn's folder layout:
/// `<n>_t<n>/up.sql` and `<n>_t<n>/down.sql`.
pub fn write_migrations(dir: &Path, count: usize) -> Result<()> {
    write_migrations_with(dir, count, up_sql)
}

/// [`write_migrations`] with the up scripts of `up`.
pub fn write_migrations_with(dir: &Path, count: usize, up: fn(usize) -> String) -> Result<()> {
    for n in 1..=count {
        let folder = dir.join(format!("{n}_t{n}"));
        fs::create_dir_all(&folder).context(|| format!("creating {}", folder.display()))?;
        for (file, text) in [("up.sql", up(n)), ("down.sql", down_sql(n))] {
            let path = folder.join(file);
            fs::write(&path, text).context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}

/// A fresh directory for one run's files, removed when dropped: under
/// `<target>/cairn-bench/`, where `<target>` is the Cargo target directory
/// this binary was built into.
pub fn scratch_dir() -> Result<tempfile::TempDir> {
    let exe = std::env::current_exe().context(|| "locating the benchmark binary".to_owned())?;
    // <target>/<profile>/cairn-bench
    let target = exe
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf);
    let base = target.join("cairn-bench");
    fs::create_dir_all(&base).context(|| format!("creating {}", base.display()))?;
    tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(&base)
        .context(|| format!("creating a scratch directory in {}", base.display()))
}

/// The file system type of the mount holding `path`, from the text of
/// `/proc/mounts` (`device mountpoint type options ...` per line).
pub fn filesystem_of<'m>(path: &Path, mounts: &'m str) -> Option<&'m str> {
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let _device = fields.next()?;
            let mount_point = fields.next()?;
            let kind = fields.next()?;
            path.starts_with(mount_point)
                .then_some((mount_point.len(), kind))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, kind)| kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_migrations_read_back_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        write_migrations(dir.path(), 12).expect("writes");
        let migrations = cairn::source::read_dir(dir.path()).expect("reads");
        let versions: Vec<i64> = migrations.iter().map(|m| m.version.key()).collect();
        assert_eq!(versions, (1..=12).collect::<Vec<i64>>());
        assert_eq!(migrations[11].name, "t12");
    }

    #[test]
    fn filesystem_is_the_longest_matching_mount() {
        let mounts = "/dev/vda / ext4 rw 0 0\n\
                      tmpfs /tmp tmpfs rw 0 0\n\
                      tmpfs /tmpx tmpfs rw 0 0\n";
        for (path, kind) in [
            ("/work/target/x", Some("ext4")),
            ("/tmp/x", Some("tmpfs")),
            ("/tmpfoo/x", Some("ext4")),
        ] {
            assert_eq!(filesystem_of(Path::new(path), mounts), kind, "{path}");
        }
        assert_eq!(filesystem_of(Path::new("/x"), ""), None);
    }
}
