//! Liquibase formatted SQL: `--liquibase formatted sql` files of `--changeset author:id` with `--rollback`; history table `databasechangelog` (MD5 checksums).
//!
//! # The layout, as Liquibase runs it
//!
//! A `.sql` file of the migrations directory whose first line is `--liquibase
//! formatted sql` (any case and spacing, any name: `changelog.sql`,
//! `001-init.sql`) holds changesets, each opened by `--changeset author:id
//! [attribute:value ...]` and running to the next one. Liquibase has no
//! versions; it runs files in changelog order and changesets in file order.
//! Cairn reads each changeset as one migration:
//!
//! - **Version**: `<file> × 100000 + <changeset>`, where `<file>` is the
//!   file's position among the directory's Liquibase files (by name, from 1)
//!   and `<changeset>` the changeset's position in its file (from 1), so
//!   `001-init.sql`'s second changeset is version `100002`. Appending a
//!   changeset to a file, or a file after the others, changes no existing
//!   version; inserting one before others does (Liquibase forbids editing what
//!   ran, and so does Cairn's checksum). The name is `author:id`.
//! - **Body**: the lines after the header, without its `--rollback` lines and
//!   `/* liquibase rollback */` blocks (which become the down script, in file
//!   order) and without `--ignoreLines` ranges; `-- cairn:` directives at its
//!   top work as in any script. An empty changeset is refused.
//! - **Attributes** honoured: `runInTransaction:false` (as
//!   `-- cairn:no-transaction`), `dbms:postgresql,mysql,!sqlite` (as
//!   `-- cairn:engines`; `mariadb` is mysql, `all` and `none` as in Liquibase),
//!   `context:`/`contextFilter:` and `labels:` (selected with `cairn
//!   --contexts` and `--label-filter`, [`Selection`]), `ignore:true` (skipped),
//!   `endDelimiter:` (a statement ends where a line ends with it), and
//!   `splitStatements`, `stripComments`, `logicalFilePath`, `failOnError:true`
//!   (accepted: Cairn's splitter is dialect-aware, so bodies in dollar quotes or
//!   `BEGIN … END` stay whole as with `splitStatements:false`, and comments are
//!   harmless).
//! - **Refused**, with the file and line, because Cairn cannot honour them:
//!   preconditions (`--preconditions`, `--precondition-*`), `runWith`,
//!   `runWithSpoolFile`, `failOnError:false`, `runOnChange` and `runAlways`
//!   (repeatable changesets; Cairn's repeatable migrations are not merged yet),
//!   `--rollback changeSetId:` (a rollback reusing another changeset),
//!   `--property` (Cairn does not substitute `${}` properties),
//!   `rollbackEndDelimiter`/`rollbackSplitStatements`, and attributes Cairn
//!   does not know.
//! - Statements before the first changeset, and a changeset given twice, are
//!   refused as Liquibase refuses them.

pub mod history;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::engine::Engine;
use crate::error::{Error, Location};
use crate::migration::{Layout, Migration, Scripts, Version};
use crate::source::assemble::{first_code, script};

/// Versions per Liquibase file: `<file> × FILE + <changeset>`.
const FILE: i64 = 100_000;

/// Which changesets run: Liquibase's `--contexts` and `--label-filter`.
///
/// `None` runs every changeset, whatever its context or labels, as Liquibase
/// does when the option is not given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Selection {
    /// The contexts of this run (`--contexts test,dev`); a changeset runs if
    /// it has no `context:` or its context expression holds for them.
    pub contexts: Option<BTreeSet<String>>,
    /// The label expression of this run (`--label-filter "v1 and !slow"`); a
    /// changeset runs if it has no `labels:` or the expression holds for its
    /// labels.
    pub labels: Option<String>,
}

impl Selection {
    /// A selection from the command line's comma-separated contexts and
    /// label expression.
    pub fn new(contexts: Option<&str>, labels: Option<&str>) -> Selection {
        Selection {
            contexts: contexts.map(|list| {
                list.split(',')
                    .map(|context| context.trim().to_ascii_lowercase())
                    .filter(|context| !context.is_empty())
                    .collect()
            }),
            labels: labels.map(str::to_owned),
        }
    }
}

