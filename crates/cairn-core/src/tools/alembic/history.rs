//! How `cairn adopt --from alembic` reads the history table this tool wrote.
//!
//! `alembic_version (version_num varchar(32) PRIMARY KEY)` holds only the
//! **current heads** of the revision graph, one row per head; no checksum,
//! no failed state. What is applied is every ancestor of a stored head
//! (through `down_revision` and `depends_on`), so the revision files are read
//! ([`super::read_versions`]) and the graph is walked here.
//!
//! Alembic revisions are Python code Cairn cannot run, so the adopted history
//! is a **baseline**: each applied revision becomes a Cairn baseline row, and
//! new migrations continue in Cairn. Revisions have no number, so the Cairn
//! version of a revision is its position in the graph's order (1 for the
//! first, the base; ties between branches broken by revision id): the head is
//! version N for N revisions, and `cairn new`'s `YYYYMMDDHHMMSS` versions sort
//! after them.
//!
//! Refused, each with what to do: a stored head with no file, a
//! `down_revision` or `depends_on` naming no revision, two files with one id,
//! a cycle, more than one head in the files (Alembic's `upgrade head` refuses
//! that too), and revisions the stored heads do not reach (not applied yet:
//! Cairn cannot apply them, Alembic must).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{Problem, Revision};
use crate::adopt::{self, BadValue, ForeignHistory, ForeignRow, RowKind};
use crate::dialect::Dialect;
use crate::driver::Rows;
use crate::migration::Version;

/// Alembic's default table (`version_table` in env.py renames it).
pub const TABLE: &str = "alembic_version";

/// The query, the columns it needs and a hint when they are missing.
pub(crate) fn select(dialect: &dyn Dialect, table: &str) -> (String, &'static str, &'static str) {
    (
        adopt::select(dialect, table, &["version_num"], Some("version_num")),
        "version_num",
        "is it Alembic's? pass --table with the version_table of env.py",
    )
}

/// The revision ids the table holds (the current heads).
pub(crate) fn heads(rows: &Rows) -> Result<Vec<String>, BadValue> {
    rows.iter()
        .enumerate()
        .map(|(index, row)| {
            let position = adopt::positional(index);
            let id = adopt::required(row, 0, &position, "version_num", "a revision id")?;
            if id.trim().is_empty() {
                return Err(BadValue {
                    row: position,
                    column: "version_num",
                    value: format!("'{id}'"),
                    expected: "a revision id",
                });
            }
            Ok(id.trim().to_owned())
        })
        .collect()
}

/// The adopted history: a baseline row per revision the stored `heads`
/// reach in `revisions` (read from `dir`), at its position in the graph.
///
/// # Errors
///
/// A [`Problem`] for each refusal of the module documentation.
pub fn baseline(
    heads: &[String],
    revisions: &[Revision],
    dir: &Path,
) -> Result<ForeignHistory, Problem> {
    let order = order(revisions, dir)?;
    let by_id: BTreeMap<&str, &Revision> = revisions.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut applied = BTreeSet::new();
    let mut stack = Vec::new();
    for head in heads {
        let Some(revision) = by_id.get(head.as_str()) else {
            return Err(Problem {
                what: format!(
                    "`{TABLE}` holds revision {head}, but no file in `{}` declares `revision = \"{head}\"`",
                    dir.display()
                ),
                advice: "Restore its file (from version control), or pass --alembic-versions with the versions directory Alembic ran (`version_locations` of alembic.ini)".to_owned(),
            });
        };
        stack.push(*revision);
    }
    while let Some(revision) = stack.pop() {
        if !applied.insert(revision.id.as_str()) {
            continue;
        }
        for parent in parents(revision, revisions) {
            stack.push(parent);
        }
    }
    let pending: Vec<&Revision> = order
        .iter()
        .filter(|r| !applied.contains(r.id.as_str()))
        .copied()
        .collect();
    if !pending.is_empty() {
        let names: Vec<String> = pending.iter().map(|r| describe(r)).collect();
        return Err(Problem {
            what: format!(
                "{} of {} Alembic revisions {} not applied ({})",
                pending.len(),
                order.len(),
                if pending.len() == 1 { "is" } else { "are" },
                names.join(", ")
            ),
            advice: "Cairn cannot run Alembic's Python migrations: run `alembic upgrade head` first, then adopt again".to_owned(),
        });
    }
    let mut history = ForeignHistory::default();
    for (position, revision) in order.iter().enumerate() {
        let version = Version::new(i64::try_from(position + 1).unwrap_or(i64::MAX));
        let mut row = ForeignRow::applied(revision.id.clone(), version);
        row.name = Some(revision.slug.clone());
        row.kind = RowKind::Code;
        history.rows.push(row);
    }
    Ok(history)
}

/// `1a2b3c4d5e6f (versions/1a2b3c4d5e6f_create_users.py)`.
fn describe(revision: &Revision) -> String {
    format!("{} ({})", revision.id, revision.path.display())
}

