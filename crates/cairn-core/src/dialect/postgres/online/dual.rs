//! Two columns under their final names, kept equal both ways while
//! `expanded`: what `rename_column` and `change_column_type` share.
//!
//! The four phases are two moves, each done to either side:
//! - *prepare* (expand adds the new column next to the old one; un-contract
//!   adds the old one back next to the new one): add the column nullable
//!   without a default, copy the comment, create the sync trigger, and carry
//!   the primary key, indexes, unique constraints, checks and foreign keys
//!   of the old column (as they were before expand) onto the added column under Cairn's
//!   names (`cairn_<version>_<index>_n…` for the new side, `…_o…` for the old
//!   one): indexes `CONCURRENTLY`, constraints `NOT VALID`.
//! - *finish* (contract keeps the new column; abort keeps the old one): NOT
//!   NULL and the default of the old column onto the kept one, validate the
//!   carried constraints, move sequence ownership, drop the triggers and the
//!   other column (which drops that column's indexes and constraints with
//!   it; a primary key is made again on the kept side's index in the same
//!   transaction), then give the kept side's carried objects their
//!   original names.
//!
//! So abort works from the expand shape (where the kept old column still has
//! everything, and the renames find nothing to do) and from the un-contract
//! shape alike, and leaves the table as it was before expand.

use super::{backfill, guards, indexes, lit, not_null, q, sql, triggers, Target};
use crate::operation::{Phases, Step, Versions};
use crate::schema::{Column, ForeignKey, Index};

/// A two-column operation on one table.
pub(super) struct Dual<'a> {
    /// The table.
    pub table: &'a Target<'a>,
    /// The old column, as it was before expand.
    pub old: &'a str,
    /// Its shape before expand.
    pub old_column: &'a Column,
    /// The new column.
    pub new: &'a str,
    /// The new column's type and collation, as DDL (`text COLLATE "C"`).
    pub new_type: String,
    /// Whether the new column holds the same values as the old (a rename):
    /// then the old default, checks and foreign keys are the new column's
    /// as they are; else (a type change) each is carried only where it
    /// still fits the new type.
    pub same_values: bool,
    /// `up` over the table's columns (the backfill's), and over `NEW`.
    pub up: (String, String),
    /// `down` over the table's columns, and over `NEW`.
    pub down: (String, String),
}

/// One side of the pair.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    /// The old column.
    Old,
    /// The new column.
    New,
}

impl Side {
    fn tag(self) -> char {
        match self {
            Side::Old => 'o',
            Side::New => 'n',
        }
    }

    fn other(self) -> Side {
        match self {
            Side::Old => Side::New,
            Side::New => Side::Old,
        }
    }
}

