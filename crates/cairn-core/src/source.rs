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
//!   in `.sql` (`README.md`, `notes.txt`), except `migration.toml` and diesel's
//!   `metadata.toml` (see below). A `.sql` file in a migration folder that is not
//!   one of the script names (`seed.sql`, `Up.sql`, `up.oracle.sql`) is an error,
//!   because it would never run. Anything else at the top level is
//!   [`Error::UnrecognisedName`] with a hint listing the accepted forms.
//! - **`migration.toml`** declares backfills ([`crate::backfill::spec`]) that
//!   run after the folder's up script; a folder may hold only `migration.toml`,
//!   and then its SQL is empty. Its text is part of the migration's checksum.
//! - **diesel's `metadata.toml`** with `run_in_transaction = false` sets
//!   [`Directives::no_transaction`](crate::migration::Directives::no_transaction) on the folder's scripts, as dbmate's
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
//!   first bad byte) without NUL characters ([`Error::NulByte`] gives the
//!   line and column: SQLite would cut the statement there). A FIFO, socket or
//!   device where a script, `migration.toml` or `metadata.toml` is read is
//!   [`Error::NotRegularFile`], refused without opening it (opening a FIFO
//!   blocks until a writer comes); every script is stored normalised ([`checksum::normalize`]:
//!   BOM removed, CRLF to LF), and its directives are parsed from that text.
//! - **Determinism.** Entries are read in byte order of their names, so the same
//!   directory always gives the same first error.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::checksum;
use crate::directive;
use crate::engine::Engine;
use crate::error::{Error, Location};
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
    for Entry { name, path, kind } in sorted_entries(dir)? {
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
        let is_dir = kind.is_dir(&path)?;
        let parsed = parse_name(name, is_dir).map_err(|hint| unrecognised(&path, hint))?;
        if !is_dir {
            kind.check_regular(&path)?;
        }
        units.push(Unit::read(path, parsed)?);
    }
    check_one_layout(dir, &units)?;

    let mut migrations = Vec::new();
    let mut flat: BTreeMap<Version, Pair> = BTreeMap::new();
    for unit in units {
        match unit.kind {
            UnitKind::Folder => migrations.push(read_folder(unit)?),
            UnitKind::Dbmate(text) => {
                migrations.push(read_dbmate(unit.path, unit.version, unit.name, &text)?)
            }
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
            EntryKind::Unknown.check_regular(entry)?;
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
    name.starts_with('.')
        || lower.starts_with("readme")
        || lower.ends_with(".md")
        || name == "cairn.toml"
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
            return Err(format!(
                "write the extension in lowercase (`.sql`); {ACCEPTED}"
            ));
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
        if version
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'_')
        {
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
    let fits = PATTERN
        .iter()
        .zip(bytes)
        .all(|(pattern, byte)| match pattern {
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
            declaration: None,
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
    for Entry { name, path, kind } in sorted_entries(&folder)? {
        let lossy = name.to_string_lossy();
        if lossy.starts_with('.') || kind.is_dir(&path)? {
            continue;
        }
        let read = lossy == "migration.toml"
            || lossy == "metadata.toml"
            || lossy.to_ascii_lowercase().ends_with(".sql");
        if !read {
            continue;
        }
        kind.check_regular(&path)?;
        if lossy == "migration.toml" {
            declarative = Some(path);
            continue;
        }
        if lossy == "metadata.toml" {
            no_transaction = diesel_no_transaction(&path)?;
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
    let declaration = match declarative {
        Some(path) => {
            let text = read_text(&path)?;
            let backfills = crate::backfill::spec::parse(&text, &path)?;
            // A migration that only backfills has no SQL of its own: empty
            // scripts stand in for it, so it plans, applies, rolls back (its
            // down changes no data) and verifies like any other.
            if up.is_empty() {
                up.plain = Some(empty_script(&path));
                if down.is_empty() {
                    down.plain = Some(empty_script(&path));
                }
            }
            Some(crate::migration::Declaration {
                path,
                text,
                backfills,
            })
        }
        None => None,
    };
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
        declaration,
    })
}

/// The script of a migration that only backfills: no statements.
fn empty_script(toml: &Path) -> Script {
    Script {
        path: toml.to_owned(),
        first_line: 1,
        text: String::new(),
        directives: crate::migration::Directives::default(),
    }
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
        return Err(format!(
            "write the extension in lowercase (`.sql`); {FOLDER_FILES}"
        ));
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
                    location: Location::new(path, index + 1),
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
fn read_dbmate(
    path: PathBuf,
    version: Version,
    name: String,
    text: &str,
) -> Result<Migration, Error> {
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
    let at = |line: usize| Location::new(&path, line);
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
        declaration: None,
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
    let bytes = read_bytes(path).map_err(|source| io_error(path, source))?;
    let text = String::from_utf8(bytes).map_err(|error| Error::NotUtf8 {
        path: path.to_owned(),
        offset: error.utf8_error().valid_up_to(),
    })?;
    if let Some(offset) = text.find('\0') {
        let start = text[..offset].rfind('\n').map_or(0, |newline| newline + 1);
        return Err(Error::NulByte {
            location: Location::new(path, line_of(&text, offset))
                .with_column(text[start..offset].chars().count() + 1),
        });
    }
    Ok(checksum::normalize_owned(text))
}

/// Reads a whole file with one `open` and no `stat`.
///
/// [`fs::read`] asks for the file's size first (a `statx` per file, and
/// `File::read_to_end` an `lseek` too); migration scripts are small, so a buffer
/// of a few KiB, grown as needed, reads most of them in one `read` plus the one
/// that sees the end of the file. The buffer is then shrunk to the text, so that
/// thousands of scripts held in memory do not keep 4 KiB each.
fn read_bytes(path: &Path) -> io::Result<Vec<u8>> {
    /// Only `read`: the default `read_to_end` then uses no size hint.
    struct NoSizeHint(File);

    impl Read for NoSizeHint {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0.read(buf)
        }
    }

    let mut bytes = Vec::with_capacity(4096);
    NoSizeHint(File::open(path)?).read_to_end(&mut bytes)?;
    bytes.shrink_to_fit();
    Ok(bytes)
}

/// One entry of a directory listing.
struct Entry {
    name: OsString,
    path: PathBuf,
    kind: EntryKind,
}

/// What a directory listing says an entry is, without a `stat`.
#[derive(Clone, Copy)]
enum EntryKind {
    Dir,
    /// A regular file.
    File,
    /// A FIFO, socket or device: never opened (opening a FIFO blocks).
    Special(&'static str),
    /// A symbolic link, or a type the listing did not give: ask the file system.
    Unknown,
}

impl EntryKind {
    fn of(entry: &fs::DirEntry) -> Self {
        match entry.file_type() {
            Ok(file_type) if file_type.is_symlink() => EntryKind::Unknown,
            Ok(file_type) => Self::of_type(file_type),
            Err(_) => EntryKind::Unknown,
        }
    }

    fn of_type(file_type: fs::FileType) -> Self {
        if file_type.is_dir() {
            EntryKind::Dir
        } else if file_type.is_file() {
            EntryKind::File
        } else {
            EntryKind::Special(special_kind(file_type))
        }
    }

    /// Whether the entry at `path` is a directory, following symbolic links.
    fn is_dir(self, path: &Path) -> Result<bool, Error> {
        match self {
            EntryKind::Dir => Ok(true),
            EntryKind::File | EntryKind::Special(_) => Ok(false),
            EntryKind::Unknown => is_dir(path),
        }
    }

    /// Refuses, without opening it, an entry that is not a regular file
    /// (following symbolic links): a FIFO would block the read forever.
    fn check_regular(self, path: &Path) -> Result<(), Error> {
        let kind = match self {
            EntryKind::Unknown => fs::metadata(path)
                .map(|metadata| Self::of_type(metadata.file_type()))
                .map_err(|source| io_error(path, source))?,
            known => known,
        };
        match kind {
            EntryKind::Special(what) => Err(Error::NotRegularFile {
                path: path.to_owned(),
                what,
            }),
            _ => Ok(()),
        }
    }
}

/// What a file that is neither a directory nor a regular file is, for messages.
#[cfg(unix)]
fn special_kind(file_type: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "a device"
    } else {
        "a special file"
    }
}

/// What a file that is neither a directory nor a regular file is, for messages.
#[cfg(not(unix))]
fn special_kind(_: fs::FileType) -> &'static str {
    "a special file"
}

/// The entries of a directory, sorted by name.
fn sorted_entries(dir: &Path) -> Result<Vec<Entry>, Error> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(|source| io_error(dir, source))? {
        let entry = entry.map_err(|source| io_error(dir, source))?;
        let kind = EntryKind::of(&entry);
        entries.push((entry.file_name(), kind));
    }
    // Names in one directory are unique, so an unstable sort is deterministic.
    entries.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
    Ok(entries
        .into_iter()
        .map(|(name, kind)| Entry {
            path: dir.join(&name),
            name,
            kind,
        })
        .collect())
}

/// Whether `path` is a directory, following symbolic links.
fn is_dir(path: &Path) -> Result<bool, Error> {
    fs::metadata(path)
        .map(|metadata| metadata.is_dir())
        .map_err(|source| io_error(path, source))
}

fn io_error(path: &Path, cause: io::Error) -> Error {
    Error::Io {
        path: path.to_owned(),
        cause,
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tempfile::TempDir;

    use super::*;

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
        assert_eq!((second.version, second.name.as_str()), (10, "add_email"));
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
            .map(|m| (m.version, m.name.as_str(), m.layout))
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
            (first.version, first.name.as_str(), first.layout),
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
            (second.version, second.name.as_str(), second.layout),
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
            .map(|m| (m.version, m.name.as_str(), m.layout))
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
            (migration.version, migration.name.as_str(), migration.layout),
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
            ("V1.1__x.sql", None),
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
        std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("1_a"))
            .expect("symlink");
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
    fn flyway_dotted_versions_are_rejected() {
        for name in ["V1.1__x.sql", "V1_1__x.sql"] {
            let dir = tree(&[(name, CREATE)]);
            unrecognised_at(&fail(&dir), &dir, name, "single integers");
        }
    }

    #[test]
    fn flyway_repeatable_migrations_are_rejected() {
        let dir = tree(&[("V1__a.sql", CREATE), ("R__views.sql", CREATE)]);
        unrecognised_at(&fail(&dir), &dir, "R__views.sql", "repeatable");
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
    fn diesel_initial_setup_gets_its_own_hint() {
        let dir = tree(&[("00000000000000_diesel_initial_setup/up.sql", CREATE)]);
        unrecognised_at(
            &fail(&dir),
            &dir,
            "00000000000000_diesel_initial_setup",
            "00000000000001_diesel_initial_setup",
        );
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
        assert_duplicate(&fail(&dir), &dir, 1, "1_a", "1_b");
    }

    #[test]
    fn versions_compare_numerically() {
        let dir = tree(&[("0001_a/up.sql", CREATE), ("1_b/up.sql", CREATE)]);
        assert_duplicate(&fail(&dir), &dir, 1, "0001_a", "1_b");
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
            20230115093000,
            "2023-01-15-093000_a",
            "20230115093000_b",
        );
    }

    #[test]
    fn duplicate_flat_up_files_are_rejected() {
        let dir = tree(&[("1_a.sql", CREATE), ("1_a.up.sql", CREATE)]);
        assert_duplicate(&fail(&dir), &dir, 1, "1_a.sql", "1_a.up.sql");
        let dir = tree(&[("V01__b.sql", CREATE), ("V1__a.sql", CREATE)]);
        assert_duplicate(&fail(&dir), &dir, 1, "V01__b.sql", "V1__a.sql");
        let dir = tree(&[
            ("1_a.up.sql", CREATE),
            ("1_a.down.sql", CREATE),
            ("1_b.down.sql", CREATE),
        ]);
        assert_duplicate(&fail(&dir), &dir, 1, "1_a.down.sql", "1_b.down.sql");
    }

    #[test]
    fn duplicate_dbmate_versions_are_rejected() {
        let up = "-- migrate:up\nSELECT 1;\n";
        let dir = tree(&[("01_a.sql", up), ("1_b.sql", up)]);
        assert_duplicate(&fail(&dir), &dir, 1, "01_a.sql", "1_b.sql");
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
    fn an_empty_flat_up_script_is_rejected() {
        let dir = tree(&[("1_a.up.sql", "  \n"), ("1_a.down.sql", CREATE)]);
        assert_empty(&fail(&dir), &dir, "1_a.up.sql");
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
}
