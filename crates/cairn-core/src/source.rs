//! Reading the migrations directory: layouts, versions and scripts.
//!
//! [`read_dir`] turns a migrations directory into [`Migration`]s sorted by version.
//! It reads the layouts of the tools teams switch from *as they are*, so nobody has
//! to rename files to adopt Cairn (DESIGN §3):
//!
//! | layout        | on disk                                                           |
//! |---------------|-------------------------------------------------------------------|
//! | Cairn         | `<version>_<name>/` with `up.sql`, `down.sql`, `up.<engine>.sql`, `down.<engine>.sql` |
//! | diesel        | `YYYY-MM-DD-HHMMSS_<name>/` with the same files; version `YYYYMMDDHHMMSS` |
//! | sqlx, golang-migrate | `<version>_<name>.up.sql` and `<version>_<name>.down.sql`, or an up-only `<version>_<name>.sql` |
//! | Flyway, refinery | `V<version>__<name>.sql`, and `U<version>__<name>.sql` (undo) |
//! | dbmate        | `<version>_<name>.sql` with a `-- migrate:up` line and optionally `-- migrate:down` |
//!
//! `<engine>` is one of `postgres`, `mysql`, `sqlite`, spelt exactly so in file
//! names (the aliases `pg` or `mariadb` are accepted in directives, not in names,
//! so that a directory listing is unambiguous).
//!
//! # Decisions
//!
//! - **Versions** are positive integers written in digits; they compare
//!   numerically, so `0001_a/` and `1_b/` are a duplicate. Version 0, a sign, or a
//!   value above `i64::MAX` is rejected with a hint. Flyway's dotted versions
//!   (`V1.1__x.sql`) and repeatable migrations (`R__x.sql`) are rejected with a hint
//!   rather than approximated.
//! - **One layout per directory.** Cairn and diesel folders may be mixed (both are
//!   folders holding the same file names); any other mix is
//!   [`Error::MixedLayouts`], naming one entry of each. A `<version>_<name>.sql`
//!   file is dbmate if it has a `-- migrate:up` or `-- migrate:down` line (leading
//!   spaces allowed, unlike dbmate, so a down section can never run as part of the
//!   up script), and an up-only sqlx migration otherwise.
//! - **What is ignored.** At the top level: hidden entries (`.gitkeep`,
//!   `.gitattributes`), `README*` and `*.md` files, and `cairn.toml`. Inside a
//!   migration folder: hidden entries, sub-folders and every file that does not end
//!   in `.sql` (`README.md`, diesel's `metadata.toml` is read, see below). A `.sql`
//!   file in a migration folder that is not one of the script names
//!   (`seed.sql`, `Up.sql`, `up.oracle.sql`) is an error, because it would never run.
//! - **`migration.toml`** is reserved for declarative migrations, which are not
//!   supported yet: a folder with it is rejected with a hint, also when it has
//!   `up.sql` besides (a migration is one or the other, and accepting both now
//!   would change meaning once declarative migrations arrive).
//! - **diesel's `metadata.toml`** with `run_in_transaction = false` sets
//!   [`Directives::no_transaction`] on the folder's scripts, as dbmate's
//!   `-- migrate:up transaction:false` does for its section, so an imported
//!   `CREATE INDEX CONCURRENTLY` keeps running outside a transaction.
//! - **Empty scripts.** An up script with nothing but whitespace and comments is
//!   [`Error::EmptyScript`], and so is a folder with no up script at all. An empty
//!   down script is accepted: it rolls back by doing nothing, which tools such as
//!   `sqlx migrate add -r` produce on purpose.
//! - **Pairing.** sqlx down scripts and Flyway undo scripts pair with the up script
//!   of the same version; one without an up script is rejected. Note that refinery
//!   uses the `U` prefix for *unversioned* migrations, not undo: such a directory
//!   reads as Flyway undo scripts, and a `U` file with no `V` file of its version
//!   is rejected with a hint saying so.
//! - **Text.** Files must be UTF-8 ([`Error::NotUtf8`] gives the offset of the
//!   first bad byte); every script is stored normalised ([`checksum::normalize`]:
//!   BOM removed, CRLF to LF), and its directives are parsed from that text.
//! - **Determinism.** Entries are read in byte order of their names, so the same
//!   directory always gives the same first error.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::checksum;
use crate::directive;
use crate::engine::Engine;
use crate::error::Error;
use crate::migration::{Direction, Layout, Migration, Script, Scripts, Version};