/// Whether `text` (normalised) is a Liquibase formatted SQL file: its first
/// line is `--liquibase formatted sql`.
pub(crate) fn is_formatted(text: &str) -> bool {
    let first = text.lines().next().unwrap_or("");
    let Some(rest) = first.trim_start().strip_prefix("--") else {
        return false;
    };
    let rest = rest.trim_start().to_ascii_lowercase();
    rest.strip_prefix("liquibase")
        .is_some_and(|rest| rest.trim_start().starts_with("formatted"))
}

/// One changeset as read, before it becomes a migration.
struct Changeset {
    author: String,
    id: String,
    line: usize,
    attributes: Attributes,
    body: Vec<String>,
    rollback: Vec<(usize, String)>,
}

#[derive(Default)]
struct Attributes {
    no_transaction: bool,
    engines: Option<BTreeSet<Engine>>,
    context: Option<String>,
    labels: Option<String>,
    ignore: bool,
    end_delimiter: Option<String>,
}

/// Reads the Liquibase file at `path` (its `position` among the directory's
/// Liquibase files, from 1) into one migration per changeset that `selection`
/// keeps.
///
/// # Errors
///
/// [`Error::BadDirective`] with the file and line for everything the module
/// documentation lists as refused; the directive errors of the bodies.
pub(crate) fn migrations(
    path: &Path,
    position: usize,
    text: &str,
    selection: &Selection,
) -> Result<Vec<Migration>, Error> {
    let bad = |line: usize, message: String| Error::BadDirective {
        location: Location::new(path, line),
        message,
    };
    let mut changesets: Vec<Changeset> = Vec::new();
    let mut in_block: Option<usize> = None;
    let mut ignoring: Option<usize> = None;
    let mut skip_lines = 0usize;
    for (index, line) in text.lines().enumerate().skip(1) {
        let number = index + 1;
        let trimmed = line.trim();
        let comment = trimmed
            .strip_prefix("--")
            .map(|rest| rest.trim_start().to_owned());
        let lower = comment.as_deref().map(str::to_ascii_lowercase);
        let lower = lower.as_deref();

        if ignoring.is_some() {
            if lower.is_some_and(|c| c.starts_with("ignorelines:end")) {
                ignoring = None;
            }
            push_blank(&mut changesets);
            continue;
        }
        if skip_lines > 0 {
            skip_lines -= 1;
            push_blank(&mut changesets);
            continue;
        }
        if let Some(start) = in_block {
            let Some(current) = changesets.last_mut() else {
                return Err(bad(
                    start,
                    "a rollback block outside a changeset".to_owned(),
                ));
            };
            current.body.push(String::new());
            match line.split_once("*/") {
                Some((before, _)) => {
                    current.rollback.push((number, before.to_owned()));
                    in_block = None;
                }
                None => current.rollback.push((number, line.to_owned())),
            }
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("/*") {
            let rest_lower = rest.trim_start().to_ascii_lowercase();
            if let Some(after) = rest_lower.strip_prefix("liquibase") {
                if after.trim_start().starts_with("rollback") {
                    let Some(current) = changesets.last_mut() else {
                        return Err(bad(
                            number,
                            "a rollback block outside a changeset: put it after its \
                             `--changeset` line"
                                .to_owned(),
                        ));
                    };
                    current.body.push(String::new());
                    // The block may close on its first line.
                    let start = rest.to_ascii_lowercase().find("rollback").unwrap_or(0) + 8;
                    let content = &rest[start..];
                    match content.split_once("*/") {
                        Some((inside, _)) => current.rollback.push((number, inside.to_owned())),
                        None => {
                            if !content.trim().is_empty() {
                                current.rollback.push((number, content.to_owned()));
                            }
                            in_block = Some(number);
                        }
                    }
                    continue;
                }
            }
        }
        let Some(lower) = lower else {
            match changesets.last_mut() {
                Some(current) => current.body.push(line.to_owned()),
                None if trimmed.is_empty() => {}
                None => {
                    return Err(bad(
                        number,
                        "this statement comes before the first `--changeset` line and belongs \
                         to no changeset: move it into one"
                            .to_owned(),
                    ))
                }
            }
            continue;
        };
        let comment = comment.unwrap_or_default();
        if let Some(rest) = strip_word(&comment, lower, "changeset") {
            let changeset = header(rest, number, &bad)?;
            if let Some(first) = changesets
                .iter()
                .find(|c| c.author == changeset.author && c.id == changeset.id)
            {
                return Err(bad(
                    number,
                    format!(
                        "changeset `{}:{}` is given twice (first at line {}): give this one \
                         another id",
                        changeset.author, changeset.id, first.line
                    ),
                ));
            }
            changesets.push(changeset);
            continue;
        }
        if let Some(rest) = strip_word(&comment, lower, "rollback") {
            let Some(current) = changesets.last_mut() else {
                return Err(bad(
                    number,
                    "a `--rollback` line outside a changeset: put it after its `--changeset` line"
                        .to_owned(),
                ));
            };
            if rest
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("changesetid:")
            {
                return Err(bad(
                    number,
                    "a rollback that reuses another changeset (`--rollback changeSetId:`) is not \
                     supported: write the rollback statements here"
                        .to_owned(),
                ));
            }
            current.body.push(String::new());
            current.rollback.push((number, rest.to_owned()));
            continue;
        }
        if lower.starts_with("precondition") {
            return Err(bad(
                number,
                "Liquibase preconditions are not supported: Cairn runs no SQL to decide whether \
                 a changeset runs; remove the precondition (or use `-- cairn:engines` and \
                 `dbms:` for engine-specific changesets)"
                    .to_owned(),
            ));
        }
        if lower.starts_with("property") {
            return Err(bad(
                number,
                "Liquibase `--property` and `${}` substitution are not supported: write the \
                 values into the SQL"
                    .to_owned(),
            ));
        }
        if let Some(rest) = lower.strip_prefix("ignorelines:") {
            let rest = rest.trim();
            if rest == "start" {
                ignoring = Some(number);
            } else if let Ok(n) = rest.parse::<usize>() {
                skip_lines = n;
            } else {
                return Err(bad(
                    number,
                    format!("`--ignoreLines:{rest}`: write `start`, `end` or a number of lines"),
                ));
            }
            push_blank(&mut changesets);
            continue;
        }
        // `--comment:`, `--validCheckSum:` and plain comments stay in the body.
        if let Some(current) = changesets.last_mut() {
            current.body.push(line.to_owned());
        }
    }
    if let Some(start) = in_block {
        return Err(bad(
            start,
            "this `/* liquibase rollback` block is never closed: end it with `*/`".to_owned(),
        ));
    }
    if let Some(start) = ignoring {
        return Err(bad(
            start,
            "`--ignoreLines:start` without `--ignoreLines:end`".to_owned(),
        ));
    }

    let mut migrations = Vec::new();
    for (index, changeset) in changesets.into_iter().enumerate() {
        let version = Version::from(
            i64::try_from(position)
                .ok()
                .and_then(|file| file.checked_mul(FILE))
                .and_then(|base| base.checked_add(index as i64 + 1))
                .unwrap_or(i64::MAX),
        );
        if index as i64 + 1 >= FILE {
            return Err(bad(
                changeset.line,
                format!(
                    "a Liquibase file holds at most {} changesets for Cairn: split it",
                    FILE - 1
                ),
            ));
        }
        if changeset.attributes.ignore || !selected(&changeset, selection) {
            continue;
        }
        migrations.push(into_migration(path, version, changeset)?);
    }
    Ok(migrations)
}

/// A blank line in the current changeset's body, for a line that is not part
/// of it, so that line numbers stay those of the file.
fn push_blank(changesets: &mut [Changeset]) {
    if let Some(current) = changesets.last_mut() {
        current.body.push(String::new());
    }
}

/// `comment` without its leading `word` (matched in `lower`, its lowercase
/// form), if the word is followed by a space or ends it.
fn strip_word<'c>(comment: &'c str, lower: &str, word: &str) -> Option<&'c str> {
    let rest = lower.strip_prefix(word)?;
    (rest.is_empty() || rest.starts_with(char::is_whitespace))
        .then(|| comment[word.len()..].trim_start())
}

