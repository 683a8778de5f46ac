//! One function per command: load the migrations, connect, call the library,
//! print the report. The algorithm itself lives in `cairn::Migrator`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use cairn::schema;
use cairn::url::DatabaseUrl;
use cairn::verify::{self, scratch, VerifyOptions};
use cairn::{source, DownTarget, Driver, Error, Migrator, RunFailure, RunReport};
use serde_json::json;

use crate::args::{
    AdoptArgs, BaselineArgs, Command, DownArgs, DriftArgs, Format, PhaseArgs, SchemaCommand,
    UpArgs, VerifyArgs,
};
use crate::config::{Config, DEFAULT_MIGRATIONS_DIR};
use crate::output::{self, Asked, Style};
use crate::progress::{Mode, Progress};

/// How a command that ran to its end went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything is fine.
    Success,
    /// The command worked and found validation problems (exit code 3).
    ProblemsFound,
}

/// Runs `command` with `config` on a single-threaded async runtime.
pub fn run(command: &Command, config: &Config) -> anyhow::Result<Outcome> {
    match command {
        Command::Init => return init(config),
        Command::New(args) => return crate::new::new(config, args),
        Command::Completions(_) | Command::Man => {
            if let Some(result) = crate::generate::run(command) {
                return result;
            }
        }
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_with_database(command, config))
}

async fn run_with_database(command: &Command, config: &Config) -> anyhow::Result<Outcome> {
    let url = config.database_url()?;
    if config.format == Format::Sql && !matches!(command, Command::Schema(SchemaCommand::Dump)) {
        bail!("--format sql is only for `cairn schema dump`: use --format text or --format json");
    }
    if let Command::Schema(SchemaCommand::Dump) = command {
        // Reads the schema only: no migrations directory needed.
        let mut driver = connect(url).await?;
        return schema_dump(config, driver.as_mut()).await;
    }
    let migrations = source::read_dir_with(&config.migrations_dir, &config.selection)?;
    tracing::info!(count = migrations.len(), dir = %config.migrations_dir.display(), "read migrations");
    let mut migrator = Migrator::new(migrations, config.migrator.clone());
    if matches!(command, Command::Up(_) | Command::Redo) {
        crate::backfill::prepare(&mut migrator, config);
    } else {
        crate::backfill::register(&mut migrator);
    }
    let progress =
        matches!(command, Command::Up(_) | Command::Down(_) | Command::Redo).then(|| {
            let progress = Progress::new(Mode::detect(config.format));
            crate::progress::attach(&mut migrator, &progress);
            progress
        });
    if let Command::Verify(args) = command {
        if !args.engines.is_empty() {
            // Disposable databases: the configured URL is not used.
            return crate::verify_engines::run(config, &migrator, args).await;
        }
    }
    if matches!(command, Command::Up(_) | Command::Redo) {
        for replica in &config.replica_urls {
            let driver = connect(replica)
                .await
                .with_context(|| format!("connecting to replica {}", replica.redacted()))?;
            migrator.add_replica(replica.redacted(), driver);
        }
    }
    let mut driver = connect(url).await?;
    source::check_engine(&config.migrations_dir, driver.dialect().engine())?;
    let driver = driver.as_mut();
    let ctx = Ctx {
        config,
        url,
        style: Style::new(config.color),
        progress,
    };
    match command {
        Command::Status => ctx.status(&migrator, driver).await,
        Command::Up(args) => ctx.up(&migrator, driver, args).await,
        Command::Down(args) => ctx.down(&migrator, driver, args).await,
        Command::Redo => ctx.redo(&migrator, driver).await,
        Command::Contract(args) => ctx.phase(&migrator, driver, args, Asked::Contract).await,
        Command::Abort(args) => ctx.phase(&migrator, driver, args, Asked::Abort).await,
        Command::Validate => ctx.validate(&migrator, driver).await,
        Command::Baseline(args) => ctx.baseline(&migrator, driver, args).await,
        Command::Repair => ctx.repair(&migrator, driver).await,
        Command::Adopt(args) => ctx.adopt(&migrator, driver, args).await,
        Command::Verify(args) => ctx.verify(&migrator, driver, args).await,
        Command::Drift(args) => ctx.drift(&migrator, driver, args).await,
        Command::Backfill(crate::args::BackfillCommand::Status) => {
            crate::backfill::status(&migrator, driver, config, url).await
        }
        Command::Init
        | Command::New(_)
        | Command::Schema(_)
        | Command::Completions(_)
        | Command::Man => {
            unreachable!("handled before reading the migrations")
        }
    }
}