/// The names accepted at the top level, for hints.
const ACCEPTED: &str = "expected a migration folder `<version>_<name>/` (cairn) or \
`YYYY-MM-DD-HHMMSS_<name>/` (diesel), or a file `<version>_<name>.up.sql` and \
`.down.sql` (sqlx, golang-migrate), `<version>_<name>.sql` (dbmate, sqlx), or \
`V<version>__<name>.sql` and `U<version>__<name>.sql` (flyway, refinery); hidden files, \
README and *.md files and cairn.toml are ignored";

/// The names accepted inside a migration folder, for hints.
const FOLDER_FILES: &str = "a migration folder holds `up.sql`, `down.sql`, \
`up.<engine>.sql` and `down.<engine>.sql` with engine one of postgres, mysql, sqlite; \
any other `.sql` file would never run: rename or move it";

/// Hint for a version that is not a positive integer.
const POSITIVE: &str = "versions are positive integers (1 to 9223372036854775807)";

/// Reads every migration in `dir`, detecting the layout, sorted by version.
///
/// # Errors
///
/// [`Error::MissingDirectory`] if `dir` does not exist; [`Error::Io`],
/// [`Error::NotUtf8`] for unreadable files; [`Error::UnrecognisedName`] for an
/// entry that fits no layout; [`Error::MixedLayouts`], [`Error::DuplicateVersion`],
/// [`Error::EmptyScript`]; and the directive errors of [`directive::parse`].
pub fn read_dir(dir: &Path) -> Result<Vec<Migration>, Error> {
    match fs::metadata(dir) {
        Err(source) if source.kind() == io::ErrorKind::NotFound => {
            return Err(Error::MissingDirectory {
                path: dir.to_owned(),
            })
        }
        Err(source) => return Err(io_error(dir, source)),
        Ok(metadata) if !metadata.is_dir() => {
            return Err(io_error(
                dir,
                io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            ))
        }
        Ok(_) => {}
    }

    let mut units = Vec::new();
    for (name, path) in sorted_entries(dir)? {
        let Some(name) = name.to_str() else {
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            return Err(unrecognised(
                &path,
                "file names must be valid UTF-8".to_owned(),
            ));
        };
        if is_ignored(name) {
            continue;
        }
        let is_dir = is_dir(&path)?;
        let parsed = parse_name(name, is_dir).map_err(|hint| unrecognised(&path, hint))?;
        units.push(Unit::read(path, parsed)?);
    }
    check_one_layout(dir, &units)?;

    let mut migrations = Vec::new();
    let mut flat: BTreeMap<Version, Pair> = BTreeMap::new();
    for unit in units {
        match unit.kind {
            UnitKind::Folder => migrations.push(read_folder(unit)?),
            UnitKind::Dbmate(text) => migrations.push(read_dbmate(unit.path, unit.version, unit.name, &text)?),
            UnitKind::Up(text) => {
                let pair = flat.entry(unit.version).or_default();
                if let Some(first) = &pair.up {
                    return Err(duplicate(unit.version, &first.path, &unit.path));
                }
                pair.up = Some(FlatScript {
                    path: unit.path,
                    name: unit.name,
                    layout: unit.layout,
                    text,
                });
            }
            UnitKind::Down(text) => {
                let pair = flat.entry(unit.version).or_default();
                if let Some(first) = &pair.down {
                    return Err(duplicate(unit.version, &first.path, &unit.path));
                }
                pair.down = Some(FlatScript {
                    path: unit.path,
                    name: unit.name,
                    layout: unit.layout,
                    text,
                });
            }
        }
    }
    for (version, pair) in flat {
        migrations.push(pair.into_migration(version)?);
    }

    // Stable: among equal versions, the first in directory order stays first.
    migrations.sort_by_key(|migration| migration.version);
    for window in migrations.windows(2) {
        if let [first, second] = window {
            if first.version == second.version {
                return Err(duplicate(first.version, &first.location, &second.location));
            }
        }
    }
    Ok(migrations)
}

