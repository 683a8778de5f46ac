//! `cairn new`: a new migration in the layout of the migrations already in
//! the directory (Cairn folders in an empty one), from templates whose
//! comments say what to write.
//!
//! The layout grammar is core's ([`source::survey`], [`source::NewShape::files`]):
//! the names written here are the names `cairn::source::read_dir` reads.

use anyhow::{bail, Context as _};
use cairn::clock::UtcTime;
use cairn::source::{self, NewScript};
use cairn::Version;
use serde_json::json;

use crate::args::{Format, NewArgs};
use crate::commands::{print, Outcome};
use crate::config::Config;
use crate::output::{self, Style};

/// Creates the migration `args` names in `config.migrations_dir`.
pub fn new(config: &Config, args: &NewArgs) -> anyhow::Result<Outcome> {
    let name = normalise_name(&args.name)?;
    let dir = &config.migrations_dir;
    if !dir.is_dir() {
        bail!(
            "migrations directory `{}` does not exist: create it with `cairn init`, or point --dir at your migrations",
            dir.display()
        );
    }
    // Liquibase: a changeset appended to the last changelog.
    if let Some((changelog, position)) = source::liquibase_changelog(dir)
        .with_context(|| format!("cannot read the migrations in `{}`", dir.display()))?
    {
        return append_changeset(config, &changelog, position, &name);
    }
    // From entry names (and dbmate's marker lines) only: a new, still empty
    // migration must not stop the next `cairn new`.
    let survey = source::survey(dir)
        .with_context(|| format!("cannot read the migrations in `{}`", dir.display()))?;
    let versions = &survey.versions;
    let version = if args.sequential {
        // After the largest integer part: a Flyway project at 1.1 gets 2.
        match versions.iter().filter(|v| !v.is_repeatable()).max() {
            None => Version::from(1),
            Some(max) => max.major().checked_add(1).map(Version::from).with_context(|| {
                format!(
                    "cannot number a new migration after version {max} in `{}`: it is the largest version there is ({}); renumber the migrations, or create this one without --sequential if a timestamp still sorts after them",
                    dir.display(),
                    i64::MAX
                )
            })?,
        }
    } else {
        // diesel ≥ 2.2 folders add a subversion to the timestamp.
        let mut stamp: i64 = format!(
            "{}{}",
            UtcTime::now().version_stamp(),
            survey.shape.stamp_suffix()
        )
        .parse()
        .context("the clock gave a bad timestamp")?;
        // Two `cairn new` within one second: take the next free second.
        while versions.contains(&Version::from(stamp)) {
            stamp = stamp.checked_add(1).context(
                "no free version after the current timestamp: every later version is taken",
            )?;
        }
        Version::from(stamp)
    };

    let made = survey.shape.files(version, &name);
    if let Some(folder) = &made.folder {
        let folder = dir.join(folder);
        std::fs::create_dir(&folder)
            .with_context(|| format!("cannot create `{}`", folder.display()))?;
    }
    let up_file = made
        .files
        .iter()
        .find(|(_, script)| *script != NewScript::Down)
        .and_then(|(path, _)| path.file_name())
        .map_or_else(String::new, |file| file.to_string_lossy().into_owned());
    let mut written = Vec::new();
    for (file, script) in &made.files {
        let path = dir.join(file);
        let text = template(*script, version, &name, &up_file);
        // `create_new`: never overwrite a file someone already wrote.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        written.push(path);
    }

    // A folder layout is shown as its folder; a flat one as its files.
    let shown: Vec<_> = match &made.folder {
        Some(folder) => vec![dir.join(folder)],
        None => written.clone(),
    };
    if config.format == Format::Json {
        print(&output::json_string(&json!({
            "version": version,
            "name": name,
            "layout": survey.shape.layout().as_str(),
            "path": shown[0].display().to_string(),
            "files": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        })));
    } else {
        let created = Style::new(config.color).green("created");
        let lines: String = shown
            .iter()
            .map(|path| format!("{created} {}\n", path.display()))
            .collect();
        print(&lines);
    }
    Ok(Outcome::Success)
}

/// Versions per Liquibase changelog file (`<file> × 100000 + <changeset>`,
/// see `cairn::tools::liquibase`).
const LIQUIBASE_FILE: i64 = 100_000;

