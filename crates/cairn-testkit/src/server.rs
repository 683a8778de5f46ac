//! Where server-backed test databases come from.
//!
//! In order: the URL in `CAIRN_TEST_POSTGRES_URL` / `CAIRN_TEST_MYSQL_URL`
//! (a server you run), else a container started through testcontainers (one
//! per test binary). When neither works the test fails with a message naming
//! both ways — it never skips.

use cairn_core::Engine;

/// The environment variable that names a server for `engine`.
pub fn url_variable(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "CAIRN_TEST_POSTGRES_URL",
        Engine::Mysql => "CAIRN_TEST_MYSQL_URL",
        Engine::Sqlite => "CAIRN_TEST_SQLITE_URL",
    }
}

/// The URL of a server for `engine` on which tests may create databases:
/// from the environment, else from a container. Panics (failing the test)
/// with instructions when there is none.
pub async fn admin_url(engine: Engine) -> String {
    if let Ok(url) = std::env::var(url_variable(engine)) {
        if !url.trim().is_empty() {
            return url;
        }
    }
    match crate::server::container_url(engine).await {
        Ok(url) => url,
        Err(why) => panic!(
            "no {engine} server for the tests: {why}\n\
             Provide one either way:\n\
             - set {} to a server URL on which the tests may create and drop databases, e.g. {}\n\
             - or make a container engine reachable for testcontainers (Docker, or Podman's API socket with DOCKER_HOST set: `just podman`), with the image in {} (build offline images with `just images`)",
            url_variable(engine),
            match engine {
                Engine::Postgres => "postgres://postgres@127.0.0.1:5432/postgres",
                _ => "mysql://root@127.0.0.1:3306/test",
            },
            match engine {
                Engine::Postgres => "CAIRN_TEST_POSTGRES_IMAGE",
                _ => "CAIRN_TEST_MYSQL_IMAGE",
            },
        ),
    }
}

/// Starts (once per test binary) a container for `engine` and returns its admin URL.
pub(crate) async fn container_url(engine: Engine) -> Result<String, String> {
    Err(format!("{} is not set and container support is not built yet", url_variable(engine)))
}

/// A database name unique to this process and call: `cairn_test_<pid>_<n>_<nanos>`.
pub fn unique_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("cairn_test_{}_{n}_{nanos}", std::process::id())
}

/// `url` with its database (the path) replaced by `database`, keeping the query.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Runs `work` to completion on a runtime of its own, on a thread of its own:
/// for cleanups that run in `Drop`, whatever runtime (if any) the test uses.
pub fn block_on_own_runtime<F>(work: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let handle = std::thread::spawn(move || match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(work),
        Err(e) => eprintln!("cairn-testkit: cannot start a runtime to drop a test database: {e}"),
    });
    let _ = handle.join();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_the_path_only() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(with_database("mysql://root@127.0.0.1:3306", "t"), "mysql://root@127.0.0.1:3306/t");
    }
}