/// The layout of one entry of a migrations directory, if it has one.
///
/// `entry` is the path of a file or folder directly inside the migrations
/// directory; its name decides the layout, except for `<version>_<name>.sql`,
/// which is read to tell dbmate (a `-- migrate:up` line) from up-only sqlx.
/// Returns `Ok(None)` for ignored entries (hidden, README, `*.md`, `cairn.toml`)
/// and for names that fit no layout; `cairn new` uses it to follow the layout of
/// the migrations already there.
///
/// # Errors
///
/// [`Error::Io`] if the entry cannot be inspected or read, and [`Error::NotUtf8`]
/// if a `<version>_<name>.sql` file is not UTF-8.
pub fn detect_layout(entry: &Path) -> Result<Option<Layout>, Error> {
    let Some(name) = entry.file_name().and_then(|name| name.to_str()) else {
        return Ok(None);
    };
    if is_ignored(name) {
        return Ok(None);
    }
    let Ok(parsed) = parse_name(name, is_dir(entry)?) else {
        return Ok(None);
    };
    Ok(Some(match parsed.kind {
        NameKind::CairnFolder => Layout::Cairn,
        NameKind::DieselFolder => Layout::Diesel,
        NameKind::SqlxUp | NameKind::SqlxDown => Layout::Sqlx,
        NameKind::FlywayUp | NameKind::FlywayUndo => Layout::Flyway,
        NameKind::PlainSql => {
            if has_dbmate_marker(&read_text(entry)?) {
                Layout::Dbmate
            } else {
                Layout::Sqlx
            }
        }
    }))
}

/// Whether a top-level entry is not a migration and is skipped.
fn is_ignored(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.starts_with('.') || lower.starts_with("readme") || lower.ends_with(".md") || name == "cairn.toml"
}

/// What a top-level name says, before any file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameKind {
    CairnFolder,
    DieselFolder,
    SqlxUp,
    SqlxDown,
    /// `<version>_<name>.sql`: dbmate or up-only sqlx, depending on its text.
    PlainSql,
    FlywayUp,
    FlywayUndo,
}

#[derive(Debug)]
struct ParsedName {
    kind: NameKind,
    version: Version,
    name: String,
}

