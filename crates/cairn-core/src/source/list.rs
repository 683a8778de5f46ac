//! Listing a migrations directory and reading its files: the only I/O of
//! [`crate::source`].
//!
//! The listing walks entries in byte order of their names and hands names to
//! the layout grammar ([`super::layout`]) and texts to the assembly
//! ([`super::assemble`]) in that order, so the same directory always gives the
//! same first error.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::assemble::{self, unrecognised, Assembly, Folder, Unit};
use super::layout::{self, is_ignored, parse_name, NewShape};
use crate::checksum;
use crate::error::{Error, Location};
use crate::migration::{Layout, Migration, Version};
use crate::tools::liquibase::Selection;

/// Reads every migration in `dir`, detecting the layout, sorted by version.
///
/// # Errors
///
/// [`Error::MissingDirectory`] if `dir` does not exist; [`Error::Io`],
/// [`Error::NotUtf8`] for unreadable files; [`Error::UnrecognisedName`] for an
/// entry that fits no layout; [`Error::MixedLayouts`], [`Error::DuplicateVersion`],
/// [`Error::EmptyScript`]; and the directive errors of [`crate::directive::parse`].
pub fn read_dir(dir: &Path) -> Result<Vec<Migration>, Error> {
    read_dir_with(dir, &Selection::default())
}

/// [`read_dir`], keeping only the Liquibase changesets `selection` selects
/// (its `--contexts` and `--label-filter`).
///
/// # Errors
///
/// As [`read_dir`].
pub fn read_dir_with(dir: &Path, selection: &Selection) -> Result<Vec<Migration>, Error> {
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

    let dir = &prisma_dir(dir);
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
        let parsed = parse_name(name, is_dir);
        // Any `.sql` name may be a Liquibase changelog: its first line says.
        let maybe_liquibase = !is_dir
            && name.ends_with(".sql")
            && parsed
                .as_ref()
                .map_or(true, |parsed| parsed.kind == layout::NameKind::PlainSql);
        let mut text = None;
        if maybe_liquibase {
            kind.check_regular(&path)?;
            let read = read_text(&path)?;
            if crate::tools::liquibase::is_formatted(&read) {
                units.push(Unit::liquibase(path, name, read));
                continue;
            }
            text = Some(read);
        }
        let parsed = parsed.map_err(|hint| unrecognised(&path, hint))?;
        if !is_dir {
            kind.check_regular(&path)?;
        }
        let text = match (parsed.kind.is_folder(), text) {
            (true, _) => None,
            (false, Some(text)) => Some(text),
            (false, None) => Some(read_text(&path)?),
        };
        units.push(Unit::new(path, parsed, text));
    }
    assemble::check_one_layout(dir, &units)?;

    let mut assembly = Assembly::new(selection);
    for unit in units {
        assembly.add(unit, read_folder)?;
    }
    assembly.finish()
}

/// The directory to read: `dir` itself, or `dir/migrations` when `dir` is
/// Prisma's `prisma/` folder (no lock file of its own, its `migrations/` has
/// one; see [`crate::tools::prisma`]).
fn prisma_dir(dir: &Path) -> PathBuf {
    let lock = crate::tools::prisma::LOCK_FILE;
    let nested = dir.join("migrations");
    if !dir.join(lock).exists() && nested.join(lock).is_file() {
        nested
    } else {
        dir.to_owned()
    }
}

/// Checks that the migrations in `dir` were written for `engine`, where their
/// layout says so: Prisma's `migration_lock.toml` names one provider
/// ([`crate::tools::prisma`]). Call it once connected, before anything runs.
///
/// # Errors
///
/// [`Error::BadDirective`] at the line naming another engine; [`Error::Io`]
/// if the lock file cannot be read.
pub fn check_engine(dir: &Path, engine: crate::engine::Engine) -> Result<(), Error> {
    let path = prisma_dir(dir).join(crate::tools::prisma::LOCK_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => crate::tools::prisma::check_provider(&path, &text, engine),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(cause) => Err(io_error(&path, cause)),
    }
}

/// The layout of one entry of a migrations directory, if it has one.
///
/// `entry` is the path of a file or folder directly inside the migrations
/// directory; its name decides the layout, except for `<version>_<name>.sql`,
/// which is read to tell dbmate (a `-- migrate:up` line) from up-only sqlx.
/// Returns `Ok(None)` for ignored entries (hidden, README, `*.md`, `cairn.toml`)
/// and for names that fit no layout.
///
/// # Errors
///
/// [`Error::Io`] if the entry cannot be inspected or read, and [`Error::NotUtf8`]
/// if a `<version>_<name>.sql` file is not UTF-8.
pub fn detect_layout(entry: &Path) -> Result<Option<Layout>, Error> {
    Ok(inspect(entry)?.map(|(_, shape)| shape.layout()))
}