/// Splits a header's rest into words, keeping `"quoted words"` whole.
fn words(rest: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in rest.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn unquote(value: &str) -> String {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
        .to_owned()
}

/// Parses `author:id [attribute:value ...]` of a `--changeset` line.
fn header(
    rest: &str,
    line: usize,
    bad: &dyn Fn(usize, String) -> Error,
) -> Result<Changeset, Error> {
    let words = words(rest);
    let identity = words.first().map(String::as_str).unwrap_or("");
    let (author, id) = match identity.split_once(':') {
        Some((author, id)) if !author.is_empty() && !id.is_empty() => {
            (unquote(author), unquote(id))
        }
        _ => {
            return Err(bad(
                line,
                format!(
                    "a changeset line reads `--changeset author:id`, found `--changeset {rest}`"
                ),
            ))
        }
    };
    let mut attributes = Attributes::default();
    for word in &words[1..] {
        let Some((name, value)) = word.split_once(':') else {
            return Err(bad(
                line,
                format!("`{word}` is not an attribute: attributes read `name:value`"),
            ));
        };
        let value = unquote(value);
        let flag = |value: &str| match value.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(bad(
                line,
                format!("`{name}` is `true` or `false`, found `{other}`"),
            )),
        };
        match name.to_ascii_lowercase().as_str() {
            "runintransaction" => attributes.no_transaction = !flag(&value)?,
            "dbms" => attributes.engines = Some(dbms(&value, line, bad)?),
            "context" | "contextfilter" | "contexts" => attributes.context = Some(value),
            "labels" | "label" => attributes.labels = Some(value),
            "ignore" => attributes.ignore = flag(&value)?,
            "enddelimiter" => attributes.end_delimiter = Some(value),
            "splitstatements" | "stripcomments" | "logicalfilepath" | "created" => {
                if name.eq_ignore_ascii_case("splitstatements")
                    || name.eq_ignore_ascii_case("stripcomments")
                {
                    flag(&value)?;
                }
            }
            "failonerror" => {
                if !flag(&value)? {
                    return Err(bad(
                        line,
                        "`failOnError:false` is not supported: Cairn stops at a failing \
                         statement so that nothing half-applied goes unnoticed; remove it and \
                         make the statement succeed (`IF EXISTS`, ...)"
                            .to_owned(),
                    ));
                }
            }
            "runonchange" | "runalways" => {
                if flag(&value)? {
                    return Err(bad(
                        line,
                        format!(
                            "`{name}:true` makes a repeatable changeset, which Cairn does not \
                             run yet: remove it and add a new changeset for each change"
                        ),
                    ));
                }
            }
            "runwith" | "runwithspoolfile" => {
                return Err(bad(
                    line,
                    format!(
                        "`{name}` is not supported: Cairn runs changesets through its own \
                         driver, not sqlplus or psql; remove it"
                    ),
                ))
            }
            "rollbackenddelimiter" | "rollbacksplitstatements" => {
                return Err(bad(
                    line,
                    format!("`{name}` is not supported: end each rollback statement with `;`"),
                ))
            }
            _ => return Err(bad(line, format!("unknown changeset attribute `{name}`"))),
        }
    }
    Ok(Changeset {
        author,
        id,
        line,
        attributes,
        body: Vec::new(),
        rollback: Vec::new(),
    })
}

