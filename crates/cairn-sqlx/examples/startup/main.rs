//! A plain tokio service that migrates its database at start-up, on the
//! sqlx pool it then serves from.
//!
//! ```text
//! DATABASE_URL=sqlite://app.db?mode=rwc cargo run -p cairn-sqlx --example startup
//! DATABASE_URL=postgres://postgres@localhost/app cargo run -p cairn-sqlx --features postgres --example startup
//! DATABASE_URL=mysql://root@localhost/app cargo run -p cairn-sqlx --features mysql --example startup
//! ```
//!
//! Start-up is: open the pool, take one connection of it for Cairn
//! ([`cairn_sqlx::SqlxDriver::from_pool`]), apply what is pending (nothing,
//! the second time), give the connection back, serve. Several instances
//! starting at once are safe: Cairn's run lock makes them take turns, and
//! each applies only what the others have not. A failure stops the service
//! before it serves anything, with Cairn's error (which migration, which
//! statement, what to do).
//!
//! The migrations are in `examples/startup/migrations/`, read at start-up
//! here; an application would embed them, or hand Cairn its existing
//! `sqlx::migrate!()` set through [`cairn_sqlx::migrations`].

use std::error::Error;
use std::path::Path;

use sqlx::Pool;

/// What start-up did: the versions it applied, and what the service then
/// read through the pool.
#[derive(Debug)]
pub struct Started {
    /// The migrations applied at this start-up.
    pub applied: Vec<cairn::Version>,
    /// `SELECT COUNT(*) FROM users`, through the application's pool.
    pub users: i64,
}

type BoxError = Box<dyn Error + Send + Sync>;

/// The migrations directory of this example.
fn migrations_dir() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/startup/migrations"
    ))
}

/// Applies the pending migrations on one connection of `pool`, which goes
/// back to the pool (or is replaced, on the server engines) when done.
pub async fn migrate<DB: cairn_sqlx::Backend>(
    pool: &Pool<DB>,
) -> Result<Vec<cairn::Version>, BoxError> {
    let migrations = cairn::source::read_dir(migrations_dir())?;
    let migrator = cairn::Migrator::new(migrations, cairn::MigratorOptions::default());
    let mut driver = cairn_sqlx::SqlxDriver::from_pool(pool).await?;
    let report = migrator.up(&mut driver, None).await?;
    Ok(report.migrations.iter().map(|m| m.version).collect())
}

/// Start-up against `url`: pool, migrations, then the service's first query.
pub async fn start(url: &str) -> Result<Started, BoxError> {
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        "sqlite" => {
            let pool = sqlx::SqlitePool::connect(url).await?;
            let applied = migrate(&pool).await?;
            let users = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                .fetch_one(&pool)
                .await?;
            pool.close().await;
            Ok(Started { applied, users })
        }
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => {
            let pool = sqlx::PgPool::connect(url).await?;
            let applied = migrate(&pool).await?;
            let users = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                .fetch_one(&pool)
                .await?;
            pool.close().await;
            Ok(Started { applied, users })
        }
        #[cfg(feature = "mysql")]
        "mysql" | "mariadb" => {
            let pool = sqlx::MySqlPool::connect(url).await?;
            let applied = migrate(&pool).await?;
            let users = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                .fetch_one(&pool)
                .await?;
            pool.close().await;
            Ok(Started { applied, users })
        }
        other => Err(format!(
            "DATABASE_URL has the scheme `{other}`: this example reads sqlite:, and postgres: or mysql: with the features of the same names"
        )
        .into()),
    }
}

#[allow(dead_code)] // the tests include this file for `start`
#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite::memory:".to_owned());
    let started = start(&url).await?;
    println!(
        "migrated at start-up (applied {:?}); serving, {} user(s)",
        started.applied, started.users
    );
    Ok(())
}
