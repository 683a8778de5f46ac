//! Alembic (SQLAlchemy's migration tool): revisions are Python files in its
//! versions directory (`<script_location>/versions/*.py`), each declaring
//!
//! ```python
//! revision: str = "1a2b3c4d5e6f"
//! down_revision: Union[str, Sequence[str], None] = None   # or "…", or ("…", "…")
//! branch_labels: Union[str, Sequence[str], None] = None
//! depends_on: Union[str, Sequence[str], None] = None
//! ```
//!
//! Cairn cannot run them (they are Python), so it never treats them as
//! migrations: this module only reads those four assignments, the way they
//! are written (with or without a type annotation, single or double quotes,
//! a tuple or list of strings, `None`), so that `cairn adopt --from alembic`
//! can walk the revision graph ([`history`]). An assignment whose value is
//! not such a literal (a name, a call) is refused with its file and line:
//! Cairn reads the file, it does not run it.
//!
//! Which files are revisions follows Alembic (`alembic/script/base.py`):
//! every `*.py` file directly in the directory except `__init__.py` and
//! editor lock files (`.#…`); sub-folders (`__pycache__`) are not read. A file
//! without `revision` takes it from a legacy name `<hex>.py`, else it is
//! refused, as Alembic refuses it.

pub mod history;

use std::fs;
use std::path::{Path, PathBuf};

/// Where `cairn adopt --from alembic` looks for the revisions unless told
/// (`alembic init alembic` makes it; `alembic.ini`'s `script_location` moves it).
pub const VERSIONS_DIR: &str = "alembic/versions";

/// What one revision file declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revision {
    /// `revision`: the id Alembic stores in `alembic_version`.
    pub id: String,
    /// `down_revision`: the revisions it follows (two or more for a merge).
    pub down: Vec<String>,
    /// `depends_on`: revisions (or branch labels) that must be applied first.
    pub depends_on: Vec<String>,
    /// `branch_labels`.
    pub branch_labels: Vec<String>,
    /// The file.
    pub path: PathBuf,
    /// The line of its `revision` assignment (1 for a legacy file name).
    pub line: usize,
    /// The line of its `down_revision` assignment, for messages.
    pub down_line: usize,
    /// The name Cairn shows: the file name's slug (`create_users` of
    /// `1a2b3c4d5e6f_create_users.py`).
    pub slug: String,
}

/// Why a versions directory cannot be read: what is wrong, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong (with `file:line` where there is one).
    pub what: String,
    /// What to do next.
    pub advice: String,
}

/// The versions directory `cairn adopt --from alembic` reads when not
/// given one: `<script_location>/versions` when an `alembic.ini` in `cwd`
/// names a `script_location` (`%(here)s` being `cwd`), else [`VERSIONS_DIR`].
pub fn default_versions_dir(cwd: &Path) -> PathBuf {
    let script_location = fs::read_to_string(cwd.join("alembic.ini"))
        .ok()
        .and_then(|text| ini_value(&text, "alembic", "script_location"));
    match script_location {
        Some(location) => {
            let here = cwd.display().to_string();
            cwd.join(location.replace("%(here)s", &here))
                .join("versions")
        }
        None => cwd.join(VERSIONS_DIR),
    }
}

/// `key = value` of `[section]` in an ini text, trimmed.
fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.trim().to_owned();
            continue;
        }
        if current != section || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some((name, value)) = line.split_once(['=', ':']) {
            if name.trim() == key {
                return Some(value.trim().to_owned());
            }
        }
    }
    None
}