/// The engines a `dbms:` list keeps.
fn dbms(
    list: &str,
    line: usize,
    bad: &dyn Fn(usize, String) -> Error,
) -> Result<BTreeSet<Engine>, Error> {
    // `postgresql`, `mysql`, `mariadb`, `sqlite`; Liquibase's other names
    // (`h2`, `oracle`, ...) are no engine of Cairn's.
    let engine = |name: &str| name.parse::<Engine>().ok();
    let mut positive = BTreeSet::new();
    let mut any_positive = false;
    let mut negative = BTreeSet::new();
    for name in list.split(',').map(|n| n.trim().to_ascii_lowercase()) {
        if name.is_empty() {
            return Err(bad(line, format!("`dbms:{list}` has an empty name")));
        }
        if let Some(name) = name.strip_prefix('!') {
            negative.extend(engine(name));
            continue;
        }
        any_positive = true;
        match name.as_str() {
            "all" => positive.extend(Engine::ALL),
            "none" => {}
            other => positive.extend(engine(other)),
        }
    }
    if !any_positive {
        positive.extend(Engine::ALL);
    }
    Ok(positive.difference(&negative).copied().collect())
}

/// Whether `selection` keeps `changeset`.
fn selected(changeset: &Changeset, selection: &Selection) -> bool {
    let context_ok = match (&selection.contexts, &changeset.attributes.context) {
        (Some(contexts), Some(expression)) => holds(expression, contexts),
        _ => true,
    };
    let labels_ok = match (&selection.labels, &changeset.attributes.labels) {
        (Some(expression), Some(labels)) => {
            let labels: BTreeSet<String> = labels
                .split(',')
                .map(|label| label.trim().to_ascii_lowercase())
                .collect();
            holds(expression, &labels)
        }
        _ => true,
    };
    context_ok && labels_ok
}