/// Parses a top-level name; the error is the hint for [`Error::UnrecognisedName`].
fn parse_name(name: &str, is_dir: bool) -> Result<ParsedName, String> {
    let parsed = |kind, version, rest: &str| ParsedName {
        kind,
        version,
        name: rest.to_owned(),
    };
    if name.starts_with('-') && name[1..].starts_with(|c: char| c.is_ascii_digit()) {
        return Err(POSITIVE.to_owned());
    }
    if is_dir {
        if let Some((digits, rest)) = diesel_prefix(name) {
            let version = parse_version(&digits, name)?;
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
            return Err(format!("write the extension in lowercase (`.sql`); {ACCEPTED}"));
        }
        return Err(ACCEPTED.to_owned());
    };
    if matches!(stem, "up" | "down") || stem.starts_with("up.") || stem.starts_with("down.") {
        return Err(folder_file_hint());
    }
    if let Some(rest) = stem.strip_prefix('R') {
        if rest.starts_with("__") {
            return Err(
                "repeatable migrations (`R__<name>.sql`) are not supported: cairn applies each \
                 migration once; make it a versioned migration"
                    .to_owned(),
            );
        }
    }
    let flyway = match stem.split_at_checked(1) {
        Some(("V", rest)) => Some((NameKind::FlywayUp, rest)),
        Some(("U", rest)) => Some((NameKind::FlywayUndo, rest)),
        _ => None,
    };
    if let Some((kind, rest)) = flyway {
        if rest.starts_with(|c: char| c.is_ascii_digit()) {
            return parse_flyway(kind, rest, name);
        }
    }
    match split_version(stem) {
        Some((digits, rest)) => {
            let version = parse_version(digits, name)?;
            if let Some(rest) = rest.strip_suffix(".up") {
                non_empty(rest).map(|rest| parsed(NameKind::SqlxUp, version, rest))
            } else if let Some(rest) = rest.strip_suffix(".down") {
                non_empty(rest).map(|rest| parsed(NameKind::SqlxDown, version, rest))
            } else {
                non_empty(rest).map(|rest| parsed(NameKind::PlainSql, version, rest))
            }
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

fn parse_flyway(kind: NameKind, rest: &str, name: &str) -> Result<ParsedName, String> {
    let Some((version, description)) = rest.split_once("__") else {
        return Err(format!(
            "flyway names separate version and description with two underscores \
             (`V1__create_users.sql`); {ACCEPTED}"
        ));
    };
    if !version.bytes().all(|b| b.is_ascii_digit()) {
        if version.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'_') {
            return Err(format!(
                "flyway version `{version}` has parts: cairn versions are single integers, so \
                 renumber it (e.g. `V2__...`)"
            ));
        }
        return Err(format!(
            "flyway version `{version}` is not an integer; {POSITIVE}"
        ));
    }
    let version = parse_version(version, name)?;
    if description.is_empty() {
        return Err(format!(
            "the description after `__` is missing (`V{version}__create_users.sql`)"
        ));
    }
    Ok(ParsedName {
        kind,
        version,
        name: description.to_owned(),
    })
}

/// `YYYY-MM-DD-HHMMSS_<rest>` → (`YYYYMMDDHHMMSS`, rest).
fn diesel_prefix(name: &str) -> Option<(String, &str)> {
    const PATTERN: &[u8] = b"dddd-dd-dd-dddddd_";
    let bytes = name.as_bytes();
    if bytes.len() < PATTERN.len() {
        return None;
    }
    let fits = PATTERN.iter().zip(bytes).all(|(pattern, byte)| match pattern {
        b'd' => byte.is_ascii_digit(),
        other => other == byte,
    });
    if !fits {
        return None;
    }
    let digits = name[..PATTERN.len() - 1]
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    Some((digits, &name[PATTERN.len()..]))
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

fn parse_version(digits: &str, name: &str) -> Result<Version, String> {
    match digits.parse::<Version>() {
        Ok(0) if name == "00000000000000_diesel_initial_setup" => Err(format!(
            "diesel's initial setup migration has version 0, which cairn cannot order; \
             {POSITIVE}: give it version 1 (`00000000000001_diesel_initial_setup`)"
        )),
        Ok(0) => Err(format!("version 0 is not allowed: {POSITIVE}")),
        Ok(version) => Ok(version),
        Err(_) => Err(format!("version `{digits}` is too large: {POSITIVE}")),
    }
}

/// One recognised top-level entry, with the text of flat files already read.
#[derive(Debug)]
struct Unit {
    path: PathBuf,
    layout: Layout,
    version: Version,
    name: String,
    kind: UnitKind,
}

#[derive(Debug)]
enum UnitKind {
    Folder,
    Up(String),
    Down(String),
    Dbmate(String),
}

impl Unit {
    fn read(path: PathBuf, parsed: ParsedName) -> Result<Self, Error> {
        let (layout, kind) = match parsed.kind {
            NameKind::CairnFolder => (Layout::Cairn, UnitKind::Folder),
            NameKind::DieselFolder => (Layout::Diesel, UnitKind::Folder),
            NameKind::SqlxUp => (Layout::Sqlx, UnitKind::Up(read_text(&path)?)),
            NameKind::SqlxDown => (Layout::Sqlx, UnitKind::Down(read_text(&path)?)),
            NameKind::FlywayUp => (Layout::Flyway, UnitKind::Up(read_text(&path)?)),
            NameKind::FlywayUndo => (Layout::Flyway, UnitKind::Down(read_text(&path)?)),
            NameKind::PlainSql => {
                let text = read_text(&path)?;
                if has_dbmate_marker(&text) {
                    (Layout::Dbmate, UnitKind::Dbmate(text))
                } else {
                    (Layout::Sqlx, UnitKind::Up(text))
                }
            }
        };
        Ok(Unit {
            path,
            layout,
            version: parsed.version,
            name: parsed.name,
            kind,
        })
    }
}

/// Cairn and diesel folders are compatible; every other layout stands alone.
fn family(layout: Layout) -> Layout {
    match layout {
        Layout::Diesel => Layout::Cairn,
        other => other,
    }
}

fn check_one_layout(dir: &Path, units: &[Unit]) -> Result<(), Error> {
    let Some(first) = units.first() else {
        return Ok(());
    };
    match units
        .iter()
        .find(|unit| family(unit.layout) != family(first.layout))
    {
        Some(second) => Err(Error::MixedLayouts {
            dir: dir.to_owned(),
            first: first.path.clone(),
            first_layout: first.layout.as_str(),
            second: second.path.clone(),
            second_layout: second.layout.as_str(),
        }),
        None => Ok(()),
    }
}

/// A flat up or down file (sqlx, Flyway), waiting for its partner.
#[derive(Debug)]
struct FlatScript {
    path: PathBuf,
    name: String,
    layout: Layout,
    text: String,
}

#[derive(Debug, Default)]
struct Pair {
    up: Option<FlatScript>,
    down: Option<FlatScript>,
}

impl Pair {
    fn into_migration(self, version: Version) -> Result<Migration, Error> {
        let Some(up) = self.up else {
            let hint = match self.down {
                Some(FlatScript {
                    layout: Layout::Flyway,
                    ..
                }) => format!(
                    "an undo script needs a `V{version}__<name>.sql` of the same version \
                     (refinery's unversioned `U` migrations are not supported)"
                ),
                _ => format!(
                    "a down script needs an up script `{version}_<name>.up.sql` of the same version"
                ),
            };
            let path = self.down.map(|down| down.path).unwrap_or_default();
            return Err(unrecognised(&path, hint));
        };
        let up_script = script(&up.path, up.text, 1, false)?;
        check_not_empty(&up_script)?;
        let down = match self.down {
            Some(down) => Scripts {
                plain: Some(script(&down.path, down.text, 1, false)?),
                overrides: BTreeMap::new(),
            },
            None => Scripts::default(),
        };
        Ok(Migration {
            version,
            name: up.name,
            layout: up.layout,
            location: up.path,
            up: Scripts {
                plain: Some(up_script),
                overrides: BTreeMap::new(),
            },
            down,
        })
    }
}

/// Reads a Cairn or diesel migration folder.
fn read_folder(unit: Unit) -> Result<Migration, Error> {
    let folder = unit.path;
    let mut up = Scripts::default();
    let mut down = Scripts::default();
    let mut declarative = None;
    let mut no_transaction = false;
    for (name, path) in sorted_entries(&folder)? {
        let lossy = name.to_string_lossy();
        if lossy.starts_with('.') || is_dir(&path)? {
            continue;
        }
        if lossy == "migration.toml" {
            declarative = Some(path);
            continue;
        }
        if lossy == "metadata.toml" {
            no_transaction = diesel_no_transaction(&path)?;
            continue;
        }
        if !lossy.to_ascii_lowercase().ends_with(".sql") {
            continue;
        }
        let (direction, engine) = name
            .to_str()
            .ok_or_else(|| FOLDER_FILES.to_owned())
            .and_then(script_name)
            .map_err(|hint| unrecognised(&path, hint))?;
        let text = read_text(&path)?;
        let script = script(&path, text, 1, false)?;
        if direction == Direction::Up {
            check_not_empty(&script)?;
        }
        let scripts = match direction {
            Direction::Up => &mut up,
            Direction::Down => &mut down,
        };
        match engine {
            Some(engine) => {
                scripts.overrides.insert(engine, script);
            }
            None => scripts.plain = Some(script),
        }
    }
    // Applied once all scripts are read: metadata.toml sorts between them.
    if no_transaction {
        for script in up_and_down(&mut up, &mut down) {
            script.directives.no_transaction = true;
        }
    }
    if let Some(toml) = declarative {
        return Err(if up.is_empty() {
            unrecognised(
                &folder,
                "declarative migrations (`migration.toml`) are not supported yet: write the \
                 migration as `up.sql` and `down.sql`"
                    .to_owned(),
            )
        } else {
            unrecognised(
                &toml,
                "a migration is either sql scripts or a declarative `migration.toml`, not both, \
                 and declarative migrations are not supported yet: remove `migration.toml`"
                    .to_owned(),
            )
        });
    }
    if up.is_empty() {
        return Err(Error::EmptyScript { path: folder });
    }
    Ok(Migration {
        version: unit.version,
        name: unit.name,
        layout: unit.layout,
        location: folder,
        up,
        down,
    })
}

fn up_and_down<'a>(
    up: &'a mut Scripts,
    down: &'a mut Scripts,
) -> impl Iterator<Item = &'a mut Script> {
    up.plain
        .iter_mut()
        .chain(up.overrides.values_mut())
        .chain(down.plain.iter_mut())
        .chain(down.overrides.values_mut())
}

/// `up.sql` → (up, None); `down.mysql.sql` → (down, Some(mysql)); else the hint.
fn script_name(name: &str) -> Result<(Direction, Option<Engine>), String> {
    let Some(stem) = name.strip_suffix(".sql") else {
        return Err(format!("write the extension in lowercase (`.sql`); {FOLDER_FILES}"));
    };
    let (direction, engine) = match stem.split_once('.') {
        Some((direction, engine)) => (direction, Some(engine)),
        None => (stem, None),
    };
    let direction = match direction {
        "up" => Direction::Up,
        "down" => Direction::Down,
        _ => return Err(FOLDER_FILES.to_owned()),
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
            "unknown engine `{engine}`: engines are postgres, mysql, sqlite; {FOLDER_FILES}"
        )),
    }
}

