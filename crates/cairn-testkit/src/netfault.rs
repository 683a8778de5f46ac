//! Network faults for driver tests: peers that misbehave the way real ones do.
//!
//! - [`SilentServer`] accepts TCP connections and never sends a byte: a
//!   firewall that completes the handshake, a port forwarded to nothing, a
//!   server stuck before its greeting.
//! - [`FreezingProxy`] forwards between a driver and a real server until it is
//!   [frozen](FreezingProxy::freeze); from then on it forwards nothing in either
//!   direction but keeps every socket open, as a `SIGSTOP`ped server or a
//!   paused VM does (the kernel still ACKs, so TCP keepalives see nothing).
//!
//! Both run on the test's tokio runtime and stop with it.
//!
//! The cases every server driver runs against them live here too, so a
//! driver's test says only how it connects and how its server shows a
//! running statement: [`assert_silent_server_refused`],
//! [`assert_frozen_connection_abandoned`], [`up_until_frozen`] on the
//! [`sleeping`] migrations, and [`statement_error`].

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_core::url::DatabaseUrl;
use cairn_core::{Driver, DriverError, DriverErrorKind, Error, Migrator};

use crate::fixture::{Fixture, FixtureDir};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP server that accepts connections and never answers.
#[derive(Debug)]
pub struct SilentServer {
    port: u16,
    _accept: std::thread::JoinHandle<()>,
}

impl SilentServer {
    /// Listens on `127.0.0.1`, on a free port, in a thread of its own (so it
    /// also serves a `cairn` process while the test waits for it).
    pub fn start() -> SilentServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        let port = listener.local_addr().expect("local address").port();
        let accept = std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                match stream {
                    // Keep the socket open and read nothing.
                    Ok(stream) => held.push(stream),
                    Err(_) => return,
                }
            }
        });
        SilentServer {
            port,
            _accept: accept,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// A TCP proxy to a real server that can be frozen.
#[derive(Debug)]
pub struct FreezingProxy {
    port: u16,
    frozen: Arc<AtomicBool>,
}

impl FreezingProxy {
    /// Listens on `127.0.0.1`, on a free port, forwarding every connection to
    /// `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> FreezingProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let port = listener.local_addr().expect("local address").port();
        let frozen = Arc::new(AtomicBool::new(false));
        let upstream = upstream.to_owned();
        let switch = Arc::clone(&frozen);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pump(client_read, server_write, Arc::clone(&switch)));
                tokio::spawn(pump(server_read, client_write, Arc::clone(&switch)));
            }
        });
        FreezingProxy { port, frozen }
    }

    /// The port to connect to instead of the server's.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// From now on nothing is forwarded, in either direction; the sockets stay open.
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` while not frozen; once frozen, holds what it read.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

/// `host:port` of a `scheme://user[:password]@host:port/...` URL (`port` when
/// the URL has none).
pub fn host_port(url: &str, port: u16) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    }
}

/// `url` with its `host:port` replaced by `127.0.0.1:<port>`.
pub fn via_port(url: &str, port: u16) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let userinfo = authority.rsplit_once('@').map(|(user, _)| user);
    match userinfo {
        Some(user) => format!("{scheme}://{user}@127.0.0.1:{port}{tail}"),
        None => format!("{scheme}://127.0.0.1:{port}{tail}"),
    }
}

/// Generous: the bounds under test are a few seconds.
pub const BOUND: Duration = Duration::from_secs(40);