/// The version and [`NewShape`] of one top-level entry, as [`detect_layout`].
fn inspect(entry: &Path) -> Result<Option<(Version, NewShape)>, Error> {
    let Some(name) = entry.file_name().and_then(|name| name.to_str()) else {
        return Ok(None);
    };
    if is_ignored(name) {
        return Ok(None);
    }
    let Ok(parsed) = parse_name(name, is_dir(entry)?) else {
        return Ok(None);
    };
    let text = match parsed.kind {
        layout::NameKind::PlainSql => {
            EntryKind::Unknown.check_regular(entry)?;
            read_text(entry)?
        }
        _ => String::new(),
    };
    let shape = match NewShape::beside(parsed.kind, &text) {
        NewShape::CairnFolder if entry.join(crate::tools::prisma::SCRIPT).is_file() => {
            NewShape::PrismaFolder
        }
        NewShape::DieselFolder if name.len() > 18 && name.as_bytes()[17] == b'-' => {
            NewShape::DieselSubversionFolder
        }
        shape => shape,
    };
    Ok(Some((parsed.version, shape)))
}

/// What `cairn new` needs to know of a migrations directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survey {
    /// The version of every entry that fits a layout, in listing order.
    pub versions: Vec<Version>,
    /// The shape a new migration takes: that of the entry with the highest
    /// version (the first of them in listing order), or
    /// [`NewShape::CairnFolder`] in a directory without migrations.
    pub shape: NewShape,
}

/// Surveys the migrations directory `dir` for a new migration: the versions
/// taken, and the layout to follow.
///
/// Entries that fit no layout are skipped here; [`read_dir`] reports them.
///
/// # Errors
///
/// [`Error::Io`] if `dir` or an entry cannot be listed or read, and
/// [`Error::NotUtf8`] if a `<version>_<name>.sql` file is not UTF-8.
pub fn survey(dir: &Path) -> Result<Survey, Error> {
    let mut versions = Vec::new();
    let mut latest: Option<(Version, NewShape)> = None;
    for entry in sorted_entries(dir)? {
        let Some((version, shape)) = inspect(&entry.path)? else {
            continue;
        };
        versions.push(version);
        // A repeatable `R__` file sits beside any layout: it says nothing of the shape.
        if !version.is_repeatable() && latest.is_none_or(|(highest, _)| version > highest) {
            latest = Some((version, shape));
        }
    }
    Ok(Survey {
        versions,
        shape: latest.map_or(NewShape::CairnFolder, |(_, shape)| shape),
    })
}

/// The Liquibase changelog a new changeset goes to: the last formatted-SQL
/// file of `dir` in name order (the order Cairn numbers them in), with its
/// position among them (from 1), if there is one.
/// `cairn new` appends to it, which changes no existing version (see
/// [`crate::tools::liquibase`]).
///
/// # Errors
///
/// [`Error::Io`] if `dir` or a `.sql` file cannot be read, [`Error::NotUtf8`]
/// for a `.sql` file that is not UTF-8.
pub fn liquibase_changelog(dir: &Path) -> Result<Option<(PathBuf, usize)>, Error> {
    let mut last = None;
    let mut position = 0;
    for Entry { name, path, kind } in sorted_entries(dir)? {
        let is_sql = name
            .to_str()
            .is_some_and(|n| n.ends_with(".sql") && !is_ignored(n));
        if !is_sql || kind.is_dir(&path)? {
            continue;
        }
        kind.check_regular(&path)?;
        if crate::tools::liquibase::is_formatted(&read_text(&path)?) {
            position += 1;
            last = Some(path);
        }
    }
    Ok(last.map(|path| (path, position)))
}

/// Reads a Cairn or diesel migration folder.
fn read_folder(unit: Unit) -> Result<Migration, Error> {
    let dir = unit.path.clone();
    let mut folder = Folder::new(unit);
    let mut declaration = None;
    for Entry { name, path, kind } in sorted_entries(&dir)? {
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
            declaration = Some(path);
            continue;
        }
        if lossy == "metadata.toml" {
            folder.add_metadata(&path, &read_text(&path)?)?;
            continue;
        }
        if lossy == crate::tools::prisma::SCRIPT {
            folder.add_prisma(&path, read_text(&path)?)?;
            continue;
        }
        let script = Folder::script_name(&path, name.to_str())?;
        folder.add_script(&path, script, read_text(&path)?)?;
    }
    let declaration = match declaration {
        Some(path) => {
            let text = read_text(&path)?;
            Some((path, text))
        }
        None => None,
    };
    folder.finish(declaration)
}

/// Reads a file as UTF-8 and normalises it for the checksum contract.
fn read_text(path: &Path) -> Result<String, Error> {
    let bytes = read_bytes(path).map_err(|source| io_error(path, source))?;
    let text = String::from_utf8(bytes).map_err(|error| Error::NotUtf8 {
        path: path.to_owned(),
        offset: error.utf8_error().valid_up_to(),
    })?;
    checked_text(path, text)
}

/// Refuses a text with a NUL character and normalises it for the checksum
/// contract: what every script read from disk or from memory goes through.
pub(super) fn checked_text(path: &Path, text: String) -> Result<String, Error> {
    if let Some(offset) = text.find('\0') {
        let start = text[..offset].rfind('\n').map_or(0, |newline| newline + 1);
        return Err(Error::NulByte {
            location: Location::new(path, assemble::line_of(&text, offset))
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
