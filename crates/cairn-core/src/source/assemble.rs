//! Building [`Migration`]s from named texts.
//!
//! Pure: every function here takes names and texts already read, so the
//! listing ([`super::list`]) and an embed macro fed `include_str!` contents
//! assemble migrations the same way, with the same errors. The order of calls
//! is the order of the directory listing, which keeps the first error of a
//! directory the same on every run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::layout::{self, family, NameKind, ParsedName};
use crate::directive;
use crate::error::Error;
use crate::migration::{
    Declaration, Direction, Directives, Layout, Migration, Script, Scripts, Version,
};
use crate::tools::liquibase::Selection;

/// One recognised top-level entry, with the text of a flat file already read.
#[derive(Debug)]
pub(super) struct Unit {
    pub(super) path: PathBuf,
    pub(super) layout: Layout,
    pub(super) version: Version,
    pub(super) name: String,
    pub(super) kind: UnitKind,
}

/// What a top-level entry holds.
#[derive(Debug)]
pub(super) enum UnitKind {
    /// A Cairn or diesel folder, whose files are read with [`Folder`].
    Folder,
    Up(String),
    Down(String),
    Dbmate(String),
    /// A Liquibase formatted SQL file: many migrations.
    Liquibase(String),
}

impl Unit {
    /// A top-level entry named `parsed`; `text` is the file's text, and
    /// `None` for a folder.
    pub(super) fn new(path: PathBuf, parsed: ParsedName, text: Option<String>) -> Unit {
        let text = text.unwrap_or_default();
        let layout = parsed.kind.layout(&text);
        let kind = match parsed.kind {
            NameKind::CairnFolder | NameKind::DieselFolder => UnitKind::Folder,
            NameKind::SqlxUp | NameKind::FlywayUp | NameKind::Repeatable => UnitKind::Up(text),
            NameKind::SqlxDown | NameKind::FlywayUndo => UnitKind::Down(text),
            NameKind::PlainSql if layout == Layout::Dbmate => UnitKind::Dbmate(text),
            NameKind::PlainSql => UnitKind::Up(text),
        };
        Unit {
            path,
            layout,
            version: parsed.version,
            name: parsed.name,
            kind,
        }
    }
}

impl Unit {
    /// A Liquibase formatted SQL file named `name`, with its text.
    pub(super) fn liquibase(path: PathBuf, name: &str, text: String) -> Unit {
        Unit {
            path,
            layout: Layout::Liquibase,
            version: Version::from(0_i64),
            name: name.to_owned(),
            kind: UnitKind::Liquibase(text),
        }
    }
}