/// Reads diesel's `metadata.toml`: whether it says `run_in_transaction = false`.
///
/// Only that key matters to Cairn; the file is read line by line rather than
/// with a TOML parser, which the core does not depend on.
fn diesel_no_transaction(path: &Path) -> Result<bool, Error> {
    let text = read_text(path)?;
    for (index, line) in text.lines().enumerate() {
        let line = line.split_once('#').map_or(line, |(before, _)| before);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() == "run_in_transaction" {
            return match value.trim() {
                "false" => Ok(true),
                "true" => Ok(false),
                other => Err(Error::BadDirective {
                    location: format!("{}:{}", path.display(), index + 1),
                    message: format!(
                        "`run_in_transaction` must be `true` or `false`, found `{other}`"
                    ),
                }),
            };
        }
    }
    Ok(false)
}

/// A dbmate marker line: `-- migrate:up [options]` or `-- migrate:down [options]`.
fn dbmate_marker(line: &str) -> Option<(Direction, &str)> {
    let rest = line.trim().strip_prefix("--")?.trim_start();
    let (direction, options) = if let Some(options) = rest.strip_prefix("migrate:up") {
        (Direction::Up, options)
    } else {
        (Direction::Down, rest.strip_prefix("migrate:down")?)
    };
    if options.is_empty() || options.starts_with(char::is_whitespace) {
        Some((direction, options.trim()))
    } else {
        None
    }
}