/// A peer that accepts TCP and never answers: `connect` (given
/// `<scheme>://<user>:hunter2@127.0.0.1:<port>/x?connect_timeout=1`) fails
/// within the connect timeout, naming the redacted URL, `product` and the
/// setting, and never the password.
pub async fn assert_silent_server_refused<T, F, Fut>(
    scheme: &str,
    user: &str,
    product: &str,
    connect: F,
) where
    F: FnOnce(DatabaseUrl) -> Fut,
    Fut: Future<Output = Result<T, DriverError>>,
{
    let silent = SilentServer::start();
    let raw = format!(
        "{scheme}://{user}:hunter2@127.0.0.1:{}/x?connect_timeout=1",
        silent.port()
    );
    let url = DatabaseUrl::parse(&raw).expect("a database URL");
    let started = Instant::now();
    let Err(err) = tokio::time::timeout(BOUND, connect(url))
        .await
        .expect("connect hung")
    else {
        panic!("connected to a server that never answers");
    };
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.kind, DriverErrorKind::Connection, "{err}");
    let target = format!(
        "cannot connect to {scheme}://{user}:***@127.0.0.1:{}/x",
        silent.port()
    );
    let answer = format!("no answer from a {product} server within 1 s");
    for needle in [
        target.as_str(),
        answer.as_str(),
        "connect_timeout in the database URL",
    ] {
        assert!(err.message.contains(needle), "{needle}: {err}");
    }
    assert!(!err.message.contains("hunter2"), "{err}");
}

/// A driver connected through `proxy` with `read_timeout=1`: once the proxy
/// freezes, Cairn's own query ends within the read timeout as a connection
/// error, and the connection is abandoned: nothing more is sent, and nothing
/// waits again.
pub async fn assert_frozen_connection_abandoned(driver: &mut dyn Driver, proxy: &FreezingProxy) {
    proxy.freeze();
    let started = Instant::now();
    let err = driver
        .query("SELECT 1")
        .await
        .expect_err("a frozen server answered");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.kind, DriverErrorKind::Connection);
    assert!(
        err.message
            .contains("within 1 s (read_timeout in the database URL)"),
        "{err}"
    );
    let started = Instant::now();
    let err = driver
        .execute("SELECT 2")
        .await
        .expect_err("an abandoned connection answered");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(err.message.contains("was abandoned"), "{err}");
}

/// Two migrations: `t`, then one (with `directive` on top) that inserts a
/// row and runs `sleep` (`SELECT pg_sleep(30)`, `SELECT SLEEP(30)`).
pub fn sleeping(directive: &str, sleep: &str) -> FixtureDir {
    Fixture::new()
        .migration(1, "create_t", "CREATE TABLE t (id INTEGER);\n", None)
        .migration(
            2,
            "slow",
            &format!("{directive}INSERT INTO t VALUES (1);\n{sleep};\n"),
            None,
        )
        .build()
}

/// Runs `migrator.up` on `driver` (connected through `proxy`), freezes the
/// proxy once `running` — a query on `observer` — returns `1`, and returns
/// the run's error and how long the run took.
pub async fn up_until_frozen(
    migrator: &Migrator,
    driver: &mut dyn Driver,
    observer: &mut dyn Driver,
    running: &str,
    proxy: FreezingProxy,
) -> (Error, Duration) {
    let started = Instant::now();
    let watch = async {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let rows = observer
                .query(running)
                .await
                .unwrap_or_else(|e| panic!("{running}: {e}"));
            let value = rows
                .into_iter()
                .next()
                .and_then(|r| r.into_iter().next().flatten());
            if value.as_deref() == Some("1") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the session never ran: {running}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        proxy.freeze();
    };
    let (result, ()) = tokio::join!(
        tokio::time::timeout(BOUND, migrator.up(driver, None)),
        watch
    );
    let Ok(result) = result else {
        panic!("up still waiting {BOUND:?} after the server froze");
    };
    let failure = result.expect_err("up succeeded through a frozen server");
    (failure.error, started.elapsed())
}

/// The version, message and kind of an [`Error::Statement`]; panics on anything else.
pub fn statement_error(error: &Error) -> (i64, String, DriverErrorKind) {
    match error {
        Error::Statement {
            version,
            message,
            kind,
            ..
        } => (version.key(), message.clone(), *kind),
        other => panic!("expected a statement error, got {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conn_urls_are_rewritten_to_the_proxy() {
        assert_eq!(
            host_port("postgres://postgres@127.0.0.1:5432/x?a=b", 5432),
            "127.0.0.1:5432"
        );
        assert_eq!(host_port("mysql://root@db/test", 3306), "db:3306");
        assert_eq!(
            via_port("mysql://root:pw@db:3306/test?x=1", 9),
            "mysql://root:pw@127.0.0.1:9/test?x=1"
        );
    }
}
