//! `cairn-bench`: Cairn's benchmarks, each timed beside a baseline in the same
//! run, printed as a table and, with `--out`, written into `docs/benchmarks.md`.
//!
//! One module per engine family produces a [`report::Section`]: `sqlite` for
//! SQLite, `servers` for PostgreSQL and MariaDB; `--engines` picks which run.
//! `backfill` adds a section per engine for batched backfills; `--only` picks
//! the suites; `verify` adds one section for `cairn verify` and introspection;
//! `lockq` adds a section per server for the lock queue (issue 9); `zdt` a
//! section per engine for zero-downtime operations (issue 11); `peers` a
//! section per engine beside sqlx-cli and dbmate (issue 14).
#![forbid(unsafe_code)]

mod backfill;
mod cairn_bin;
mod error;
mod fixtures;
mod lockq;
mod options;
mod peers;
mod report;
mod servers;
mod sqlite;
mod stats;
/// The documented `us_address` data migration, which the example
/// migrations use (the same file the `cairn` binary includes).
#[path = "../../cairn-cli/examples/us_address/data_migration.rs"]
mod us_address;
mod verify;
mod zdt;

use std::process::ExitCode;

use options::{EngineChoice, Options, Parsed, Suite};

fn main() -> ExitCode {
    let options = match options::parse(std::env::args_os().skip(1)) {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Help) => {
            println!("{}", options::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("cairn-bench: {message}\n\n{}", options::USAGE);
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cairn-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: &Options) -> error::Result<()> {
    let machine = report::Machine::detect();
    let cairn = cairn_bin::locate(options.cairn.as_deref())?;
    eprintln!("timing {}", cairn.display());
    let scratch = fixtures::scratch_dir()?;
    // Removed when dropped, unless kept.
    let (scratch, _remove) = if options.keep {
        let path = scratch.keep();
        eprintln!("keeping the scratch files in {}", path.display());
        (path, None)
    } else {
        (scratch.path().to_owned(), Some(scratch))
    };
    let mut sections = Vec::new();
    let migrations = options.suites.contains(&Suite::Migrations);
    for engine in options.engines.iter().filter(|_| migrations) {
        let section = match engine {
            EngineChoice::Sqlite => sqlite::run(options, &cairn, &scratch)?,
            EngineChoice::Postgres => servers::run(
                options,
                &cairn,
                &scratch,
                servers::Server::Postgres,
                &options.postgres_url,
            )?,
            EngineChoice::Mysql => servers::run(
                options,
                &cairn,
                &scratch,
                servers::Server::Mariadb,
                &options.mysql_url,
            )?,
        };
        println!("{}", report::text(&section, &machine));
        sections.push(section);
    }
    if options.suites.contains(&Suite::Backfill) {
        for &engine in &options.engines {
            let section = backfill::run(options, &scratch, engine)?;
            println!("{}", report::text(&section, &machine));
            sections.push(section);
        }
    }
    if options.suites.contains(&Suite::Verify) {
        let section = verify::run(options, &cairn, &scratch)?;
        println!("{}", report::text(&section, &machine));
        sections.push(section);
    }
    if options.suites.contains(&Suite::LockQueue) {
        for &engine in &options.engines {
            if let Some(section) = lockq::run(options, &cairn, &scratch, engine)? {
                println!("{}", report::text(&section, &machine));
                sections.push(section);
            }
        }
    }
    if options.suites.contains(&Suite::ZeroDowntime) {
        for &engine in &options.engines {
            let section = zdt::run(options, &scratch, engine)?;
            println!("{}", report::text(&section, &machine));
            sections.push(section);
        }
    }
    if options.suites.contains(&Suite::Peers) {
        for &engine in &options.engines {
            let section = peers::run(options, &cairn, &scratch, engine)?;
            println!("{}", report::text(&section, &machine));
            sections.push(section);
        }
    }
    if let Some(out) = &options.out {
        if options.quick {
            eprintln!("note: writing --quick figures to {}", out.display());
        }
        report::write(out, &machine, &sections)?;
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}
