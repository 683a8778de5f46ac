//! The layout grammar: what the name of an entry of a migrations directory
//! says, and the names a new migration gets in each layout.
//!
//! Pure functions on names (and, for dbmate, on a file's text): nothing here
//! touches the file system, so the listing ([`super::list`]) and an embed macro
//! working from `include_str!` contents read names the same way.

use std::path::PathBuf;

use crate::engine::Engine;
use crate::migration::{Direction, Layout, Version};

/// The names accepted at the top level, for hints.
pub(super) const ACCEPTED: &str = "expected a migration folder `<version>_<name>/` (cairn) or \
`YYYY-MM-DD-HHMMSS[-XXXX]_<name>/` (diesel), or a file `<version>_<name>.up.sql` and \
`.down.sql` (sqlx, golang-migrate), `<version>_<name>.sql` (dbmate, sqlx), or \
`V<version>__<name>.sql` and `U<version>__<name>.sql` (flyway, refinery), and repeatable \
`R__<name>.sql` beside any of them; hidden files, README and *.md files, cairn.toml and \
flyway callbacks are ignored";

/// Hint for a version that is not a positive integer.
const POSITIVE: &str = "versions are positive integers (1 to 9223372036854775807)";

/// The engines' file-name spellings, for hints: `postgres, mysql, sqlite`.
fn engine_names() -> String {
    Engine::ALL
        .iter()
        .map(|engine| engine.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The names accepted inside a migration folder, for hints.
pub(super) fn folder_files() -> String {
    format!(
        "a migration folder holds `up.sql`, `down.sql`, `up.<engine>.sql` and \
         `down.<engine>.sql` with engine one of {}; any other `.sql` file would never run: \
         rename or move it",
        engine_names()
    )
}

/// Whether a top-level entry is not a migration and is skipped.
pub(super) fn is_ignored(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.starts_with('.')
        || lower.starts_with("readme")
        || lower.ends_with(".md")
        || name == "cairn.toml"
        || crate::tools::flyway::is_callback(name)
        || name == crate::tools::prisma::LOCK_FILE
}

/// What a top-level name says, before any file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameKind {
    CairnFolder,
    DieselFolder,
    SqlxUp,
    SqlxDown,
    /// `<version>_<name>.sql`: dbmate or up-only sqlx, depending on its text.
    PlainSql,
    FlywayUp,
    FlywayUndo,
    /// `R__<name>.sql`: a repeatable migration, accepted beside every layout.
    Repeatable,
}

impl NameKind {
    /// The layout of an entry of this kind; `text` is only looked at for
    /// [`NameKind::PlainSql`], which is dbmate if it has a marker line.
    pub(super) fn layout(self, text: &str) -> Layout {
        match self {
            NameKind::CairnFolder => Layout::Cairn,
            NameKind::DieselFolder => Layout::Diesel,
            NameKind::SqlxUp | NameKind::SqlxDown => Layout::Sqlx,
            NameKind::FlywayUp | NameKind::FlywayUndo | NameKind::Repeatable => Layout::Flyway,
            NameKind::PlainSql if crate::tools::dbmate::has_marker(text) => Layout::Dbmate,
            NameKind::PlainSql => Layout::Sqlx,
        }
    }

    /// Whether the entry is a folder of scripts rather than a script.
    pub(super) fn is_folder(self) -> bool {
        matches!(self, NameKind::CairnFolder | NameKind::DieselFolder)
    }
}

/// A top-level name, understood.
#[derive(Debug)]
pub(super) struct ParsedName {
    pub(super) kind: NameKind,
    pub(super) version: Version,
    pub(super) name: String,
}

/// Parses a top-level name; the error is the hint for
/// [`Error::UnrecognisedName`](crate::error::Error::UnrecognisedName).
pub(super) fn parse_name(name: &str, is_dir: bool) -> Result<ParsedName, String> {
    let parsed = |kind, version, rest: &str| ParsedName {
        kind,
        version,
        name: rest.to_owned(),
    };
    if name.starts_with('-') && name[1..].starts_with(|c: char| c.is_ascii_digit()) {
        return Err(POSITIVE.to_owned());
    }
    if is_dir {
        if let Some(folder) = crate::tools::diesel::folder(name) {
            let (version, rest) = folder?;
            return non_empty(rest).map(|rest| parsed(NameKind::DieselFolder, version, rest));
        }
        return match split_version(name) {
            Some((digits, rest)) => {
                let version = parse_version(digits, name)?;
                non_empty(rest).map(|rest| parsed(NameKind::CairnFolder, version, rest))
            }
            None => Err(ACCEPTED.to_owned()),
        };
    }

    let Some(stem) = name.strip_suffix(".sql") else {
        if name.to_ascii_lowercase().ends_with(".sql") {
            return Err(format!(
                "write the extension in lowercase (`.sql`); {ACCEPTED}"
            ));
        }
        return Err(ACCEPTED.to_owned());
    };
    if matches!(stem, "up" | "down") || stem.starts_with("up.") || stem.starts_with("down.") {
        return Err(folder_file_hint());
    }
    // Flyway's grammar (refinery's too) lives with the tool.
    if let Some(flyway) = crate::tools::flyway::parse(stem) {
        use crate::tools::flyway::Kind;
        let flyway = flyway.map_err(|hint| format!("{hint}; {ACCEPTED}"))?;
        let kind = match flyway.kind {
            Kind::Versioned => NameKind::FlywayUp,
            Kind::Undo => NameKind::FlywayUndo,
            Kind::Repeatable => NameKind::Repeatable,
        };
        return Ok(parsed(kind, flyway.version, &flyway.description));
    }
    match split_version(stem) {
        Some((digits, rest)) => {
            let version = parse_version(digits, name)?;
            let (kind, rest) = crate::tools::sqlx::file_kind(rest);
            non_empty(rest).map(|rest| parsed(kind, version, rest))
        }
        None => Err(ACCEPTED.to_owned()),
    }
}

/// Hint for `up.sql` and the like at the top level.
fn folder_file_hint() -> String {
    format!(
        "this looks like a file of a migration folder: point --dir at the directory that \
         holds the migration folders, or move it into one; {ACCEPTED}"
    )
}

/// `<digits>_<rest>` → (digits, rest).
fn split_version(name: &str) -> Option<(&str, &str)> {
    let end = name.find(|c: char| !c.is_ascii_digit())?;
    if end == 0 {
        return None;
    }
    let (digits, rest) = name.split_at(end);
    rest.strip_prefix('_').map(|rest| (digits, rest))
}

fn non_empty(name: &str) -> Result<&str, String> {
    if name.is_empty() {
        Err(format!("the name after the version is missing; {ACCEPTED}"))
    } else {
        Ok(name)
    }
}

pub(crate) fn parse_version(digits: &str, _name: &str) -> Result<Version, String> {
    match digits.parse::<i64>() {
        Ok(0) => Err(format!("version 0 is not allowed: {POSITIVE}")),
        Ok(version) => Ok(Version::from(version)),
        Err(_) => Err(format!("version `{digits}` is too large: {POSITIVE}")),
    }
}

/// `up.sql` → (up, None); `down.mysql.sql` → (down, Some(mysql)); else the hint.
pub(super) fn script_name(name: &str) -> Result<(Direction, Option<Engine>), String> {
    let Some(stem) = name.strip_suffix(".sql") else {
        return Err(format!(
            "write the extension in lowercase (`.sql`); {}",
            folder_files()
        ));
    };
    let (direction, engine) = match stem.split_once('.') {
        Some((direction, engine)) => (direction, Some(engine)),
        None => (stem, None),
    };
    let direction = match direction {
        "up" => Direction::Up,
        "down" => Direction::Down,
        _ => return Err(folder_files()),
    };
    let Some(engine) = engine else {
        return Ok((direction, None));
    };
    match engine.parse::<Engine>() {
        Ok(parsed) if parsed.as_str() == engine => Ok((direction, Some(parsed))),
        Ok(parsed) => Err(format!(
            "write the engine's canonical name in file names: `{}.{parsed}.sql`",
            direction.as_str()
        )),
        Err(_) => Err(format!(
            "unknown engine `{engine}`: engines are {}; {}",
            engine_names(),
            folder_files()
        )),
    }
}

/// Cairn and diesel folders are compatible; every other layout stands alone.
pub(super) fn family(layout: Layout) -> Layout {
    match layout {
        Layout::Diesel => Layout::Cairn,
        other => other,
    }
}

/// The shape of a new migration (`cairn new`), following the layout of the
/// migrations already in a directory ([`survey`](super::survey)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NewShape {
    /// `<version>_<name>/up.sql` and `down.sql`: Cairn's own, and the shape of
    /// an empty directory.
    CairnFolder,
    /// `YYYY-MM-DD-HHMMSS_<name>/up.sql` and `down.sql`.
    DieselFolder,
    /// `YYYY-MM-DD-HHMMSS-XXXX_<name>/up.sql` and `down.sql` (diesel ≥ 2.2):
    /// versions carry the subversion ([`NewShape::stamp_suffix`]).
    DieselSubversionFolder,
    /// `<version>_<name>.up.sql` and `<version>_<name>.down.sql`.
    SqlxPair,
    /// `<version>_<name>.sql`, up only: the directory's sqlx migrations have no
    /// down scripts.
    SqlxUpOnly,
    /// `V<version>__<name>.sql` and the undo script `U<version>__<name>.sql`.
    Flyway,
    /// `<version>_<name>.sql` with a `-- migrate:up` and a `-- migrate:down` section.
    Dbmate,
    /// `<version>_<name>/migration.sql` (Prisma's) and `down.sql` (Cairn's,
    /// which Prisma ignores).
    PrismaFolder,
}