/// Reads every revision file of `dir`, in file-name order.
///
/// # Errors
///
/// A [`Problem`] when the directory is missing or unreadable, or a file
/// cannot be read as a revision (naming `file:line`).
pub fn read_versions(dir: &Path) -> Result<Vec<Revision>, Problem> {
    let entries = fs::read_dir(dir).map_err(|cause| Problem {
        what: format!("cannot read Alembic's versions directory `{}`: {cause}", dir.display()),
        advice: "Pass --alembic-versions with the directory of its revision files (`<script_location>/versions` of alembic.ini)".to_owned(),
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|cause| Problem {
            what: format!("cannot list `{}`: {cause}", dir.display()),
            advice: "Check the directory's permissions".to_owned(),
        })?;
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if is_revision_file(name) && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    files
        .iter()
        .map(|path| {
            let text = fs::read_to_string(path).map_err(|cause| Problem {
                what: format!("cannot read `{}`: {cause}", path.display()),
                advice: "Alembic revision files are UTF-8 Python: check the file".to_owned(),
            })?;
            parse(path, &text)
        })
        .collect()
}

/// Whether Alembic loads a file of this name as a revision.
fn is_revision_file(name: &str) -> bool {
    name.ends_with(".py") && !name.starts_with("__init__") && !name.starts_with(".#")
}

/// Reads the revision declared in `text`, the content of `path`.
///
/// # Errors
///
/// A [`Problem`] naming `path:line` for an assignment Cairn cannot read, or
/// for a file that declares no `revision`.
pub fn parse(path: &Path, text: &str) -> Result<Revision, Problem> {
    let mut revision: Option<(String, usize)> = None;
    let mut down = (Vec::new(), 0);
    let mut depends_on = Vec::new();
    let mut branch_labels = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut in_docstring: Option<&str> = None;
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        let number = index + 1;
        index += 1;
        if let Some(quote) = in_docstring {
            if line.matches(quote).count() % 2 == 1 {
                in_docstring = None;
            }
            continue;
        }
        if let Some(quote) = ["\"\"\"", "'''"].into_iter().find(|q| line.contains(q)) {
            if line.matches(quote).count() % 2 == 1 {
                in_docstring = Some(quote);
            }
            continue;
        }
        let Some((name, value)) = assignment(line) else {
            continue;
        };
        // A value in brackets may go on over the next lines.
        let mut value = strip_comment(value).to_owned();
        while depth(&value) > 0 && index < lines.len() {
            value.push(' ');
            value.push_str(strip_comment(lines[index]));
            index += 1;
        }
        let bad = |expected: &str| {
            Problem {
            what: format!(
                "{}:{number}: cannot read `{name} = {}`: expected {expected}",
                path.display(),
                value.trim()
            ),
            advice: "Cairn reads revision files, it does not run them: write the value as a literal, as `alembic revision` does".to_owned(),
        }
        };
        let strings =
            literal(&value).ok_or_else(|| bad("a string, a tuple or list of strings, or None"))?;
        match name {
            "revision" => match <[String; 1]>::try_from(strings) {
                Ok([id]) if !id.is_empty() => revision = Some((id, number)),
                _ => return Err(bad("one non-empty string")),
            },
            "down_revision" => down = (strings, number),
            "depends_on" => depends_on = strings,
            _ => branch_labels = strings,
        }
    }
    let file = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let stem = file.strip_suffix(".py").unwrap_or(file);
    let (id, line) = match revision {
        Some(found) => found,
        None if !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_hexdigit()) => {
            (stem.to_owned(), 1)
        }
        None => {
            return Err(Problem {
                what: format!(
                    "{}:1: declares no `revision = \"...\"`, and Alembic refuses such a file in its versions directory too",
                    path.display()
                ),
                advice: "Add the revision's id, or move the file out of the versions directory".to_owned(),
            })
        }
    };
    let slug = match stem.split_once(&format!("{id}_")) {
        Some((_, slug)) if !slug.is_empty() => slug.to_owned(),
        _ => stem.to_owned(),
    };
    Ok(Revision {
        id,
        down: down.0,
        down_line: if down.1 == 0 { line } else { down.1 },
        depends_on,
        branch_labels,
        path: path.to_owned(),
        line,
        slug,
    })
}