/// `cairn new` in a Liquibase formatted-SQL directory: appends `--changeset
/// <author>:<name>` to the last changelog (the file at `position` among the
/// directory's changelogs), which is what Liquibase users do and changes no
/// existing version, where a new file could sort before an existing one and
/// renumber it. The author is the user (`$USER`), else `cairn`.
fn append_changeset(
    config: &Config,
    changelog: &std::path::Path,
    position: usize,
    name: &str,
) -> anyhow::Result<Outcome> {
    let text = std::fs::read_to_string(changelog)
        .with_context(|| format!("cannot read `{}`", changelog.display()))?;
    let author: String = ["USER", "USERNAME"]
        .iter()
        .find_map(|key| std::env::var(key).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "cairn".to_owned())
        .trim()
        .chars()
        .map(|c| {
            if c.is_whitespace() || c == ':' {
                '_'
            } else {
                c
            }
        })
        .collect();
    let headers: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter_map(|(index, line)| {
            let rest = line.trim_start().strip_prefix("--")?.trim_start();
            let lower = rest.get(..9)?.to_ascii_lowercase();
            (lower == "changeset").then(|| (index + 1, rest[9..].trim()))
        })
        .collect();
    let id = format!("{author}:{name}");
    if let Some((line, _)) = headers
        .iter()
        .find(|(_, header)| header.split_whitespace().next() == Some(id.as_str()))
    {
        bail!(
            "changeset `{id}` is already in `{}` (line {line}): Liquibase identifies a changeset by author and id, so choose another name",
            changelog.display()
        );
    }
    let file = i64::try_from(position).unwrap_or(i64::MAX);
    let count = i64::try_from(headers.len()).unwrap_or(i64::MAX);
    let version = file
        .checked_mul(LIQUIBASE_FILE)
        .and_then(|base| base.checked_add(count + 1))
        .filter(|_| count + 1 < LIQUIBASE_FILE)
        .map(Version::from)
        .with_context(|| {
            format!(
                "`{}` holds {count} changesets, the most one changelog file numbers: start a new changelog file after it",
                changelog.display()
            )
        })?;
    // No blank line before the header: it would end the previous changeset's
    // body, and so change its checksum.
    let separator = if text.is_empty() || text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    let changeset = format!(
        "{separator}--changeset {id}\n-- {version} {name}: the SQL of this changeset; end each statement with `;`.\n-- Attributes go on the line above (`runInTransaction:false`, `dbms:postgresql`);\n-- undo it with `--rollback <SQL>` lines after the statements.\n-- Until a statement follows, `cairn validate` and `cairn up` refuse it as\n-- an empty changeset.\n"
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(changelog)
        .and_then(|mut f| std::io::Write::write_all(&mut f, changeset.as_bytes()))
        .with_context(|| format!("cannot append to `{}`", changelog.display()))?;
    if config.format == Format::Json {
        print(&output::json_string(&json!({
            "version": version,
            "name": name,
            "layout": "liquibase",
            "changeset": id,
            "path": changelog.display().to_string(),
            "files": [changelog.display().to_string()],
        })));
    } else {
        let appended = Style::new(config.color).green("appended");
        print(&format!(
            "{appended} changeset {id} (version {version}) to {}\n",
            changelog.display()
        ));
    }
    Ok(Outcome::Success)
}

/// The header comment of an up script: what to write, and that a script of
/// comments only is refused until a statement is written.
fn up_header(version: Version, name: &str) -> String {
    format!(
        "-- {version} {name}: up\n--\n-- The SQL that applies this migration; end each statement with `;`.\n-- Directives go in this header, for example `-- cairn:no-transaction`.\n-- Until a statement follows, `cairn validate` and `cairn up` refuse this\n-- migration as an empty up script.\n\n"
    )
}

/// The text of a new file; `up_file` is the name of the up script, which a
/// down script refers to.
fn template(script: NewScript, version: Version, name: &str, up_file: &str) -> String {
    match script {
        NewScript::Up => up_header(version, name),
        NewScript::Down => format!(
            "-- {version} {name}: down\n--\n-- The SQL that undoes {up_file}, in reverse order. If it cannot be undone,\n-- delete this file and add the directive `-- cairn:irreversible` to {up_file}.\n-- With comments only, rolling back changes nothing.\n\n"
        ),
        NewScript::UpAndDown => format!(
            "-- migrate:up\n{}-- migrate:down\n-- {version} {name}: down\n--\n-- The SQL that undoes the up section, in reverse order. If it cannot be undone,\n-- delete this section with its marker line and add the directive\n-- `-- cairn:irreversible` to the up section.\n-- With comments only, rolling back changes nothing.\n\n",
            up_header(version, name)
        ),
    }
}

/// A migration name as a file name: lowercase, `_` for spaces and dashes.
fn normalise_name(raw: &str) -> anyhow::Result<String> {
    let name: String = raw
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect();
    let valid = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if name.is_empty() || !valid || !name.chars().any(|c| c.is_ascii_alphanumeric()) {
        bail!("invalid migration name `{raw}`: use letters, digits and underscores (spaces and dashes become `_`), such as `add_users_table`");
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn::source::NewShape;

    /// The shapes a test of the templates goes through.
    const SHAPES: [NewShape; 8] = [
        NewShape::CairnFolder,
        NewShape::DieselFolder,
        NewShape::SqlxPair,
        NewShape::SqlxUpOnly,
        NewShape::Flyway,
        NewShape::Dbmate,
        NewShape::PrismaFolder,
        NewShape::DieselSubversionFolder,
    ];

    #[test]
    fn names_are_normalised_or_rejected() {
        assert_eq!(
            normalise_name("Add users-Table").unwrap(),
            "add_users_table"
        );
        assert_eq!(normalise_name(" v2 ").unwrap(), "v2");
        for bad in ["", "  ", "___", "drop;table", "naïve", "a/b"] {
            let err = normalise_name(bad).unwrap_err().to_string();
            assert!(err.contains("invalid migration name"), "{bad}: {err}");
        }
    }

    /// Every template, written out in its shape, reads back as that layout;
    /// its up script is refused as empty, with the file named, until it holds
    /// a statement, and then the migration reads with an empty down script.
    #[test]
    fn templates_read_back_in_their_layout() {
        for shape in SHAPES {
            let dir = tempfile::tempdir().unwrap();
            let made = shape.files(cairn::Version::from(20260131120000), "add_users");
            if let Some(folder) = &made.folder {
                std::fs::create_dir(dir.path().join(folder)).unwrap();
            }
            let up_file = made.files[0]
                .0
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            for (file, script) in &made.files {
                let text = template(
                    *script,
                    cairn::Version::from(20260131120000),
                    "add_users",
                    &up_file,
                );
                std::fs::write(dir.path().join(file), text).unwrap();
            }
            if shape.layout() == cairn::migration::Layout::Sqlx {
                // sqlx and golang-migrate apply an empty file, and so does
                // Cairn in their layout (docs/layouts.md).
                let migrations = source::read_dir(dir.path()).expect("an empty sqlx script");
                assert_eq!(migrations.len(), 1, "{shape:?}");
            } else {
                let error = source::read_dir(dir.path()).expect_err("an empty up script");
                let message = error.to_string();
                assert!(
                    message.contains("the up script is empty"),
                    "{shape:?}: {message}"
                );
                assert!(
                    message.contains(&dir.path().join(&made.files[0].0).display().to_string()),
                    "{shape:?}: {message}"
                );
            }

            let (up, script) = &made.files[0];
            let path = dir.path().join(up);
            let text = std::fs::read_to_string(&path).unwrap();
            let text = match script {
                NewScript::UpAndDown => text.replacen(
                    "-- migrate:down",
                    "CREATE TABLE users (id INT);\n\n-- migrate:down",
                    1,
                ),
                _ => format!("{text}CREATE TABLE users (id INT);\n"),
            };
            std::fs::write(&path, text).unwrap();
            let migrations =
                source::read_dir(dir.path()).unwrap_or_else(|e| panic!("{shape:?}: {e}"));
            assert_eq!(migrations.len(), 1, "{shape:?}");
            let migration = &migrations[0];
            assert_eq!(migration.layout, shape.layout(), "{shape:?}");
            assert_eq!(migration.version, 20260131120000, "{shape:?}");
            let down = migration.down.plain.as_ref();
            match shape {
                NewShape::SqlxUpOnly => assert!(down.is_none(), "{shape:?}"),
                _ => assert!(down.is_some(), "{shape:?} has a down script"),
            }
        }
    }
}