fn has_dbmate_marker(text: &str) -> bool {
    text.lines().any(|line| dbmate_marker(line).is_some())
}

/// A dbmate marker found in a file.
struct Marker<'a> {
    direction: Direction,
    options: &'a str,
    /// 1-based line of the marker.
    line: usize,
    /// Byte offset of the marker line.
    start: usize,
    /// Byte offset just after the marker line.
    end: usize,
}

/// Splits a dbmate file into its up section and optional down section.
fn read_dbmate(path: PathBuf, version: Version, name: String, text: &str) -> Result<Migration, Error> {
    let mut markers = Vec::new();
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if let Some((direction, options)) = dbmate_marker(line) {
            markers.push(Marker {
                direction,
                options,
                line: index + 1,
                start: offset,
                end: offset + line.len(),
            });
        }
        offset += line.len();
    }
    let at = |line: usize| format!("{}:{line}", path.display());
    let bad = |line: usize, message: String| Error::BadDirective {
        location: at(line),
        message,
    };

    let (up, down) = match markers.as_slice() {
        [up] if up.direction == Direction::Up => (up, None),
        [up, down] if up.direction == Direction::Up && down.direction == Direction::Down => {
            (up, Some(down))
        }
        _ => {
            let (line, message) = dbmate_order_problem(&markers);
            return Err(bad(line, message));
        }
    };
    if let Some(code) = first_code(&text[..up.start]) {
        return Err(bad(
            line_of(text, code),
            "this statement comes before `-- migrate:up` and belongs to no section: move it \
             below the marker"
                .to_owned(),
        ));
    }

    let section = |marker: &Marker<'_>, end: usize| -> Result<Script, Error> {
        let mut no_transaction = false;
        for option in marker.options.split_whitespace() {
            match option {
                "transaction:false" => no_transaction = true,
                "transaction:true" => {}
                other => {
                    return Err(bad(
                        marker.line,
                        format!(
                            "unknown dbmate option `{other}`: the only option is `transaction:false`"
                        ),
                    ))
                }
            }
        }
        script(
            &path,
            text[marker.end..end].to_owned(),
            marker.line + 1,
            no_transaction,
        )
    };
    let up_script = section(up, down.map_or(text.len(), |down| down.start))?;
    if first_code(&up_script.text).is_none() {
        return Err(Error::EmptyScript { path: path.clone() });
    }
    let down_script = down.map(|down| section(down, text.len())).transpose()?;
    Ok(Migration {
        version,
        name,
        layout: Layout::Dbmate,
        location: path.clone(),
        up: Scripts {
            plain: Some(up_script),
            overrides: BTreeMap::new(),
        },
        down: Scripts {
            plain: down_script,
            overrides: BTreeMap::new(),
        },
    })
}