/// Evaluates a Liquibase context or label expression (`a, b`, `a or b`,
/// `a and !b`, `not a`, parentheses) against a set of names, ignoring case.
pub(crate) fn holds(expression: &str, names: &BTreeSet<String>) -> bool {
    let expression = expression.trim();
    if let Some(inner) = expression
        .strip_prefix('(')
        .and_then(|e| e.strip_suffix(')'))
        .filter(|inner| balanced(inner))
    {
        return holds(inner, names);
    }
    if let Some(parts) = split_top(expression, &[",", " or "]) {
        return parts.iter().any(|part| holds(part, names));
    }
    if let Some(parts) = split_top(expression, &[" and "]) {
        return parts.iter().all(|part| holds(part, names));
    }
    if let Some(rest) = expression.strip_prefix('!') {
        return !holds(rest, names);
    }
    if let Some(rest) = expression.to_ascii_lowercase().strip_prefix("not ") {
        return !holds(rest, names);
    }
    let name = expression.to_ascii_lowercase();
    name.is_empty() || names.contains(&name)
}

fn balanced(text: &str) -> bool {
    let mut depth = 0i32;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// Splits `text` at the `separators` outside parentheses (ignoring case);
/// `None` if there is none.
fn split_top(text: &str, separators: &[&str]) -> Option<Vec<String>> {
    let lower = text.to_ascii_lowercase();
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        let c = lower.as_bytes()[i];
        match c {
            b'(' => depth += 1,
            b')' => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            if let Some(separator) = separators.iter().find(|s| lower[i..].starts_with(**s)) {
                parts.push(text[start..i].to_owned());
                i += separator.len();
                start = i;
                continue;
            }
        }
        i += 1;
    }
    if parts.is_empty() {
        return None;
    }
    parts.push(text[start..].to_owned());
    Some(parts)
}