/// Refuses a directory whose entries are of more than one layout family.
pub(super) fn check_one_layout(dir: &Path, units: &[Unit]) -> Result<(), Error> {
    // Repeatable `R__` files sit beside any layout.
    let mut units = units.iter().filter(|unit| !unit.version.is_repeatable());
    let Some(first) = units.next() else {
        return Ok(());
    };
    match units.find(|unit| family(unit.layout) != family(first.layout)) {
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

/// The migrations of one directory, as its entries are added.
#[derive(Debug, Default)]
pub(super) struct Assembly {
    migrations: Vec<Migration>,
    /// sqlx and Flyway files, waiting for their partners.
    flat: BTreeMap<Version, Pair>,
    /// The Liquibase changesets to keep.
    selection: Selection,
    /// How many Liquibase files were added.
    liquibase_files: usize,
}

impl Assembly {
    /// An empty assembly keeping the Liquibase changesets `selection` selects.
    pub(super) fn new(selection: &Selection) -> Assembly {
        Assembly {
            selection: selection.clone(),
            ..Assembly::default()
        }
    }

    /// Adds the top-level entry `unit`; a folder's migration is made by
    /// `folder` (the listing reads its files into a [`Folder`]).
    pub(super) fn add(
        &mut self,
        unit: Unit,
        folder: impl FnOnce(Unit) -> Result<Migration, Error>,
    ) -> Result<(), Error> {
        let (text, up) = match unit.kind {
            UnitKind::Folder => {
                self.migrations.push(folder(unit)?);
                return Ok(());
            }
            UnitKind::Dbmate(text) => {
                let migration =
                    crate::tools::dbmate::migration(unit.path, unit.version, unit.name, &text)?;
                self.migrations.push(migration);
                return Ok(());
            }
            UnitKind::Liquibase(text) => {
                self.liquibase_files += 1;
                let migrations = crate::tools::liquibase::migrations(
                    &unit.path,
                    self.liquibase_files,
                    &text,
                    &self.selection,
                )?;
                self.migrations.extend(migrations);
                return Ok(());
            }
            UnitKind::Up(text) => (text, true),
            UnitKind::Down(text) => (text, false),
        };
        let pair = self.flat.entry(unit.version).or_default();
        let slot = if up { &mut pair.up } else { &mut pair.down };
        if let Some(first) = slot {
            return Err(duplicate(unit.version, &first.path, &unit.path));
        }
        *slot = Some(FlatScript {
            path: unit.path,
            name: unit.name,
            layout: unit.layout,
            text,
        });
        Ok(())
    }

    /// Pairs the flat files and returns every migration sorted by version.
    ///
    /// # Errors
    ///
    /// A down or undo script without its up script, an empty up script, a
    /// directive error, and [`Error::DuplicateVersion`].
    pub(super) fn finish(self) -> Result<Vec<Migration>, Error> {
        let mut migrations = self.migrations;
        for (version, pair) in self.flat {
            migrations.push(pair.into_migration(version)?);
        }
        crate::tools::prisma::check_not_mixed(&migrations)?;
        // Stable: among equal versions, the first in directory order stays first.
        migrations.sort_by_key(|migration| migration.version);
        crate::tools::prisma::number_duplicates(&mut migrations);
        for window in migrations.windows(2) {
            if let [first, second] = window {
                if first.version == second.version {
                    return Err(duplicate(first.version, &first.location, &second.location));
                }
            }
        }
        Ok(migrations)
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
        let flat = |file: FlatScript| {
            let no_transaction = file.layout == Layout::Sqlx && sqlx_runs_outside(&file.text);
            script(&file.path, file.text, 1, no_transaction)
        };
        let layout = up.layout;
        let (path, name) = (up.path.clone(), up.name.clone());
        let up_script = flat(up)?;
        // sqlx and golang-migrate run an empty file and record it; Cairn's
        // other layouts refuse one (see the module documentation).
        if layout != Layout::Sqlx {
            check_not_empty(&up_script)?;
        }
        let down = match self.down {
            Some(down) => Scripts {
                plain: Some(flat(down)?),
                overrides: BTreeMap::new(),
            },
            None => Scripts::default(),
        };
        Ok(Migration {
            version,
            name,
            layout,
            location: path,
            up: Scripts {
                plain: Some(up_script),
                overrides: BTreeMap::new(),
            },
            down,
            declaration: None,
        })
    }
}

/// Whether a script of the sqlx/golang-migrate layout runs outside Cairn's
/// transaction: sqlx's `-- no-transaction` first line, or golang-migrate's
/// scripts that must run as written.
fn sqlx_runs_outside(text: &str) -> bool {
    crate::tools::sqlx::no_transaction(text) || crate::tools::golang_migrate::runs_as_written(text)
}

/// A Cairn or diesel migration folder, as its files are added in the order
/// of the folder's listing.
#[derive(Debug)]
pub(super) struct Folder {
    unit: Unit,
    up: Scripts,
    down: Scripts,
    no_transaction: bool,
    /// Prisma's `migration.sql`, when the folder is a Prisma migration.
    prisma: Option<Script>,
}

impl Folder {
    /// An empty folder for the top-level entry `unit`.
    pub(super) fn new(unit: Unit) -> Folder {
        Folder {
            unit,
            up: Scripts::default(),
            down: Scripts::default(),
            no_transaction: false,
            prisma: None,
        }
    }

    /// Adds Prisma's `migration.sql` at `path`: the folder is a Prisma
    /// migration ([`crate::tools::prisma`]).
    pub(super) fn add_prisma(&mut self, path: &Path, text: String) -> Result<(), Error> {
        let no_transaction = crate::tools::golang_migrate::runs_as_written(&text);
        let prisma = script(path, text, 1, no_transaction)?;
        check_not_empty(&prisma)?;
        self.prisma = Some(prisma);
        Ok(())
    }

    /// Checks the name of a `.sql` file before it is read: the error is
    /// [`Error::UnrecognisedName`] for a file that would never run.
    pub(super) fn script_name(
        path: &Path,
        name: Option<&str>,
    ) -> Result<(Direction, Option<crate::engine::Engine>), Error> {
        name.ok_or_else(layout::folder_files)
            .and_then(layout::script_name)
            .map_err(|hint| unrecognised(path, hint))
    }

    /// Adds the script at `path`, named ([`Folder::script_name`]) `direction`
    /// and `engine`, with its normalised text.
    pub(super) fn add_script(
        &mut self,
        path: &Path,
        (direction, engine): (Direction, Option<crate::engine::Engine>),
        text: String,
    ) -> Result<(), Error> {
        let script = script(path, text, 1, false)?;
        if direction == Direction::Up {
            check_not_empty(&script)?;
        }
        let scripts = match direction {
            Direction::Up => &mut self.up,
            Direction::Down => &mut self.down,
        };
        match engine {
            Some(engine) => {
                scripts.overrides.insert(engine, script);
            }
            None => scripts.plain = Some(script),
        }
        Ok(())
    }

    /// Reads diesel's `metadata.toml` at `path`: `run_in_transaction = false`
    /// runs every script of the folder outside a transaction.
    pub(super) fn add_metadata(&mut self, path: &Path, text: &str) -> Result<(), Error> {
        self.no_transaction = crate::tools::diesel::no_transaction(path, text)?;
        Ok(())
    }

    /// The migration, with the text of its `migration.toml` if it has one.
    pub(super) fn finish(self, declaration: Option<(PathBuf, String)>) -> Result<Migration, Error> {
        let Folder {
            mut unit,
            mut up,
            mut down,
            no_transaction,
            prisma,
        } = self;
        if let Some(prisma) = prisma {
            crate::tools::prisma::take_up_script(&mut unit.layout, &mut up, prisma)?;
        }
        // Applied once all scripts are read: metadata.toml sorts between them.
        if no_transaction {
            for script in up_and_down(&mut up, &mut down) {
                script.directives.no_transaction = true;
            }
        }
        let declaration = match declaration {
            Some((path, text)) => {
                let backfills = crate::backfill::spec::parse(&text, &path)?;
                let operations = crate::operation::spec::parse(&text, &path)?;
                // A migration that only backfills has no SQL of its own: empty
                // scripts stand in for it, so it plans, applies, rolls back (its
                // down changes no data) and verifies like any other.
                if up.is_empty() {
                    up.plain = Some(empty_script(&path));
                    if down.is_empty() {
                        down.plain = Some(empty_script(&path));
                    }
                }
                Some(Declaration {
                    path,
                    text,
                    backfills,
                    operations,
                })
            }
            None => None,
        };
        if up.is_empty() {
            return Err(Error::EmptyScript { path: unit.path });
        }
        Ok(Migration {
            version: unit.version,
            name: unit.name,
            layout: unit.layout,
            location: unit.path,
            up,
            down,
            declaration,
        })
    }
}

/// The script of a migration that only backfills: no statements.
fn empty_script(toml: &Path) -> Script {
    Script {
        path: toml.to_owned(),
        first_line: 1,
        text: String::new(),
        directives: Directives::default(),
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

/// Builds a script from normalised text, parsing its directives.
pub(crate) fn script(
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
pub(crate) fn first_code(text: &str) -> Option<usize> {
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
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|&&byte| byte == b'\n')
        .count()
        + 1
}

/// [`Error::UnrecognisedName`] for `path`, with the hint.
pub(super) fn unrecognised(path: &Path, hint: String) -> Error {
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