/// Connects to `url` through the facade's registry of drivers.
pub(crate) async fn connect(url: &DatabaseUrl) -> anyhow::Result<Box<dyn Driver>> {
    // Each driver's connect error names the (redacted) URL already.
    Ok(cairn::connect(url.expose()).await?)
}

/// [`connect`] in the shape the core's scratch databases take
/// (`cairn::verify::scratch::Connect`): a scheme the registry does not know
/// becomes a driver error with the registry's message.
pub(crate) fn connect_driver(url: DatabaseUrl) -> scratch::Connecting {
    Box::pin(async move {
        cairn::connect(url.expose()).await.map_err(|e| match e {
            cairn::ConnectError::Driver(e) => e,
            other => cairn::DriverError::new(cairn::DriverErrorKind::Other, other.to_string()),
        })
    })
}

/// Prints to stdout; a closed pipe (`cairn status | head`) is not an error worth a panic.
pub(crate) fn print(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// What every database command shares.
struct Ctx<'a> {
    config: &'a Config,
    url: &'a DatabaseUrl,
    style: Style,
    /// The progress display of `up`, `down` and `redo`.
    progress: Option<Arc<Progress>>,
}

impl Ctx<'_> {
    fn json(&self) -> bool {
        self.config.format == Format::Json
    }

    async fn status(
        &self,
        migrator: &Migrator,
        driver: &mut dyn Driver,
    ) -> anyhow::Result<Outcome> {
        let report = migrator.status(driver).await?;
        if self.json() {
            print(&output::json_string(&output::status_json(
                &report, self.url,
            )));
        } else {
            let dir = self.config.migrations_dir.display().to_string();
            print(&output::status_text(&report, self.url, &dir, self.style));
        }
        Ok(if report.problems.is_empty() {
            Outcome::Success
        } else {
            Outcome::ProblemsFound
        })
    }

    async fn up(
        &self,
        migrator: &Migrator,
        driver: &mut dyn Driver,
        args: &UpArgs,
    ) -> anyhow::Result<Outcome> {
        if args.dry_run {
            let planned = migrator.plan_up(driver, args.to).await?;
            self.print_plan(&planned, Asked::Up);
            return Ok(Outcome::Success);
        }
        let result = if args.skip_in_doubt {
            migrator.up_resume_skip_in_doubt(driver, args.to).await
        } else if args.resume {
            migrator.up_resume(driver, args.to).await
        } else {
            migrator.up(driver, args.to).await
        };
        self.finish_run(migrator, driver, result, Asked::Up).await
    }

    /// `cairn contract` and `cairn abort`: one zero-downtime phase.
    async fn phase(
        &self,
        migrator: &Migrator,
        driver: &mut dyn Driver,
        args: &PhaseArgs,
        asked: Asked,
    ) -> anyhow::Result<Outcome> {
        if args.dry_run {
            let planned = match asked {
                Asked::Contract => migrator.plan_contract(driver, args.version).await?,
                _ => migrator.plan_abort(driver, args.version).await?,
            };
            self.print_plan(&planned, asked);
            return Ok(Outcome::Success);
        }
        let result = match asked {
            Asked::Contract => migrator.contract(driver, args.version).await,
            _ => migrator.abort(driver, args.version).await,
        };
        self.finish_run(migrator, driver, result, asked).await
    }

    async fn down(
        &self,
        migrator: &Migrator,
        driver: &mut dyn Driver,
        args: &DownArgs,
    ) -> anyhow::Result<Outcome> {
        let target = match (args.to, args.steps, args.all) {
            (Some(to), _, _) => DownTarget::To(to),
            (_, Some(steps), _) => DownTarget::Steps(usize::try_from(steps).unwrap_or(usize::MAX)),
            (_, _, true) => DownTarget::All,
            (None, None, false) => DownTarget::Steps(1),
        };
        if args.dry_run {
            let planned = migrator.plan_down(driver, target).await?;
            self.print_plan(&planned, Asked::Down);
            return Ok(Outcome::Success);
        }
        let result = migrator.down(driver, target).await;
        self.finish_run(migrator, driver, result, Asked::Down).await
    }

    async fn redo(&self, migrator: &Migrator, driver: &mut dyn Driver) -> anyhow::Result<Outcome> {
        let result = migrator.redo(driver).await;
        self.finish_run(migrator, driver, result, Asked::Up).await
    }

    fn print_plan(&self, planned: &[cairn::migrator::PlannedMigration], asked: Asked) {
        if self.json() {
            print(&output::json_string(&output::plan_json(planned, asked)));
        } else {
            print(&output::plan_text(planned, asked));
        }
    }

    /// Prints what a run did, and what the migrations it left in a
    /// zero-downtime phase need next; on failure, what completed and then
    /// the error (a lock timeout in a phase says how to continue or undo it).
    async fn finish_run(
        &self,
        migrator: &Migrator,
        driver: &mut dyn Driver,
        result: Result<RunReport, RunFailure>,
        asked: Asked,
    ) -> anyhow::Result<Outcome> {
        if let Some(progress) = &self.progress {
            progress.finish();
        }
        let expanded = in_phase(migrator, driver).await;
        match result {
            Ok(report) => {
                if self.json() {
                    print(&output::json_string(&output::run_json(
                        &report, None, &expanded,
                    )));
                } else {
                    let mut text = output::run_text(&report, asked, self.style);
                    for m in &expanded {
                        text.push_str(&format!("next: {}\n", output::next_step(m)));
                    }
                    print(&text);
                }
                Ok(Outcome::Success)
            }
            Err(RunFailure { report, error }) => {
                let error = match lock_timeout_hint(&error, &expanded, asked) {
                    Some(hint) => anyhow::Error::new(crate::exit::WithHint { error, hint }),
                    None => error.into(),
                };
                if self.json() {
                    print(&output::json_string(&output::run_json(
                        &report,
                        Some(&error.to_string()),
                        &expanded,
                    )));
                } else if !report.migrations.is_empty() {
                    print(&output::run_text(&report, asked, self.style));
                }
                Err(error)
            }
        }
    }

    async fn validate(
        &self,
        migrator: &Migrator,
        driver: &mut dyn Driver,
    ) -> anyhow::Result<Outcome> {
        match migrator.validate(driver).await {
            Ok(report) => {
                let pending = report
                    .migrations
                    .iter()
                    .filter(|m| m.state == cairn::State::Pending)
                    .count();
                if self.json() {
                    print(&output::json_string(
                        &json!({ "ok": true, "problems": [], "pending": pending }),
                    ));
                } else {
                    print(&format!(
                        "{}: {} checked against {}, {pending} pending\n",
                        self.style.green("ok"),
                        match report.migrations.len() {
                            1 => "1 migration".to_owned(),
                            n => format!("{n} migrations"),
                        },
                        self.url
                    ));
                }
                Ok(Outcome::Success)
            }
            Err(Error::Validation(problems)) => {
                if self.json() {
                    let value =
                        json!({ "ok": false, "problems": output::problems_json(&problems.0) });
                    print(&output::json_string(&value));
                } else {
                    print(&output::problems_text(&problems.0, self.style));
                }
                Ok(Outcome::ProblemsFound)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn baseline(
        &self,
        migrator: &Migrator,
        driver: &mut dyn Driver,
        args: &BaselineArgs,
    ) -> anyhow::Result<Outcome> {
        let row = migrator.baseline(driver, args.version).await?;
        if self.json() {
            print(&output::json_string(&json!({ "baseline": row })));
        } else {
            print(&format!(
                "{} at version {} ({}): migrations up to {} count as applied on {}\n",
                self.style.green("baseline recorded"),
                row.version,
                row.name,
                row.version,
                self.url
            ));
        }
        Ok(Outcome::Success)
    }

    async fn adopt(
        &self,
        migrator: &Migrator,
        driver: &mut dyn Driver,
        args: &AdoptArgs,
    ) -> anyhow::Result<Outcome> {
        let request = cairn::migrator::AdoptRequest {
            tool: args.from,
            table: args.table.clone(),
            dry_run: args.dry_run,
            alembic_versions: args.alembic_versions.clone(),
        };
        let report = migrator.adopt(driver, &request).await?;
        if self.json() {
            print(&output::json_string(&json!({ "adopt": report })));
        } else {
            print(&output::adopt_text(&report, self.style));
        }
        Ok(Outcome::Success)
    }

    async fn repair(
        &self,
        migrator: &Migrator,
        driver: &mut dyn Driver,
    ) -> anyhow::Result<Outcome> {
        let actions = migrator.repair(driver).await?;
        if self.json() {
            print(&output::json_string(&json!({ "actions": actions })));
        } else {
            print(&output::repair_text(&actions, self.style));
        }
        Ok(Outcome::Success)
    }
}

/// The migrations in a zero-downtime phase after a run, for what to do next.
/// Only asked when the project has operations, and best effort: a run that
/// failed because the database went away still reports its own error.
async fn in_phase(
    migrator: &Migrator,
    driver: &mut dyn Driver,
) -> Vec<cairn::migrator::ExpandedMigration> {
    let has_operations = migrator.migrations().iter().any(|m| {
        m.declaration
            .as_ref()
            .is_some_and(|d| !d.operations.is_empty())
    });
    if !has_operations {
        return Vec::new();
    }
    match migrator.status(driver).await {
        Ok(report) => report.expanded,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read which migrations are expanded");
            Vec::new()
        }
    }
}

/// For a phase that could not get its table lock after its retries: how to
/// continue it (the same command) or undo it (`cairn abort`).
fn lock_timeout_hint(
    error: &Error,
    expanded: &[cairn::migrator::ExpandedMigration],
    asked: Asked,
) -> Option<String> {
    if crate::exit::code_of(error) != crate::exit::LOCK_TIMEOUT {
        return None;
    }
    let m = expanded.first()?;
    let v = m.version;
    let again = match asked {
        Asked::Contract | Asked::Abort => format!("cairn {} {v}", asked.command()),
        Asked::Up | Asked::Down => format!("cairn {}", asked.command()),
    };
    let undo = match m.state {
        cairn::HistoryState::Contracting | cairn::HistoryState::Uncontracting => String::new(),
        cairn::HistoryState::Aborting => String::new(),
        _ => format!(", or undo the expand with `cairn abort {v}`"),
    };
    Some(format!(
        "migration {v} ({}) is {} and the application keeps working: continue the phase by running `{again}` again once the other session has let go of the table{undo}",
        m.name,
        m.state.as_str()
    ))
}

/// `cairn schema dump`: the normalised schema, without Cairn's own tables.
async fn schema_dump(config: &Config, driver: &mut dyn Driver) -> anyhow::Result<Outcome> {
    let options = schema::IntrospectOptions {
        history_table: config.migrator.table.name.clone(),
        history_schema: config.migrator.table.schema.clone(),
    };
    let snapshot = schema::introspect(driver, &options).await?;
    match config.format {
        Format::Json => {
            let value = serde_json::to_value(&snapshot).context("cannot serialise the schema")?;
            print(&output::json_string(&value));
        }
        Format::Sql => print(&snapshot.to_sql()),
        Format::Text => print(&snapshot.to_text()),
    }
    Ok(Outcome::Success)
}

impl Ctx<'_> {
    async fn verify(
        &self,
        migrator: &Migrator,
        driver: &mut dyn Driver,
        args: &VerifyArgs,
    ) -> anyhow::Result<Outcome> {
        let options = VerifyOptions {
            from: args.from,
            to: args.to,
            seed_data: args.seed_data,
            ignore_column_order: args.ignore_column_order,
        };
        let report = {
            // Dropped (its bar cleared) before the report is printed.
            let mut progress = crate::progress::verify_printer(self.config.format);
            verify::verify(migrator, driver, &options, &mut progress).await?
        };
        if self.json() {
            print(&output::json_string(&output::verify_json(
                &report, self.url,
            )));
        } else {
            print(&output::verify_text(&report, self.url, self.style));
        }
        if let Some(failed) = report.error() {
            bail!(
                "verification stopped at migration {} ({}): {}",
                failed.version,
                failed.name,
                failed.error.as_deref().unwrap_or("it failed")
            );
        }
        Ok(if report.has_failures() {
            Outcome::ProblemsFound
        } else {
            Outcome::Success
        })
    }

    async fn drift(
        &self,
        migrator: &Migrator,
        driver: &mut dyn Driver,
        args: &DriftArgs,
    ) -> anyhow::Result<Outcome> {
        let given = match &args.scratch_url {
            Some(raw) => Some(DatabaseUrl::parse(raw).context("the --scratch-url is not usable")?),
            None => None,
        };
        let differences = match verify::drift::scratch_for(self.url, given)? {
            Some(scratch_url) => {
                let mut scratch = connect(&scratch_url).await?;
                verify::drift(migrator, driver, scratch.as_mut()).await?
            }
            None => {
                let run = scratch::with_scratch(
                    self.url.engine(),
                    &scratch::Source::TemporaryFile,
                    "drift",
                    &connect_driver,
                    async |scratch: &mut dyn Driver| verify::drift(migrator, driver, scratch).await,
                )
                .await;
                let differences = run.outcome?;
                if let Some(error) = run.removal {
                    return Err(error.into());
                }
                differences
            }
        };
        if self.json() {
            print(&output::json_string(&output::drift_json(
                &differences,
                self.url,
            )));
        } else {
            print(&output::drift_text(&differences, self.url, self.style));
        }
        Ok(if differences.is_empty() {
            Outcome::Success
        } else {
            Outcome::ProblemsFound
        })
    }
}