/// The revisions `revision` follows or depends on. Every name resolves
/// (checked by [`order`]).
fn parents<'r>(revision: &Revision, revisions: &'r [Revision]) -> Vec<&'r Revision> {
    revision
        .down
        .iter()
        .chain(&revision.depends_on)
        .filter_map(|name| resolve(name, revisions))
        .collect()
}

/// A revision by id, or by one of its branch labels (as `depends_on` may name it).
fn resolve<'r>(name: &str, revisions: &'r [Revision]) -> Option<&'r Revision> {
    revisions.iter().find(|r| r.id == name).or_else(|| {
        revisions
            .iter()
            .find(|r| r.branch_labels.iter().any(|l| l == name))
    })
}

/// The revisions in graph order: every revision after those it follows or
/// depends on; among those ready at once, the lowest id first.
///
/// # Errors
///
/// Two files with one id, a name that resolves to no revision, a cycle, or
/// more than one head.
fn order<'r>(revisions: &'r [Revision], dir: &Path) -> Result<Vec<&'r Revision>, Problem> {
    let mut by_id: BTreeMap<&str, &Revision> = BTreeMap::new();
    for revision in revisions {
        if let Some(first) = by_id.insert(&revision.id, revision) {
            return Err(Problem {
                what: format!(
                    "two files declare revision {}: {}:{} and {}:{}",
                    revision.id,
                    first.path.display(),
                    first.line,
                    revision.path.display(),
                    revision.line
                ),
                advice: "Remove the copy, or give one of them an id of its own (and fix the down_revision that names it)".to_owned(),
            });
        }
    }
    let mut waiting: BTreeMap<&str, usize> = BTreeMap::new();
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for revision in revisions {
        let mut count = 0;
        for (what, name) in revision
            .down
            .iter()
            .map(|n| ("down_revision", n))
            .chain(revision.depends_on.iter().map(|n| ("depends_on", n)))
        {
            let parent = resolve(name, revisions).ok_or_else(|| Problem {
                what: format!(
                    "{}:{}: revision {} has {what} {name}, which no file in `{}` declares",
                    revision.path.display(),
                    revision.down_line,
                    revision.id,
                    dir.display()
                ),
                advice:
                    "Restore the missing revision's file (from version control), or fix the name"
                        .to_owned(),
            })?;
            count += 1;
            children.entry(&parent.id).or_default().push(&revision.id);
        }
        waiting.insert(&revision.id, count);
    }
    let mut ready: BTreeSet<&str> = waiting
        .iter()
        .filter(|(_, count)| **count == 0)
        .map(|(id, _)| *id)
        .collect();
    let mut order = Vec::with_capacity(revisions.len());
    while let Some(id) = ready.pop_first() {
        order.push(by_id[id]);
        for child in children.get(id).into_iter().flatten() {
            let count = waiting.get_mut(child).expect("every revision waits");
            *count -= 1;
            if *count == 0 {
                ready.insert(child);
            }
        }
    }
    if order.len() < revisions.len() {
        let cycle: Vec<String> = revisions
            .iter()
            .filter(|r| waiting[r.id.as_str()] > 0)
            .map(describe)
            .collect();
        return Err(Problem {
            what: format!(
                "the revisions form a cycle through down_revision and depends_on: {}",
                cycle.join(", ")
            ),
            advice:
                "Alembic cannot run such a graph either: fix the down_revision that points forward"
                    .to_owned(),
        });
    }
    // A dependency is reached from what depends on it: only a revision
    // nothing follows or depends on is a head of its own line.
    let followed: BTreeSet<&str> = revisions
        .iter()
        .flat_map(|r| r.down.iter().chain(&r.depends_on))
        .filter_map(|name| resolve(name, revisions))
        .map(|r| r.id.as_str())
        .collect();
    let heads: Vec<String> = revisions
        .iter()
        .filter(|r| !followed.contains(r.id.as_str()))
        .map(describe)
        .collect();
    if heads.len() > 1 {
        return Err(Problem {
            what: format!(
                "the revisions have {} heads: {}; Cairn continues one line of history",
                heads.len(),
                heads.join(", ")
            ),
            advice: "Merge them with `alembic merge heads`, run `alembic upgrade head`, then adopt again".to_owned(),
        });
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::adopt::Target;

    fn rev(id: &str, down: &[&str]) -> Revision {
        Revision {
            id: id.to_owned(),
            down: down.iter().map(|d| (*d).to_owned()).collect(),
            depends_on: Vec::new(),
            branch_labels: Vec::new(),
            path: PathBuf::from(format!("versions/{id}_m.py")),
            line: 3,
            down_line: 4,
            slug: format!("m{id}"),
        }
    }

    fn adopt(heads: &[&str], revisions: &[Revision]) -> Result<Vec<(String, Version)>, Problem> {
        let heads: Vec<String> = heads.iter().map(|h| (*h).to_owned()).collect();
        let history = baseline(&heads, revisions, Path::new("versions"))?;
        Ok(history
            .rows
            .into_iter()
            .map(|row| {
                assert_eq!(row.kind, RowKind::Code);
                match row.target {
                    Target::Version(v) => (row.key, v),
                    Target::UpTo(v) => panic!("up to {v}"),
                }
            })
            .collect())
    }

    fn ids(rows: &[(String, Version)]) -> Vec<(&str, i64)> {
        rows.iter()
            .map(|(id, v)| (id.as_str(), v.to_string().parse().unwrap()))
            .collect()
    }

    #[test]
    fn a_chain_gets_versions_in_graph_order_not_id_order() {
        let revisions = [rev("ff", &["0a"]), rev("0a", &[]), rev("11", &["ff"])];
        let rows = adopt(&["11"], &revisions).unwrap();
        assert_eq!(ids(&rows), [("0a", 1), ("ff", 2), ("11", 3)]);
    }

    #[test]
    fn a_merged_graph_orders_branches_by_id() {
        let revisions = [
            rev("a", &[]),
            rev("c", &["a"]),
            rev("b", &["a"]),
            rev("m", &["c", "b"]),
        ];
        let rows = adopt(&["m"], &revisions).unwrap();
        assert_eq!(ids(&rows), [("a", 1), ("b", 2), ("c", 3), ("m", 4)]);
    }

    #[test]
    fn depends_on_counts_as_applied_and_may_name_a_branch_label() {
        let mut lib = rev("l", &[]);
        lib.branch_labels = vec!["lib".into()];
        let mut app = rev("b", &["a"]);
        app.depends_on = vec!["lib".into()];
        let rows = adopt(&["z"], &[rev("a", &[]), app, lib, rev("z", &["b"])]).unwrap();
        assert_eq!(ids(&rows), [("a", 1), ("l", 2), ("b", 3), ("z", 4)]);
    }

    #[test]
    fn unapplied_revisions_are_refused_with_upgrade_head() {
        let revisions = [rev("a", &[]), rev("b", &["a"]), rev("c", &["b"])];
        let problem = adopt(&["a"], &revisions).unwrap_err();
        assert_eq!(
            problem.what,
            "2 of 3 Alembic revisions are not applied (b (versions/b_m.py), c (versions/c_m.py))"
        );
        assert!(problem.advice.contains("run `alembic upgrade head` first"));
        let problem = adopt(&[], &revisions).unwrap_err();
        assert!(problem.what.starts_with("3 of 3"), "{problem:?}");
        assert!(adopt(&[], &[]).unwrap().is_empty());
    }

    #[test]
    fn a_stored_head_without_a_file_is_refused() {
        let problem = adopt(&["9f"], &[rev("a", &[])]).unwrap_err();
        assert_eq!(
            problem.what,
            "`alembic_version` holds revision 9f, but no file in `versions` declares `revision = \"9f\"`"
        );
        assert!(problem.advice.contains("--alembic-versions"));
    }

    #[test]
    fn two_heads_are_refused_with_merge_heads() {
        let revisions = [rev("a", &[]), rev("b", &["a"]), rev("c", &["a"])];
        let problem = adopt(&["b", "c"], &revisions).unwrap_err();
        assert_eq!(
            problem.what,
            "the revisions have 2 heads: b (versions/b_m.py), c (versions/c_m.py); Cairn continues one line of history"
        );
        assert!(problem.advice.contains("alembic merge heads"));
    }

    #[test]
    fn a_cycle_is_refused_naming_its_revisions() {
        let revisions = [rev("a", &[]), rev("b", &["a", "c"]), rev("c", &["b"])];
        let problem = adopt(&["c"], &revisions).unwrap_err();
        assert_eq!(
            problem.what,
            "the revisions form a cycle through down_revision and depends_on: b (versions/b_m.py), c (versions/c_m.py)"
        );
    }

    #[test]
    fn a_missing_down_revision_and_a_duplicate_id_name_their_files() {
        let problem = adopt(&["b"], &[rev("b", &["a"])]).unwrap_err();
        assert_eq!(
            problem.what,
            "versions/b_m.py:4: revision b has down_revision a, which no file in `versions` declares"
        );
        let mut copy = rev("a", &[]);
        copy.path = PathBuf::from("versions/copy.py");
        let problem = adopt(&["a"], &[rev("a", &[]), copy]).unwrap_err();
        assert_eq!(
            problem.what,
            "two files declare revision a: versions/a_m.py:3 and versions/copy.py:3"
        );
    }

    #[test]
    fn the_table_holds_revision_ids() {
        let rows = vec![vec![Some("1a2b3c4d5e6f".into())]];
        assert_eq!(heads(&rows).unwrap(), ["1a2b3c4d5e6f"]);
        assert!(heads(&vec![vec![None]]).is_err());
        assert!(heads(&vec![vec![Some(" ".into())]]).is_err());
    }
}