/// What one file of a new migration holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewScript {
    /// The up script.
    Up,
    /// The down (undo) script.
    Down,
    /// dbmate's one file: the up section, then the down section.
    UpAndDown,
}

/// The files of a new migration, relative to the migrations directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFiles {
    /// The folder to create first, for the folder layouts.
    pub folder: Option<PathBuf>,
    /// Each file to write, and what it holds.
    pub files: Vec<(PathBuf, NewScript)>,
}

impl NewShape {
    /// The layout a directory of this shape reads as.
    pub fn layout(self) -> Layout {
        match self {
            NewShape::CairnFolder => Layout::Cairn,
            NewShape::DieselFolder | NewShape::DieselSubversionFolder => Layout::Diesel,
            NewShape::SqlxPair | NewShape::SqlxUpOnly => Layout::Sqlx,
            NewShape::Flyway => Layout::Flyway,
            NewShape::Dbmate => Layout::Dbmate,
            NewShape::PrismaFolder => Layout::Prisma,
        }
    }

    /// The digits a timestamp version (`YYYYMMDDHHMMSS`) of this shape ends
    /// with: `00000` for diesel ≥ 2.2 folders, whose versions carry a
    /// subversion ([`crate::tools::diesel`]), else none.
    pub fn stamp_suffix(self) -> &'static str {
        match self {
            NewShape::DieselSubversionFolder => "00000",
            _ => "",
        }
    }

    /// The shape of a new migration beside an existing entry of `kind`; `text`
    /// is the entry's text, looked at only for `<version>_<name>.sql`.
    pub(super) fn beside(kind: NameKind, text: &str) -> NewShape {
        match kind {
            NameKind::CairnFolder => NewShape::CairnFolder,
            NameKind::DieselFolder => NewShape::DieselFolder,
            NameKind::SqlxUp | NameKind::SqlxDown => NewShape::SqlxPair,
            NameKind::FlywayUp | NameKind::FlywayUndo | NameKind::Repeatable => NewShape::Flyway,
            NameKind::PlainSql if crate::tools::dbmate::has_marker(text) => NewShape::Dbmate,
            NameKind::PlainSql => NewShape::SqlxUpOnly,
        }
    }

    /// The names of the new migration `version`, `name` in this shape.
    ///
    /// A diesel folder is named by its timestamp (`2026-01-31-120000_<name>`);
    /// a version that is not a 14-digit timestamp (`cairn new --sequential`)
    /// gets a Cairn folder instead, which may sit among diesel folders.
    pub fn files(self, version: Version, name: &str) -> NewFiles {
        let folder = |folder: String| NewFiles {
            files: vec![
                (PathBuf::from(&folder).join("up.sql"), NewScript::Up),
                (PathBuf::from(&folder).join("down.sql"), NewScript::Down),
            ],
            folder: Some(PathBuf::from(folder)),
        };
        let flat = |files: Vec<(String, NewScript)>| NewFiles {
            folder: None,
            files: files
                .into_iter()
                .map(|(file, script)| (PathBuf::from(file), script))
                .collect(),
        };
        match self {
            NewShape::CairnFolder => folder(format!("{version}_{name}")),
            NewShape::DieselFolder | NewShape::DieselSubversionFolder => {
                match crate::tools::diesel::stamp(version) {
                    Some(stamp) => folder(format!("{stamp}_{name}")),
                    None => folder(format!("{version}_{name}")),
                }
            }
            NewShape::SqlxPair => flat(vec![
                (format!("{version}_{name}.up.sql"), NewScript::Up),
                (format!("{version}_{name}.down.sql"), NewScript::Down),
            ]),
            NewShape::SqlxUpOnly => flat(vec![(format!("{version}_{name}.sql"), NewScript::Up)]),
            NewShape::Flyway => flat(vec![
                (format!("V{version}__{name}.sql"), NewScript::Up),
                (format!("U{version}__{name}.sql"), NewScript::Down),
            ]),
            NewShape::Dbmate => flat(vec![(
                format!("{version}_{name}.sql"),
                NewScript::UpAndDown,
            )]),
            NewShape::PrismaFolder => {
                let folder = format!("{version}_{name}");
                NewFiles {
                    files: vec![
                        (
                            PathBuf::from(&folder).join(crate::tools::prisma::SCRIPT),
                            NewScript::Up,
                        ),
                        (PathBuf::from(&folder).join("down.sql"), NewScript::Down),
                    ],
                    folder: Some(PathBuf::from(folder)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_to_their_kind_version_and_name() {
        for (name, is_dir, kind, version, rest) in [
            ("10_add_email", true, NameKind::CairnFolder, 10, "add_email"),
            (
                "2024-01-31-120000_x",
                true,
                NameKind::DieselFolder,
                20240131120000,
                "x",
            ),
            ("7_a.up.sql", false, NameKind::SqlxUp, 7, "a"),
            ("7_a.down.sql", false, NameKind::SqlxDown, 7, "a"),
            ("7_a.sql", false, NameKind::PlainSql, 7, "a"),
            ("V3__users.sql", false, NameKind::FlywayUp, 3, "users"),
            ("U3__users.sql", false, NameKind::FlywayUndo, 3, "users"),
        ] {
            let parsed = parse_name(name, is_dir).expect(name);
            assert_eq!(
                (parsed.kind, parsed.version.key(), parsed.name.as_str()),
                (kind, version, rest),
                "{name}"
            );
        }
    }

    #[test]
    fn folder_file_hints_list_every_engine() {
        let hint = script_name("up.oracle.sql").expect_err("unknown engine");
        for engine in Engine::ALL {
            assert!(hint.contains(engine.as_str()), "{hint}");
        }
        assert_eq!(
            script_name("down.sqlite.sql"),
            Ok((Direction::Down, Some(Engine::Sqlite)))
        );
    }

    #[test]
    fn each_new_shape_names_what_its_layout_reads() {
        let names = |shape: NewShape, version| -> Vec<(String, NewScript)> {
            shape
                .files(version, "add_users")
                .files
                .into_iter()
                .map(|(path, script)| (path.display().to_string(), script))
                .collect()
        };
        let v = Version::from(20260131120000);
        let owned = |list: &[(&str, NewScript)]| -> Vec<(String, NewScript)> {
            list.iter().map(|(n, s)| ((*n).to_owned(), *s)).collect()
        };
        use NewScript::{Down, Up, UpAndDown};
        assert_eq!(
            names(NewShape::CairnFolder, v),
            owned(&[
                ("20260131120000_add_users/up.sql", Up),
                ("20260131120000_add_users/down.sql", Down)
            ])
        );
        assert_eq!(
            names(NewShape::DieselFolder, v),
            owned(&[
                ("2026-01-31-120000_add_users/up.sql", Up),
                ("2026-01-31-120000_add_users/down.sql", Down)
            ])
        );
        assert_eq!(
            names(NewShape::DieselFolder, crate::migration::Version::from(42)),
            owned(&[("42_add_users/up.sql", Up), ("42_add_users/down.sql", Down)])
        );
        assert_eq!(
            names(NewShape::SqlxPair, crate::migration::Version::from(7)),
            owned(&[("7_add_users.up.sql", Up), ("7_add_users.down.sql", Down)])
        );
        assert_eq!(
            names(NewShape::SqlxUpOnly, crate::migration::Version::from(7)),
            owned(&[("7_add_users.sql", Up)])
        );
        assert_eq!(
            names(NewShape::Flyway, crate::migration::Version::from(7)),
            owned(&[("V7__add_users.sql", Up), ("U7__add_users.sql", Down)])
        );
        assert_eq!(
            names(NewShape::Dbmate, crate::migration::Version::from(7)),
            owned(&[("7_add_users.sql", UpAndDown)])
        );

        // Every name made reads back as the shape's layout.
        for shape in [
            NewShape::CairnFolder,
            NewShape::DieselFolder,
            NewShape::SqlxPair,
            NewShape::SqlxUpOnly,
            NewShape::Flyway,
            NewShape::Dbmate,
        ] {
            let made = shape.files(v, "add_users");
            let (top, is_dir) = match &made.folder {
                Some(folder) => (folder.clone(), true),
                None => (made.files[0].0.clone(), false),
            };
            let parsed = parse_name(top.to_str().unwrap(), is_dir).expect("parses");
            let text = if shape == NewShape::Dbmate {
                "-- migrate:up\n"
            } else {
                ""
            };
            assert_eq!(parsed.kind.layout(text), shape.layout(), "{shape:?}");
            assert_eq!(NewShape::beside(parsed.kind, text), shape);
            assert_eq!(parsed.version, v);
        }
    }
}