// ----- commands that need no database --------------------------------------

/// The `cairn.toml` that `init` writes: every key, commented.
fn config_template(migrations_dir: &str) -> String {
    format!(
        r#"# Cairn configuration. Every key is optional. Each one can also be set by
# an environment variable, CAIRN_ and the key in capitals (CAIRN_LOCK_TIMEOUT,
# also from a .env file in the current directory), which wins over this file;
# flags (--database-url, --dir, ...) win over both. DATABASE_URL works too.

# Where the migrations live, relative to this file.
migrations_dir = {migrations_dir}

# The database. Keep URLs with a password in the environment instead.
# database_url = "sqlite://cairn.db"

# The history table, and on PostgreSQL/MySQL the schema it lives in.
# history_table = "cairn_history"
# history_schema = "public"

# How long one statement may wait for a lock before it gives up, lets the
# application's queries pass, and is retried (lock_retries more times, with a
# jittered backoff). Keep it short: queries on the table wait behind it.
# lock_timeout = "1s"
# lock_retries = 19

# How long to wait for the migration lock held by another runner.
# lock_wait = "60s"

# How long each DDL step of a zero-downtime operation ([[operation]] in a
# migration.toml) may wait for its table lock before it is retried
# (--operation-lock-timeout and CAIRN_OPERATION_LOCK_TIMEOUT win over it).
# operation_lock_timeout = "500ms"

# Apply pending migrations older than the newest applied one.
# allow_out_of_order = false

# Replicas whose lag a backfill's max_replication_lag limits (up --replica-url
# wins; CAIRN_REPLICA_URLS takes them comma-separated).
# replica_urls = ["postgres://replica.example/app"]
"#
    )
}