/// `(name, value)` of a top-level `name[: annotation] = value` line for
/// one of the four names Alembic reads.
fn assignment(line: &str) -> Option<(&'static str, &str)> {
    ["revision", "down_revision", "branch_labels", "depends_on"]
        .into_iter()
        .find_map(|name| {
            let rest = line.strip_prefix(name)?;
            let rest = rest.trim_start();
            let rest = match rest.strip_prefix(':') {
                // The annotation (`str`, `Union[str, None]`) holds no `=`.
                Some(annotated) => &annotated[annotated.find('=')?..],
                None => rest,
            };
            let value = rest.strip_prefix('=')?;
            (!value.starts_with('=')).then_some((name, value))
        })
}

/// `text` without a trailing `# comment` (outside strings).
fn strip_comment(text: &str) -> &str {
    let mut quote = None;
    for (at, c) in text.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '#') => return &text[..at],
            _ => {}
        }
    }
    text
}

/// How many brackets are open at the end of `text` (outside strings).
fn depth(text: &str) -> i32 {
    let mut quote = None;
    let mut open = 0;
    for c in text.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '(' | '[') => open += 1,
            (None, ')' | ']') => open -= 1,
            _ => {}
        }
    }
    open
}

/// The strings of a literal: `None` (none), `"x"` or `'x'` (one), or a
/// tuple or list of them (`("a", "b")`, `["a"]`, `()`).
fn literal(value: &str) -> Option<Vec<String>> {
    let value = value.trim();
    if value == "None" {
        return Some(Vec::new());
    }
    let inner = value
        .strip_prefix('(')
        .and_then(|v| v.strip_suffix(')'))
        .or_else(|| value.strip_prefix('[').and_then(|v| v.strip_suffix(']')));
    let Some(inner) = inner else {
        return string(value).map(|s| vec![s]);
    };
    let mut items = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let quote = rest.chars().next()?;
        if !matches!(quote, '\'' | '"') {
            return None;
        }
        let end = rest[1..].find(quote)? + 1;
        items.push(rest[1..end].to_owned());
        rest = rest[end + 1..].trim_start();
        match rest.strip_prefix(',') {
            Some(after) => rest = after.trim_start(),
            None if rest.is_empty() => {}
            None => return None,
        }
    }
    Some(items)
}

