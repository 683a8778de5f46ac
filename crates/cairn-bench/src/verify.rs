//! The `verify` section (issue 4): proving rollbacks and reading schemas.
//!
//! - **verify-N** (SQLite): the whole `cairn verify` process on N generated
//!   migrations (a table and an index each), beside `cairn up` of the same
//!   migrations on a fresh file in the same rounds. The goal is absolute
//!   (N = 200 within 10 s); the ratio says what proving every rollback costs
//!   over applying once (each migration is applied twice, rolled back once
//!   and the schema read three times).
//! - **introspect-N** (each chosen engine): [`schema::introspect`] of a
//!   database holding N tables (with an index each), beside the time it took
//!   to create those tables and indexes (the same statements run one by one
//!   on one connection, in-process), measured in the same run.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cairn::schema::{self, IntrospectOptions};
use cairn::Engine;

use crate::error::{connect, BenchError, Context as _, Result};
use crate::fixtures::{per_engine, server_up_sql, up_sql, write_migrations};
use crate::options::{EngineChoice, Options};
use crate::report::{Goal, Measured, Row, Section};
use crate::sqlite::time_process;
use crate::stats::{format_duration, median_paired_ratio, thousands, Samples};

/// The goal of verify-200: the whole run within this.
const VERIFY_GOAL: Duration = Duration::from_secs(10);

/// How big the benchmarks are.
struct Sizes {
    verify_migrations: usize,
    verify_rounds: usize,
    tables: usize,
    apply_rounds: usize,
    introspect_rounds: usize,
}

impl Sizes {
    fn of(options: &Options) -> Sizes {
        if options.quick {
            Sizes {
                verify_migrations: 50,
                verify_rounds: 1,
                tables: 100,
                apply_rounds: 1,
                introspect_rounds: 3,
            }
        } else {
            Sizes {
                verify_migrations: 200,
                verify_rounds: 3,
                tables: 500,
                apply_rounds: 2,
                introspect_rounds: 5,
            }
        }
    }
}

/// Runs the section's benchmarks for the chosen engines.
pub fn run(options: &Options, cairn: &Path, scratch: &Path) -> Result<Section> {
    let sizes = Sizes::of(options);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context(|| "starting the async runtime".to_owned())?;
    let mut rows = Vec::new();
    let mut findings = Vec::new();
    if options.engines.contains(&EngineChoice::Sqlite) {
        let (row, finding) = verify_sqlite(&sizes, cairn, scratch)?;
        rows.push(row);
        findings.push(finding);
    }
    let mut ratios = Vec::new();
    for engine in &options.engines {
        let (engine, admin) = match engine {
            EngineChoice::Sqlite => (Engine::Sqlite, None),
            EngineChoice::Postgres => (Engine::Postgres, Some(options.postgres_url.as_str())),
            EngineChoice::Mysql => (Engine::Mysql, Some(options.mysql_url.as_str())),
        };
        let row = runtime.block_on(introspect(&sizes, engine, admin, scratch))?;
        if let Some(ratio) = row.ratio() {
            ratios.push(format!("{engine} {ratio:.3}×"));
        }
        rows.push(row);
    }
    findings.push(format!(
        "**introspect-{} in this run**, as a share of the time to create the tables: {}. \
         Introspection runs a fixed number of catalog queries (one per kind of object), not \
         one per table, so it grows with the catalog's size, not with round trips.",
        sizes.tables,
        ratios.join(", ")
    ));
    Ok(Section {
        key: "verify",
        title: "Verification and introspection (issue 4)",
        setup: vec![
            "SQLite files in the scratch directory under the Cargo target directory; \
             PostgreSQL and MariaDB databases created for the run on the servers of \
             `--postgres-url` / `--mysql-url` and dropped after."
                .to_owned(),
        ],
        rows,
        findings,
    })
}