/// The migration of one changeset.
fn into_migration(path: &Path, version: Version, changeset: Changeset) -> Result<Migration, Error> {
    let Changeset {
        author,
        id,
        line,
        attributes,
        body,
        rollback,
    } = changeset;
    let name = format!("{author}:{id}");
    // Blank lines at the end (before the next changeset, or a rollback
    // line's place) are no part of it: appending a changeset after a blank
    // line must not change this one's checksum.
    let mut body = body;
    while body.last().is_some_and(|line| line.trim().is_empty()) {
        body.pop();
    }
    let mut up_text = body.join("\n");
    up_text.push('\n');
    if first_code(&up_text).is_none() {
        return Err(Error::BadDirective {
            location: Location::new(path, line),
            message: format!(
                "changeset `{name}` has no SQL: write its statements below the `--changeset` \
                 line, or delete it"
            ),
        });
    }
    let mut up = script(path, up_text, line + 1, attributes.no_transaction)?;
    let down = match rollback.first() {
        Some(&(first, _)) => {
            // Gaps between rollback lines stay blank, so lines keep their numbers.
            let mut lines: BTreeMap<usize, &str> = BTreeMap::new();
            for (number, text) in &rollback {
                lines.insert(*number, text.as_str());
            }
            let last = rollback.last().map_or(first, |(number, _)| *number);
            let mut text: String = (first..=last)
                .map(|number| lines.get(&number).copied().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            text.push('\n');
            Some(script(path, text, first, attributes.no_transaction)?)
        }
        None => None,
    };
    let mut down = Scripts {
        plain: down,
        overrides: BTreeMap::new(),
    };
    if let Some(engines) = attributes.engines {
        up.directives.engines = Some(engines);
    }
    let mut up = Scripts {
        plain: Some(up),
        overrides: BTreeMap::new(),
    };
    if let Some(delimiter) = attributes.end_delimiter.filter(|d| d != ";") {
        end_delimiter(&mut up, &delimiter);
        end_delimiter(&mut down, &delimiter);
    }
    Ok(Migration {
        version,
        name,
        layout: Layout::Liquibase,
        location: PathBuf::from(path),
        up,
        down,
        declaration: None,
    })
}

/// Honours `endDelimiter:X`: a statement ends where a line ends with `X`.
/// On MySQL the script becomes `DELIMITER X … DELIMITER ;` (the splitter's own
/// form); elsewhere the delimiters at line ends become `;`, which the
/// dialect's splitter reads the same way (bodies in dollar quotes or
/// `BEGIN … END` are whole statements there).
fn end_delimiter(scripts: &mut Scripts, delimiter: &str) {
    let Some(plain) = scripts.plain.take() else {
        return;
    };
    let mut semicolons = plain.clone();
    semicolons.text = plain
        .text
        .lines()
        .map(|line| {
            let trimmed = line.trim_end();
            match trimmed.strip_suffix(delimiter) {
                Some(before) => format!("{before};"),
                None => line.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    let mut mysql = plain;
    // The `DELIMITER` line takes the place of the line above the body, so
    // that line numbers stay the file's.
    mysql.first_line = mysql.first_line.saturating_sub(1).max(1);
    mysql.text = format!("DELIMITER {delimiter}\n{}DELIMITER ;\n", mysql.text);
    for engine in Engine::ALL {
        // The engines whose splitter reads `DELIMITER` lines (MySQL's client).
        let script = if crate::dialect::for_engine(engine)
            .split_rules()
            .delimiter_directive
        {
            mysql.clone()
        } else {
            semicolons.clone()
        };
        scripts.overrides.insert(engine, script);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::{fail, read, tree};

    const CHANGELOG: &str = "\
--liquibase formatted sql

--changeset alice:1
CREATE TABLE person (id INT PRIMARY KEY, name TEXT);
--rollback DROP TABLE person;

--changeset alice:2 runInTransaction:false dbms:postgresql
CREATE INDEX CONCURRENTLY person_name ON person (name);
--rollback DROP INDEX CONCURRENTLY person_name;

--changeset bob:3 context:test labels:seed,v1
INSERT INTO person VALUES (1, 'Ada');
/* liquibase rollback
DELETE FROM person
WHERE id = 1;
*/

--changeset bob:4 dbms:!postgresql,!sqlite
ALTER TABLE person ADD COLUMN note TEXT;
--rollback ALTER TABLE person
--rollback DROP COLUMN note;
";

    #[test]
    fn changesets_read_as_migrations_in_file_order() {
        let dir = tree(&[("changelog.sql", CHANGELOG)]);
        let migrations = read(&dir);
        let summary: Vec<_> = migrations
            .iter()
            .map(|m| (m.version.key(), m.name.as_str(), m.layout))
            .collect();
        assert_eq!(
            summary,
            [
                (100001, "alice:1", Layout::Liquibase),
                (100002, "alice:2", Layout::Liquibase),
                (100003, "bob:3", Layout::Liquibase),
                (100004, "bob:4", Layout::Liquibase),
            ]
        );
        let up = |i: usize| migrations[i].up.plain.as_ref().unwrap();
        let down = |i: usize| migrations[i].down.plain.as_ref().unwrap();
        assert_eq!(up(0).first_line, 4);
        assert!(up(0).text.starts_with("CREATE TABLE person"));
        assert!(!up(0).text.contains("DROP"), "{}", up(0).text);
        assert_eq!(down(0).text, " DROP TABLE person;\n".trim_start());
        assert_eq!(down(0).first_line, 5);
        assert!(up(1).directives.no_transaction);
        assert!(migrations[1].applies_to(Engine::Postgres));
        assert!(!migrations[1].applies_to(Engine::Sqlite));
        assert_eq!(down(2).text, "DELETE FROM person\nWHERE id = 1;\n\n");
        assert_eq!(down(2).first_line, 14);
        assert!(migrations[3].applies_to(Engine::Mysql));
        assert!(!migrations[3].applies_to(Engine::Postgres));
        assert_eq!(down(3).text, "ALTER TABLE person\nDROP COLUMN note;\n");
    }

    #[test]
    fn appending_a_changeset_changes_no_checksum_of_those_before() {
        let before = tree(&[("changelog.sql", CHANGELOG)]);
        let after = tree(&[(
            "changelog.sql",
            &format!("{CHANGELOG}\n\n--changeset carol:5\nSELECT 5;\n"),
        )]);
        let sums = |dir| -> Vec<String> {
            read(dir)
                .iter()
                .take(4)
                .map(|m| m.checksum(Engine::Mysql).unwrap_or_default())
                .collect()
        };
        assert_eq!(sums(&before), sums(&after));
    }

    #[test]
    fn contexts_and_labels_select_changesets() {
        let dir = tree(&[("changelog.sql", CHANGELOG)]);
        let names = |selection: Selection| -> Vec<String> {
            crate::source::read_dir_with(dir.path(), &selection)
                .unwrap()
                .into_iter()
                .map(|m| m.name)
                .collect()
        };
        assert_eq!(names(Selection::new(Some("prod"), None)).len(), 3);
        assert!(names(Selection::new(Some("test, dev"), None)).contains(&"bob:3".to_owned()));
        assert!(!names(Selection::new(None, Some("!seed"))).contains(&"bob:3".to_owned()));
        assert!(names(Selection::new(None, Some("v1 and seed"))).contains(&"bob:3".to_owned()));
        assert_eq!(names(Selection::default()).len(), 4);
    }

    #[test]
    fn expressions_follow_liquibase() {
        let set = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
        assert!(holds("test", &set(&["test"])));
        assert!(holds("dev, test", &set(&["test"])));
        assert!(holds("dev or test", &set(&["test"])));
        assert!(!holds("dev and test", &set(&["test"])));
        assert!(holds("!dev", &set(&["test"])));
        assert!(holds("(dev or test) and !prod", &set(&["test"])));
        assert!(!holds("(dev or test) and !prod", &set(&["test", "prod"])));
        assert!(holds("TEST", &set(&["test"])));
    }

    #[test]
    fn files_number_their_changesets_by_file_then_position() {
        let dir = tree(&[
            ("001-init.sql", "--liquibase formatted sql\n--changeset a:1\nSELECT 1;\n--changeset a:2\nSELECT 2;\n"),
            ("002-more.sql", "-- Liquibase Formatted SQL\n--changeset b:1\nSELECT 3;\n"),
        ]);
        let versions: Vec<Version> = read(&dir).iter().map(|m| m.version).collect();
        assert_eq!(versions, [100001, 100002, 200001]);
    }

    #[test]
    fn end_delimiter_ends_statements_at_line_ends() {
        let text = "--liquibase formatted sql\n--changeset a:1 endDelimiter:/\n\
                    CREATE TABLE t (id INT)/\nINSERT INTO t VALUES (1)/\n";
        let dir = tree(&[("c.sql", text)]);
        let migration = &read(&dir)[0];
        let pg = migration.up.for_engine(Engine::Postgres).unwrap();
        assert_eq!(
            pg.text,
            "CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1);\n"
        );
        let statements = crate::split::split(&pg.text, Engine::Postgres).unwrap();
        assert_eq!(statements.len(), 2);
        assert_eq!(pg.location(statements[1].line).line(), 4);
        let my = migration.up.for_engine(Engine::Mysql).unwrap();
        let statements = crate::split::split(&my.text, Engine::Mysql).unwrap();
        assert_eq!(statements.len(), 2, "{statements:?}");
        assert_eq!(my.location(statements[0].line).line(), 3);
    }

    /// Asserts that reading a file of `text` fails at `line` saying `part`.
    fn refused(text: &str, line: usize, part: &str) {
        let dir = tree(&[("c.sql", text)]);
        let error = fail(&dir);
        let message = error.to_string();
        assert!(
            matches!(&error, Error::BadDirective { location, .. } if location.line() == line),
            "{error:?}"
        );
        assert!(message.contains(part), "{message}\nlacks {part}");
        assert!(message.contains(&format!("c.sql:{line}")), "{message}");
    }

    #[test]
    fn what_cairn_cannot_honour_is_refused_with_the_line() {
        let head = "--liquibase formatted sql\n";
        for (rest, line, part) in [
            (
                "--changeset a:1\n--preconditions onFail:HALT\n--precondition-sql-check expectedResult:0 SELECT 1\nSELECT 1;\n",
                3,
                "preconditions are not supported",
            ),
            ("--changeset a:1 runWith:sqlplus\nSELECT 1;\n", 2, "`runWith` is not supported"),
            ("--changeset a:1 runOnChange:true\nSELECT 1;\n", 2, "repeatable changeset"),
            ("--changeset a:1 runAlways:true\nSELECT 1;\n", 2, "repeatable changeset"),
            ("--changeset a:1 failOnError:false\nSELECT 1;\n", 2, "failOnError:false"),
            ("--changeset a:1 colour:blue\nSELECT 1;\n", 2, "unknown changeset attribute"),
            ("--changeset a:1\nSELECT 1;\n--rollback changeSetId:2 changesetAuthor:a\n", 4, "changeSetId"),
            ("--property name:x value:1\n--changeset a:1\nSELECT 1;\n", 2, "--property"),
            ("SELECT 0;\n--changeset a:1\nSELECT 1;\n", 2, "before the first `--changeset`"),
            ("--changeset a:1\nSELECT 1;\n--changeset a:1\nSELECT 2;\n", 4, "given twice"),
            ("--changeset a:1\n-- nothing\n", 2, "has no SQL"),
            ("--changeset nobody\nSELECT 1;\n", 2, "`--changeset author:id`"),
            ("--changeset a:1\nSELECT 1;\n/* liquibase rollback\nDROP TABLE t;\n", 4, "never closed"),
        ] {
            refused(&format!("{head}{rest}"), line, part);
        }
    }

    #[test]
    fn ignored_lines_and_changesets_are_left_out() {
        let text = "--liquibase formatted sql\n--changeset a:1\nSELECT 1;\n--ignoreLines:start\n\
                    SELECT 'not run';\n--ignoreLines:end\n--ignoreLines:1\nSELECT 'nor this';\n\
                    SELECT 2;\n--changeset a:2 ignore:true\nSELECT 3;\n";
        let dir = tree(&[("c.sql", text)]);
        let migrations = read(&dir);
        assert_eq!(migrations.len(), 1);
        let up = migrations[0].up.plain.as_ref().unwrap();
        assert!(
            !up.text.contains("not run") && !up.text.contains("nor this"),
            "{}",
            up.text
        );
        let statements = crate::split::split(&up.text, Engine::Sqlite).unwrap();
        assert_eq!(up.location(statements[1].line).line(), 9);
    }
}