/// A single- or double-quoted string without escapes.
fn string(value: &str) -> Option<String> {
    let quote = value.chars().next()?;
    if !matches!(quote, '\'' | '"') || value.len() < 2 || !value.ends_with(quote) {
        return None;
    }
    let inner = &value[1..value.len() - 1];
    (!inner.contains(quote) && !inner.contains('\\')).then(|| inner.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &str, text: &str) -> Result<Revision, Problem> {
        parse(Path::new(name), text)
    }

    /// The file `alembic revision -m "create users"` writes (Alembic 1.18).
    const GENERATED: &str = r#""""create users

Revision ID: 1a2b3c4d5e6f
Revises: 0f0e0d0c0b0a
Create Date: 2026-12-01 21:00:00.000000

revision = "not this one, it is in the docstring"
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '1a2b3c4d5e6f'
down_revision: Union[str, Sequence[str], None] = '0f0e0d0c0b0a'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    revision = "local, not read"
    op.create_table("users")
"#;

    #[test]
    fn a_generated_revision_is_read() {
        let revision = read("1a2b3c4d5e6f_create_users.py", GENERATED).unwrap();
        assert_eq!(revision.id, "1a2b3c4d5e6f");
        assert_eq!(revision.down, ["0f0e0d0c0b0a"]);
        assert!(revision.depends_on.is_empty() && revision.branch_labels.is_empty());
        assert_eq!((revision.line, revision.down_line), (16, 17));
        assert_eq!(revision.slug, "create_users");
    }

    #[test]
    fn values_in_every_form_alembic_users_write() {
        for (text, down) in [
            ("revision = \"b\"\ndown_revision = None\n", &[][..]),
            (
                "revision = 'b'\ndown_revision = 'a'  # the first\n",
                &["a"][..],
            ),
            (
                "revision: str = \"b\"\ndown_revision: Union[str, None] = (\"a\", 'c')\n",
                &["a", "c"][..],
            ),
            ("revision = 'b'\ndown_revision = ['a',]\n", &["a"][..]),
            (
                "revision = 'b'\ndown_revision = (\n    'a',\n    'c',  # merged\n)\n",
                &["a", "c"][..],
            ),
            ("revision = 'b'\ndown_revision = ()\n", &[][..]),
        ] {
            let revision = read("b_x.py", text).unwrap_or_else(|p| panic!("{text}: {p:?}"));
            assert_eq!(revision.id, "b", "{text}");
            assert_eq!(revision.down, down, "{text}");
        }
        let labelled = read(
            "b.py",
            "revision = 'b'\nbranch_labels = ('core',)\ndepends_on = 'a'\n",
        )
        .unwrap();
        assert_eq!(labelled.branch_labels, ["core"]);
        assert_eq!(labelled.depends_on, ["a"]);
        assert_eq!(labelled.slug, "b");
    }

    #[test]
    fn a_value_that_is_not_a_literal_names_the_file_and_line() {
        let problem = read(
            "v/b_x.py",
            "import os\nrevision = 'b'\ndown_revision = os.environ['X']\n",
        )
        .unwrap_err();
        assert_eq!(
            problem.what,
            "v/b_x.py:3: cannot read `down_revision = os.environ['X']`: expected a string, a tuple or list of strings, or None"
        );
        let problem = read("v/b_x.py", "revision = ('a', 'b')\n").unwrap_err();
        assert!(
            problem.what.starts_with(
                "v/b_x.py:1: cannot read `revision = ('a', 'b')`: expected one non-empty string"
            ),
            "{problem:?}"
        );
    }

    #[test]
    fn a_file_without_revision_is_refused_unless_its_name_is_one() {
        let problem = read("v/notes.py", "down_revision = None\n").unwrap_err();
        assert!(
            problem
                .what
                .starts_with("v/notes.py:1: declares no `revision"),
            "{problem:?}"
        );
        assert_eq!(
            read("v/ae1027a6acf.py", "down_revision = None\n")
                .unwrap()
                .id,
            "ae1027a6acf"
        );
    }

    #[test]
    fn the_versions_directory_is_read_as_alembic_reads_it() {
        let dir = crate::tools::test_support::tree(&[
            ("b_two.py", "revision = 'b'\ndown_revision = 'a'\n"),
            ("a_one.py", "revision = 'a'\ndown_revision = None\n"),
            ("__init__.py", ""),
            ("README", "not Python"),
            ("__pycache__/a_one.cpython-311.pyc", "\0"),
        ]);
        let revisions = read_versions(dir.path()).unwrap();
        let ids: Vec<_> = revisions.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        let missing = read_versions(&dir.path().join("nowhere")).unwrap_err();
        assert!(
            missing
                .what
                .contains("cannot read Alembic's versions directory"),
            "{missing:?}"
        );
        assert!(missing.advice.contains("--alembic-versions"), "{missing:?}");
    }

    #[test]
    fn alembic_ini_moves_the_default_versions_directory() {
        let dir = crate::tools::test_support::tree(&[(
            "alembic.ini",
            "[alembic]\n# the scripts\nscript_location = %(here)s/db\n\n[loggers]\nscript_location = no\n",
        )]);
        assert_eq!(
            default_versions_dir(dir.path()),
            dir.path().join("db/versions")
        );
        let bare = crate::tools::test_support::tree(&[]);
        assert_eq!(
            default_versions_dir(bare.path()),
            bare.path().join("alembic/versions")
        );
    }
}