/// verify-N: `cairn verify` beside `cairn up` on fresh SQLite files.
fn verify_sqlite(sizes: &Sizes, cairn: &Path, scratch: &Path) -> Result<(Row, String)> {
    let count = sizes.verify_migrations;
    let dir = scratch.join(format!("verify-{count}"));
    write_migrations(&dir, count)?;
    let mut verify = Samples::new();
    let mut up = Samples::new();
    for round in 0..sizes.verify_rounds {
        // Alternate which goes first.
        let order = if round % 2 == 0 {
            ["verify", "up"]
        } else {
            ["up", "verify"]
        };
        for command in order {
            let file = scratch.join(format!("verify-{round}-{command}.db"));
            let _ = std::fs::remove_file(&file);
            let time = time_process(
                Command::new(cairn)
                    .arg("--database-url")
                    .arg(format!("sqlite://{}", file.display()))
                    .arg("--dir")
                    .arg(&dir)
                    .arg(command),
            )?;
            eprintln!(
                "verify-{count}: round {}/{} cairn {command} {}",
                round + 1,
                sizes.verify_rounds,
                format_duration(time)
            );
            if command == "verify" {
                verify.push(time);
            } else {
                up.push(time);
            }
        }
    }
    let per = |samples: &Samples| {
        format_duration(samples.median() / u32::try_from(count.max(1)).unwrap_or(u32::MAX))
    };
    let finding = format!(
        "**verify-{count} in this run.** `cairn verify` took {} per migration, `cairn up` {}; \
         median of the ratios within each round {}. Per migration verify runs up, down and up \
         again (three transactions with their history rows) and reads the schema three times; \
         each read costs more as the tables accumulate, so the total grows faster than linearly.",
        per(&verify),
        per(&up),
        median_paired_ratio(&verify, &up).map_or_else(|| "—".to_owned(), |r| format!("{r:.2}×"))
    );
    let row = Row {
        name: format!("verify-{count}"),
        detail: format!(
            "the whole `cairn --database-url sqlite://F --dir D verify` process (release build) on \
             {} generated migrations (`CREATE TABLE` + `CREATE INDEX` each, `DROP TABLE` down), F \
             a fresh file, beside `cairn ... up` of the same migrations on another fresh file; \
             {} round(s), order alternated.",
            thousands(count),
            sizes.verify_rounds
        ),
        subject: Measured {
            label: "`cairn verify`".to_owned(),
            samples: verify,
        },
        baseline: Some(Measured {
            label: "`cairn up`".to_owned(),
            samples: up,
        }),
        goal: Some(Goal::MedianBelow(VERIFY_GOAL)),
    };
    Ok((row, finding))
}

/// A fresh database for round `round`: a file, or one created on the server.
async fn fresh(
    engine: Engine,
    admin: Option<&str>,
    scratch: &Path,
    round: usize,
) -> Result<String> {
    let name = format!("cairn_bench_verify_{}_{round}", std::process::id());
    let Some(admin) = admin else {
        let file = scratch.join(format!("{name}.db"));
        let _ = std::fs::remove_file(&file);
        return Ok(format!("sqlite://{}", file.display()));
    };
    drop_database(engine, admin, &name).await?;
    let mut driver = connect(admin).await?;
    driver
        .execute(&cairn::dialect::for_engine(engine).create_database(&name))
        .await
        .context(|| format!("creating {name}"))?;
    crate::servers::with_database(admin, &name)
}

async fn drop_database(engine: Engine, admin: &str, name: &str) -> Result<()> {
    let sql = cairn::dialect::for_engine(engine).drop_database(name);
    let mut driver = connect(admin).await?;
    driver
        .execute(&sql)
        .await
        .context(|| format!("dropping {name}"))?;
    Ok(())
}

/// introspect-N on one engine: creating N tables, then reading the schema.
async fn introspect(
    sizes: &Sizes,
    engine: Engine,
    admin: Option<&str>,
    scratch: &Path,
) -> Result<Row> {
    let count = sizes.tables;
    let mut apply = Samples::new();
    let mut read = Samples::new();
    for round in 0..sizes.apply_rounds {
        let url = fresh(engine, admin, scratch, round).await?;
        let mut driver = connect(&url).await?;
        let started = Instant::now();
        for n in 1..=count {
            let script = per_engine(
                engine,
                server_up_sql as fn(usize) -> String,
                &[(Engine::Sqlite, up_sql)],
            )(n);
            for statement in script.lines().filter(|l| !l.trim().is_empty()) {
                driver
                    .execute(statement.trim_end_matches(';'))
                    .await
                    .context(|| format!("{engine}: creating table t{n}"))?;
            }
        }
        let time = started.elapsed();
        apply.push(time);
        eprintln!(
            "introspect-{count} on {engine}: round {}/{} created the tables in {}",
            round + 1,
            sizes.apply_rounds,
            format_duration(time)
        );
        for _ in 0..sizes.introspect_rounds {
            let started = Instant::now();
            let snapshot = schema::introspect(driver.as_mut(), &IntrospectOptions::default())
                .await
                .context(|| format!("{engine}: introspecting"))?;
            let time = started.elapsed();
            if snapshot.tables.len() != count {
                return Err(BenchError::new(format!(
                    "{engine}: introspection found {} tables, expected {count}",
                    snapshot.tables.len()
                )));
            }
            read.push(time);
        }
        eprintln!(
            "introspect-{count} on {engine}: round {}/{} median introspection {}",
            round + 1,
            sizes.apply_rounds,
            format_duration(read.median())
        );
        drop(driver);
        if let Some(admin) = admin {
            let name = format!("cairn_bench_verify_{}_{round}", std::process::id());
            drop_database(engine, admin, &name).await?;
        }
    }
    Ok(Row {
        name: format!("introspect-{count} {engine}"),
        detail: format!(
            "`schema::introspect` in-process on a {engine} database holding {} tables with an \
             index each ({} reads after each of {} round(s)), beside creating those tables and \
             indexes on a fresh database in the same round (the statements one by one on one \
             connection, no history).",
            thousands(count),
            sizes.introspect_rounds,
            sizes.apply_rounds
        ),
        subject: Measured {
            label: "`schema::introspect`".to_owned(),
            samples: read,
        },
        baseline: Some(Measured {
            label: format!("create {} tables", thousands(count)),
            samples: apply,
        }),
        goal: None,
    })
}