fn init(config: &Config) -> anyhow::Result<Outcome> {
    let dir = &config.migrations_dir;
    let mut created = Vec::new();
    let mut existing = Vec::new();
    if dir.is_dir() {
        existing.push(dir.clone());
    } else {
        std::fs::create_dir_all(dir).with_context(|| {
            format!("cannot create the migrations directory `{}`", dir.display())
        })?;
        created.push(dir.clone());
    }
    if config.config_file_exists || config.config_file.exists() {
        existing.push(config.config_file.clone());
    } else {
        let text = config_template(&toml_path(&config.migrations_dir, &config.config_file)?);
        std::fs::write(&config.config_file, text).with_context(|| {
            format!(
                "cannot write the configuration file `{}`",
                config.config_file.display()
            )
        })?;
        created.push(config.config_file.clone());
    }
    if config.format == Format::Json {
        let paths = |v: &[PathBuf]| {
            v.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
        };
        print(&output::json_string(
            &json!({ "created": paths(&created), "existing": paths(&existing) }),
        ));
    } else {
        let style = Style::new(config.color);
        let mut text = String::new();
        for path in &created {
            text.push_str(&format!("{} {}\n", style.green("created"), path.display()));
        }
        for path in &existing {
            text.push_str(&format!(
                "{} {} (left as it is)\n",
                style.dim("exists"),
                path.display()
            ));
        }
        if created.contains(dir) {
            text.push_str("next: `cairn new <name>` creates a migration\n");
        }
        print(&text);
    }
    Ok(Outcome::Success)
}

