//! dbmate: one `<version>_<name>.sql` with `-- migrate:up` / `-- migrate:down` sections; history table `schema_migrations` (version).
//!
//! # The layout, as dbmate runs it
//!
//! A `<version>_<name>.sql` file is dbmate's when a line of it reads
//! `-- migrate:up` or `-- migrate:down` (else it is an up-only sqlx script).
//! dbmate finds its markers with `(?m)^--\s*migrate:up(\s*$|\s+\S+)` (and the
//! same for `down`): a marker **starts its line**. Cairn reads them the same way:
//!
//! - the up section runs from the `-- migrate:up` line to the `-- migrate:down`
//!   line (or the end of the file), the down section from there to the end;
//!   options after the marker (`transaction:false`) apply to that section;
//! - an *indented* marker line (`  -- migrate:down`) is no marker to dbmate,
//!   just a comment inside the section it sits in. When the file has a real
//!   marker of that direction too, Cairn reads the indented line as dbmate does:
//!   a comment. When it has none, dbmate refuses the file (it requires an up and
//!   a down marker), and so does Cairn, saying to remove the indentation,
//!   rather than run the down statements as part of the up section;
//! - statements before `-- migrate:up`, `down` before `up`, and a second marker
//!   of a direction are refused with the line, as dbmate refuses them;
//! - a file without a down marker at all is accepted, with no down script
//!   (dbmate itself requires one; Cairn's `down` then refuses with a hint).
//!   An empty up section is refused ([`Error::EmptyScript`]), as for Cairn's
//!   own layout.

pub mod history;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::{Error, Location};
use crate::migration::{Direction, Layout, Migration, Scripts, Version};
use crate::source::assemble::{first_code, line_of, script};

/// A marker-like line: `-- migrate:up [options]` or `-- migrate:down
/// [options]`, indented or not.
fn marker_like(line: &str) -> Option<(Direction, &str)> {
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

/// A marker as dbmate reads it: a marker-like line that starts its line.
fn marker(line: &str) -> Option<(Direction, &str)> {
    line.starts_with("--").then(|| marker_like(line)).flatten()
}

/// Whether a `<version>_<name>.sql` text is a dbmate file: a marker-like line,
/// indented or not (an indented one is then refused or read as dbmate reads
/// it, never run as sqlx).
pub(crate) fn has_marker(text: &str) -> bool {
    text.lines().any(|line| marker_like(line).is_some())
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
///
/// # Errors
///
/// [`Error::BadDirective`] with the line for markers out of order, repeated,
/// indented where dbmate would refuse the file, statements before the up
/// marker and unknown options; [`Error::EmptyScript`] for an empty up section;
/// the directive errors of the sections.
pub(crate) fn migration(
    path: PathBuf,
    version: Version,
    name: String,
    text: &str,
) -> Result<Migration, Error> {
    let mut markers = Vec::new();
    let mut indented = Vec::new();
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if let Some((direction, options)) = marker(line) {
            markers.push(Marker {
                direction,
                options,
                line: index + 1,
                start: offset,
                end: offset + line.len(),
            });
        } else if let Some((direction, _)) = marker_like(line) {
            indented.push((direction, index + 1));
        }
        offset += line.len();
    }
    let at = |line: usize| Location::new(&path, line);
    let bad = |line: usize, message: String| Error::BadDirective {
        location: at(line),
        message,
    };
    for (direction, line) in &indented {
        if !markers.iter().any(|marker| marker.direction == *direction) {
            return Err(bad(
                *line,
                format!(
                    "this `-- migrate:{direction}` is indented: dbmate reads a marker only at the \
                     start of a line, so it would not see this one and would refuse the file; \
                     remove the indentation"
                ),
            ));
        }
    }

    let (up, down) = match markers.as_slice() {
        [up] if up.direction == Direction::Up => (up, None),
        [up, down] if up.direction == Direction::Up && down.direction == Direction::Down => {
            (up, Some(down))
        }
        _ => {
            let (line, message) = order_problem(&markers);
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

    let section = |marker: &Marker<'_>, end: usize| -> Result<crate::migration::Script, Error> {
        let mut no_transaction = false;
        for option in marker.options.split_whitespace() {
            match option {
                "transaction:false" => no_transaction = true,
                "transaction:true" => {}
                other => {
                    return Err(bad(
                        marker.line,
                        format!(
                            "unknown dbmate option `{other}`: the only option is \
                             `transaction:false`"
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
fn order_problem(markers: &[Marker<'_>]) -> (usize, String) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::{fail, read, tree};

    #[test]
    fn an_indented_down_marker_without_a_real_one_is_refused_with_its_line() {
        let dir = tree(&[(
            "1_a.sql",
            "-- migrate:up\nCREATE TABLE t (id INT);\n  -- migrate:down\nDROP TABLE t;\n",
        )]);
        let error = fail(&dir);
        let message = error.to_string();
        assert!(
            matches!(&error, Error::BadDirective { location, .. } if location.line() == 3),
            "{error:?}"
        );
        assert!(message.contains("is indented"), "{message}");
        assert!(message.contains("remove the indentation"), "{message}");
        assert!(message.contains("1_a.sql:3"), "{message}");
    }

    #[test]
    fn an_indented_up_marker_is_refused_too() {
        let dir = tree(&[("1_a.sql", "\t-- migrate:up\nCREATE TABLE t (id INT);\n")]);
        assert!(fail(&dir).to_string().contains("1_a.sql:1"));
    }

    #[test]
    fn an_indented_marker_beside_a_real_one_is_a_comment_as_dbmate_reads_it() {
        let text = "-- migrate:up\nCREATE TABLE t (id INT);\n    -- migrate:down\n\
                    CREATE TABLE u (id INT);\n-- migrate:down\nDROP TABLE u;\nDROP TABLE t;\n";
        let dir = tree(&[("1_a.sql", text)]);
        let migration = &read(&dir)[0];
        let up = &migration.up.plain.as_ref().unwrap().text;
        assert!(up.contains("CREATE TABLE u"), "{up}");
        assert!(up.contains("    -- migrate:down"), "{up}");
        let down = &migration.down.plain.as_ref().unwrap();
        assert_eq!(down.text, "DROP TABLE u;\nDROP TABLE t;\n");
        assert_eq!(down.first_line, 6);
    }
}