/// What is carried from the old column to the other.
enum Carried<'a> {
    PrimaryKey(&'a [String]),
    Index(&'a Index),
    Unique(&'a [String]),
    Check(&'a str),
    ForeignKey(&'a ForeignKey),
}

/// One carried object: its original name, its kind, and its ordinal among
/// the carried objects (for Cairn's name).
struct Object<'a> {
    original: &'a str,
    what: Carried<'a>,
    ordinal: usize,
}

impl<'a> Dual<'a> {
    fn column(&self, side: Side) -> &'a str {
        match side {
            Side::Old => self.old,
            Side::New => self.new,
        }
    }

    fn trigger(&self) -> String {
        self.table.object("sync")
    }

    /// The indexes and constraints of the old column, as before expand.
    fn carried(&self) -> Vec<Object<'a>> {
        let table = self.table.table;
        let mut out = Vec::new();
        if let Some(pk) = &table.primary_key {
            if pk.columns.iter().any(|c| c == self.old) {
                let name = pk.name.as_deref().unwrap_or("");
                out.push((name, Carried::PrimaryKey(&pk.columns)));
            }
        }
        for (name, index) in &table.indexes {
            let keys = index.columns.iter().chain(&index.predicate);
            if keys.into_iter().any(|k| sql::mentions(k, self.old)) {
                out.push((name.as_str(), Carried::Index(index)));
            }
        }
        for (name, columns) in &table.unique_constraints {
            if columns.iter().any(|c| c == self.old) {
                out.push((name.as_str(), Carried::Unique(columns)));
            }
        }
        for (name, check) in &table.checks {
            if sql::mentions(check, self.old) {
                out.push((name.as_str(), Carried::Check(check)));
            }
        }
        for (name, fk) in &table.foreign_keys {
            if fk.columns.iter().any(|c| c == self.old) {
                out.push((name.as_str(), Carried::ForeignKey(fk)));
            }
        }
        out.into_iter()
            .enumerate()
            .map(|(ordinal, (original, what))| Object {
                original,
                what,
                ordinal,
            })
            .collect()
    }

    /// Cairn's name of `object` on `side`.
    fn name(&self, object: &Object<'_>, side: Side) -> String {
        let kind = match object.what {
            Carried::PrimaryKey(_) => "pk",
            Carried::Index(_) => "ix",
            Carried::Unique(_) => "uq",
            Carried::Check(_) => "ck",
            Carried::ForeignKey(_) => "fk",
        };
        self.table
            .object(&format!("{}{kind}{}", side.tag(), object.ordinal))
    }

    /// The original SQL of the old column with the old column renamed to
    /// `side`'s.
    fn on(&self, text: &str, side: Side) -> String {
        match side {
            Side::Old => text.to_owned(),
            Side::New => sql::rename_column(text, self.old, self.new),
        }
    }

    fn columns_on(&self, columns: &[String], side: Side) -> String {
        columns
            .iter()
            .map(|c| q(if c == self.old { self.column(side) } else { c }))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The step that builds `object` on `side` (expand, un-contract).
    fn build(&self, object: &Object<'_>, side: Side) -> Step {
        let t = self.table;
        let name = self.name(object, side);
        let index_step = |definition: String| {
            indexes::build(
                t,
                &name,
                definition,
                format!(
                    "build index {name} on {}.{} like {} (concurrently)",
                    t.key,
                    self.column(side),
                    object.original
                ),
            )
        };
        match &object.what {
            Carried::Index(index) => index_step(indexes::definition(t, &name, index, |text| {
                self.on(text, side)
            })),
            Carried::PrimaryKey(columns) | Carried::Unique(columns) => index_step(format!(
                "CREATE UNIQUE INDEX CONCURRENTLY {} ON {} ({})",
                q(&name),
                t.sql,
                self.columns_on(columns, side)
            )),
            Carried::Check(check) => {
                let check = check.trim_end_matches(" NOT VALID");
                Step::new(
                    format!(
                        "add check {name} like {} on {}.{}, not validated yet",
                        object.original,
                        t.key,
                        self.column(side)
                    ),
                    self.tolerant(t.alter(&format!(
                        "ADD CONSTRAINT {} {} NOT VALID",
                        q(&name),
                        self.on(check, side)
                    ))),
                )
                .done_if(guards::constraint_exists(t, &name))
                .locking()
            }
            Carried::ForeignKey(fk) => {
                let definition = format!(
                    "ADD CONSTRAINT {} {} NOT VALID",
                    q(&name),
                    super::foreign_key(fk, &self.columns_on(&fk.columns, side))
                );
                Step::new(
                    format!(
                        "add foreign key {name} like {} on {}.{}, not validated yet",
                        object.original,
                        t.key,
                        self.column(side)
                    ),
                    self.tolerant(t.alter(&definition)),
                )
                .done_if(guards::constraint_exists(t, &name))
                .locking()
            }
        }
    }

    /// `statement` as it is for a rename; for a type change, skipped where
    /// it does not fit the new type (a check comparing with a literal of
    /// the old type, a foreign key to a column of the old type), as a
    /// `DO` block that ignores those errors.
    fn tolerant(&self, statement: String) -> String {
        if self.same_values {
            return statement;
        }
        format!(
            "DO $cairn$ BEGIN EXECUTE {}; \
             EXCEPTION WHEN datatype_mismatch OR undefined_function \
             OR invalid_text_representation THEN NULL; END $cairn$",
            lit(&statement)
        )
    }

    /// Whether the original of `object` was validated (a check or foreign
    /// key added `NOT VALID` by the user stays so).
    fn validated(object: &Object<'_>) -> bool {
        match object.what {
            Carried::Check(check) => !check.ends_with(" NOT VALID"),
            Carried::PrimaryKey(_)
            | Carried::ForeignKey(_)
            | Carried::Index(_)
            | Carried::Unique(_) => true,
        }
    }

    /// All the phases: expand prepares the new side, contract keeps it,
    /// abort keeps the old side, un-contract prepares it again.
    pub(super) fn phases(&self, location: &str) -> Phases {
        let t = self.table;
        let (o, n) = (q(self.old), q(self.new));
        Phases {
            expand: self.prepare(Side::New),
            backfill: vec![backfill(
                t,
                format!("{n} = {}", self.up.0),
                format!("{n} IS NULL AND {o} IS NOT NULL"),
                location,
            )],
            contract: self.finish(Side::New),
            abort: self.finish(Side::Old),
            uncontract: self.prepare(Side::Old),
            uncontract_backfill: vec![backfill(
                t,
                format!("{o} = {}", self.down.0),
                format!("{o} IS NULL AND {n} IS NOT NULL"),
                location,
            )],
            versions: Versions {
                old: vec![format!("{}.{}", t.key, self.old)],
                new: vec![format!("{}.{}", t.key, self.new)],
            },
            unchecked: false,
        }
    }

    /// Adds `side`'s column next to the other, with its sync trigger and the
    /// carried objects (expand: `Side::New`; un-contract: `Side::Old`).
    pub(super) fn prepare(&self, side: Side) -> Vec<Step> {
        let t = self.table;
        let added = self.column(side);
        let existing = self.column(side.other());
        let column_type = match side {
            Side::New => self.new_type.clone(),
            Side::Old => column_type(self.old_column),
        };
        let mut statements = vec![t.alter(&format!("ADD COLUMN {} {column_type}", q(added)))];
        if side == Side::Old {
            // The new column's default would make an old writer's row look
            // like a new writer's; the old one serves old writers again.
            if let Some(default) = &self.old_column.default {
                statements.push(t.alter(&format!("ALTER COLUMN {} DROP DEFAULT", q(existing))));
                statements
                    .push(t.alter(&format!("ALTER COLUMN {} SET DEFAULT {default}", q(added))));
            }
        }
        statements.push(copy_comment(t, existing, added));
        let mut steps = Vec::new();
        if side == Side::New {
            steps.push(
                Step::new(
                    format!(
                        "check that no foreign key or view depends on {}.{}, \
                     which dropping it at contract would break",
                        t.key, self.old
                    ),
                    refuse_dependents(t, self.old),
                )
                // Checked once, before the new column is added.
                .done_if(guards::column_exists(t, added)),
            );
        }
        steps.push(
            Step {
                what: format!(
                    "add column {}.{added} {column_type}, nullable, beside {existing}",
                    t.key
                ),
                statements,
                ..Step::default()
            }
            .done_if(guards::column_exists(t, added))
            .in_transaction()
            .locking(),
        );
        steps.push(triggers::sync(
            t,
            &self.trigger(),
            &triggers::Sync {
                old: self.old,
                new: self.new,
                up: self.up.1.clone(),
                down: self.down.1.clone(),
            },
        ));
        for object in self.carried() {
            steps.push(self.build(&object, side));
        }
        steps
    }

    /// Keeps `side`'s column and drops the other (contract: `Side::New`;
    /// abort: `Side::Old`).
    pub(super) fn finish(&self, side: Side) -> Vec<Step> {
        let t = self.table;
        let kept = self.column(side);
        let dropped = self.column(side.other());
        let mut steps = Vec::new();
        if !self.old_column.nullable {
            let check = t.object(&format!("{}nn", side.tag()));
            steps.extend(not_null::set(t, kept, &check));
        }
        let carried = self.carried();
        for object in &carried {
            if matches!(object.what, Carried::Check(_) | Carried::ForeignKey(_))
                && Self::validated(object)
            {
                let name = self.name(object, side);
                steps.push(
                    Step::new(
                        format!("validate {name} on {}.{kept} (writes go on)", t.key),
                        t.alter(&format!("VALIDATE CONSTRAINT {}", q(&name))),
                    )
                    .done_if(guards::constraint_validated_or_missing(t, &name))
                    .locking(),
                );
            }
        }
        if let Some(default) = &self.old_column.default {
            let set = t.alter(&format!("ALTER COLUMN {} SET DEFAULT {default}", q(kept)));
            // A default of the old type may not fit the new one: it is
            // carried where it does.
            let statement = if side == Side::Old {
                set
            } else {
                self.tolerant(set)
            };
            steps.push(
                Step::new(format!("default of {}.{kept}: {default}", t.key), statement)
                    .done_if(guards::default_is(t, kept, default))
                    .locking(),
            );
        }
        steps.push(
            Step::new(
                format!("sequences owned by {}.{dropped} owned by {kept}", t.key),
                move_sequences(t, dropped, kept),
            )
            .done_if(guards::no_sequence_owned_by(t, dropped))
            .locking(),
        );
        let mut statements = triggers::drop(t, &self.trigger());
        if let Some(identity) = &self.old_column.identity {
            statements.push(move_identity(t, dropped, kept, identity));
        }
        statements.push(t.alter(&format!("DROP COLUMN IF EXISTS {}", q(dropped))));
        // A primary key on the dropped column goes with it: the kept side's
        // index becomes the primary key in the same transaction, so the
        // table is never without one (logical replication needs it).
        for object in &carried {
            if let Carried::PrimaryKey(_) = object.what {
                statements.push(primary_key_on(t, object.original, &self.name(object, side)));
            }
        }
        steps.push(
            Step {
                what: format!("drop the sync trigger and column {}.{dropped}", t.key),
                statements,
                ..Step::default()
            }
            .done_if(guards::trigger_and_column_gone(t, &self.trigger(), dropped))
            .in_transaction()
            .locking(),
        );
        for object in &carried {
            let name = self.name(object, side);
            let original = object.original;
            let step = match object.what {
                Carried::PrimaryKey(_) => continue,
                Carried::Index(_) => Step::new(
                    format!("rename index {name} to {original}"),
                    format!(
                        "ALTER INDEX IF EXISTS {} RENAME TO {}",
                        t.qualified(&name),
                        q(original)
                    ),
                )
                .done_if(guards::index_missing(t, &name)),
                Carried::Unique(_) => Step::new(
                    format!("unique constraint {original} on index {name}"),
                    t.alter(&format!(
                        "ADD CONSTRAINT {} UNIQUE USING INDEX {}",
                        q(original),
                        q(&name)
                    )),
                )
                .done_if(format!(
                    "{} UNION ALL {}",
                    guards::constraint_exists(t, original),
                    guards::index_missing(t, &name)
                )),
                Carried::Check(_) | Carried::ForeignKey(_) => Step::new(
                    format!("rename constraint {name} to {original}"),
                    t.alter(&format!(
                        "RENAME CONSTRAINT {} TO {}",
                        q(&name),
                        q(original)
                    )),
                )
                .done_if(guards::constraint_missing(t, &name)),
            };
            steps.push(step.locking());
        }
        steps
    }
}

/// Refuses a column that a second column under another name cannot stand
/// in for: a generated column.
pub(super) fn refuse_special(
    table: &Target,
    column: &str,
    shape: &Column,
    kind: &str,
) -> Result<(), String> {
    if shape.generated.is_some() {
        return Err(format!(
            "column `{column}` of `{}` is a generated column; {kind} cannot keep it in sync: drop and \
             re-add it with add_column instead",
            table.key
        ));
    }
    Ok(())
}

/// A statement that moves the identity from column `from` (when it has one
/// and `to` has none) to `to`, dropping `from`: the identity's next value
/// is taken before `from` and its sequence go, and `to` starts there. Its
/// other sequence options (increment, cache) are PostgreSQL's defaults.
/// `to` is NOT NULL by then (an identity column always is).
fn move_identity(table: &Target, from: &str, to: &str, kind: &str) -> String {
    let identity = |column: &str, test: &str| {
        format!(
            "EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = {} AND attname = {} \
             AND NOT attisdropped AND attidentity {test} '')",
            table.regclass,
            lit(column)
        )
    };
    let add = table.alter(&format!(
        "ALTER COLUMN {} ADD GENERATED {} AS IDENTITY (START WITH %s)",
        q(to),
        kind.to_uppercase()
    ));
    format!(
        "DO $cairn$ DECLARE v bigint; BEGIN IF {} AND {} THEN \
         v := nextval(pg_get_serial_sequence({}, {})); EXECUTE {}; EXECUTE format({}, v); \
         END IF; END $cairn$",
        identity(from, "<>"),
        identity(to, "="),
        lit(&table.sql),
        lit(from),
        lit(&table.alter(&format!("DROP COLUMN {}", q(from)))),
        lit(&add)
    )
}

/// A statement that makes index `index` primary key `name`, when the index
/// exists and the table has no primary key (a no-op from the shape where
/// the kept column still has it).
fn primary_key_on(table: &Target, name: &str, index: &str) -> String {
    let add = table.alter(&format!(
        "ADD CONSTRAINT {} PRIMARY KEY USING INDEX {}",
        q(name),
        q(index)
    ));
    format!(
        "DO $cairn$ BEGIN IF {} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_constraint \
         WHERE conrelid = {} AND contype = 'p') THEN EXECUTE {}; END IF; END $cairn$",
        table.regclass_of(index),
        table.regclass,
        lit(&add)
    )
}

/// A column's type and collation as DDL.
pub(super) fn column_type(column: &Column) -> String {
    match &column.collation {
        Some(collation) => format!("{} COLLATE {}", column.data_type, q(collation)),
        None => column.data_type.clone(),
    }
}

/// A statement that fails, saying what and what to do, when a foreign key
/// (of another table, or of the table itself) or a view depends on `column`.
fn refuse_dependents(table: &Target, column: &str) -> String {
    let message = format!(
        "% depends on column {}.{column}, which contract drops: drop or change it first \
         (or rename the column with ALTER TABLE ... RENAME COLUMN in a maintenance window), \
         then run the migration again",
        table.key
    );
    format!(
        "DO $cairn$ DECLARE what text; BEGIN \
         SELECT string_agg(d, ', ') INTO what FROM ( \
           SELECT 'foreign key ' || quote_ident(c.conname) || ' of ' || c.conrelid::regclass::text AS d \
           FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = ANY (c.confkey) \
           WHERE c.contype = 'f' AND c.confrelid = {rel} AND a.attname = {col} \
           UNION ALL \
           SELECT DISTINCT 'view ' || v.ev_class::regclass::text FROM pg_depend d \
           JOIN pg_rewrite v ON v.oid = d.objid \
           JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
           WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = {rel} AND a.attname = {col} \
             AND v.ev_class <> {rel}) x; \
         IF what IS NOT NULL THEN RAISE EXCEPTION {message}, what; END IF; END $cairn$",
        rel = table.regclass,
        col = lit(column),
        message = lit(&message)
    )
}

/// A statement that gives column `to` the comment of column `from`.
fn copy_comment(table: &Target, from: &str, to: &str) -> String {
    format!(
        "DO $cairn$ BEGIN EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', {}, {}, \
         (SELECT col_description(attrelid, attnum) FROM pg_attribute \
          WHERE attrelid = {} AND attname = {})); END $cairn$",
        lit(&table.sql),
        lit(to),
        table.regclass,
        lit(from)
    )
}

/// A statement that makes the sequences owned by column `from` owned by `to`.
fn move_sequences(table: &Target, from: &str, to: &str) -> String {
    format!(
        "DO $cairn$ DECLARE s regclass; BEGIN \
         FOR s IN SELECT d.objid::regclass FROM pg_depend d \
           JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
           JOIN pg_class c ON c.oid = d.objid AND c.relkind = 'S' \
           WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass \
             AND d.deptype = 'a' AND d.refobjid = {} AND a.attname = {} LOOP \
           EXECUTE format('ALTER SEQUENCE %s OWNED BY %s.%I', s, {}, {}); \
         END LOOP; END $cairn$",
        table.regclass,
        lit(from),
        lit(&table.sql),
        lit(to)
    )
}