/// The migrations directory as the config file should name it: relative to
/// the file's folder, as a TOML string.
fn toml_path(dir: &Path, config_file: &Path) -> anyhow::Result<String> {
    let base = config_file.parent().unwrap_or(Path::new(""));
    let shown = if dir.is_absolute() || base.as_os_str().is_empty() || base == Path::new(".") {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .context("cannot read the current directory")?
            .join(dir)
    };
    let text = shown
        .to_str()
        .map_or_else(|| DEFAULT_MIGRATIONS_DIR.to_owned(), str::to_owned);
    Ok(toml::Value::String(text).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_phase(state: cairn::HistoryState) -> cairn::migrator::ExpandedMigration {
        cairn::migrator::ExpandedMigration {
            version: cairn::Version::from(20260101090500),
            name: "rename_users_name".to_owned(),
            state,
            versions: cairn::operation::Versions::default(),
            next: String::new(),
        }
    }

    #[test]
    fn a_lock_timeout_in_a_phase_says_how_to_continue_or_undo_it() {
        let lock = Error::Driver {
            engine: cairn::Engine::Postgres,
            context: "add column users.full_name".to_owned(),
            cause: cairn::DriverError::new(cairn::DriverErrorKind::LockTimeout, "lock timeout"),
        };
        let expanding = [in_phase(cairn::HistoryState::Expanding)];
        let hint = lock_timeout_hint(&lock, &expanding, Asked::Up).expect("a hint");
        assert!(hint.contains("is expanding"), "{hint}");
        assert!(hint.contains("running `cairn up` again"), "{hint}");
        assert!(hint.contains("`cairn abort 20260101090500`"), "{hint}");

        let contracting = [in_phase(cairn::HistoryState::Contracting)];
        let hint = lock_timeout_hint(&lock, &contracting, Asked::Contract).expect("a hint");
        assert!(
            hint.contains("running `cairn contract 20260101090500` again"),
            "{hint}"
        );
        assert!(
            !hint.contains("abort"),
            "no abort after contract started: {hint}"
        );

        // Not a lock timeout, or nothing in a phase: the error alone.
        assert_eq!(
            lock_timeout_hint(&Error::NothingToRedo, &expanding, Asked::Up),
            None
        );
        assert_eq!(lock_timeout_hint(&lock, &[], Asked::Up), None);
    }

    #[test]
    fn the_config_template_parses_and_names_the_dir() {
        let text = config_template(
            &toml_path(Path::new("db/migrations"), Path::new("cairn.toml")).unwrap(),
        );
        let value: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(value["migrations_dir"].as_str(), Some("db/migrations"));
        assert_eq!(value.len(), 1);
        for key in cairn::config::KEYS {
            assert!(
                text.contains(&format!("\n# {} = ", key.name))
                    || text.contains(&format!("\n{} = ", key.name)),
                "the template lacks `{}`",
                key.name
            );
        }
    }
}