/// For markers that are not `up` then optionally `down`: where and what is wrong.
fn dbmate_order_problem(markers: &[Marker<'_>]) -> (usize, String) {
    let mut seen_up = false;
    let mut seen_down = false;
    for marker in markers {
        match marker.direction {
            Direction::Up if seen_up => {
                return (
                    marker.line,
                    "a second `-- migrate:up`: a dbmate file has one up section and at most one \
                     down section"
                        .to_owned(),
                )
            }
            Direction::Up if seen_down => {
                return (
                    marker.line,
                    "`-- migrate:up` comes after `-- migrate:down`: put the up section first"
                        .to_owned(),
                )
            }
            Direction::Up => seen_up = true,
            Direction::Down if seen_down => {
                return (
                    marker.line,
                    "a second `-- migrate:down`: a dbmate file has one up section and at most \
                     one down section"
                        .to_owned(),
                )
            }
            Direction::Down if !seen_up => {
                return (
                    marker.line,
                    "`-- migrate:down` without a `-- migrate:up` before it: add `-- migrate:up` \
                     above the up statements"
                        .to_owned(),
                )
            }
            Direction::Down => seen_down = true,
        }
    }
    (1, "a dbmate file needs a `-- migrate:up` line".to_owned())
}

/// Builds a script from normalised text, parsing its directives.
fn script(
    path: &Path,
    text: String,
    first_line: usize,
    no_transaction: bool,
) -> Result<Script, Error> {
    let mut directives = directive::parse(&text, path, first_line)?;
    directives.no_transaction |= no_transaction;
    Ok(Script {
        path: path.to_owned(),
        first_line,
        text,
        directives,
    })
}

fn check_not_empty(script: &Script) -> Result<(), Error> {
    match first_code(&script.text) {
        Some(_) => Ok(()),
        None => Err(Error::EmptyScript {
            path: script.path.clone(),
        }),
    }
}

/// The byte offset of the first character that is neither whitespace nor inside a
/// `--` or `/* */` comment; `None` if the text is only those.
///
/// Exact for emptiness: a quote or anything else ends the scan, so strings never
/// need to be understood here.
fn first_code(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte.is_ascii_whitespace() {
            i += 1;
        } else if text[i..].starts_with("--") {
            i = text[i..].find('\n').map_or(bytes.len(), |end| i + end + 1);
        } else if text[i..].starts_with("/*") {
            i = text[i + 2..]
                .find("*/")
                .map_or(bytes.len(), |end| i + 2 + end + 2);
        } else {
            return Some(i);
        }
    }
    None
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|&&byte| byte == b'\n')
        .count()
        + 1
}

/// Reads a file as UTF-8 and normalises it for the checksum contract.
fn read_text(path: &Path) -> Result<String, Error> {
    let bytes = fs::read(path).map_err(|source| io_error(path, source))?;
    let text = String::from_utf8(bytes).map_err(|error| Error::NotUtf8 {
        path: path.to_owned(),
        offset: error.utf8_error().valid_up_to(),
    })?;
    Ok(checksum::normalize(&text))
}

/// The entries of a directory, sorted by name.
fn sorted_entries(dir: &Path) -> Result<Vec<(OsString, PathBuf)>, Error> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(|source| io_error(dir, source))? {
        let entry = entry.map_err(|source| io_error(dir, source))?;
        names.push(entry.file_name());
    }
    names.sort();
    Ok(names
        .into_iter()
        .map(|name| {
            let path = dir.join(&name);
            (name, path)
        })
        .collect())
}

/// Whether `path` is a directory, following symbolic links.
fn is_dir(path: &Path) -> Result<bool, Error> {
    fs::metadata(path)
        .map(|metadata| metadata.is_dir())
        .map_err(|source| io_error(path, source))
}

fn io_error(path: &Path, source: io::Error) -> Error {
    Error::Io {
        path: path.to_owned(),
        source,
    }
}

fn unrecognised(path: &Path, hint: String) -> Error {
    Error::UnrecognisedName {
        path: path.to_owned(),
        hint,
    }
}

fn duplicate(version: Version, first: &Path, second: &Path) -> Error {
    Error::DuplicateVersion {
        version,
        first: first.to_owned(),
        second: second.to_owned(),
    }
}
