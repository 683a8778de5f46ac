//! Where server-backed test databases come from.
//!
//! In order: the URL in `CAIRN_TEST_POSTGRES_URL` / `CAIRN_TEST_MYSQL_URL`
//! (a server you run), else a container started through testcontainers (one
//! per test binary). When neither works the test fails with a message naming
//! both ways — it never skips.

use cairn_core::Engine;

use containers::Spec;

/// What the testkit knows of one engine's servers: the variables that name
/// a server or an image, an example for messages, and how to start and
/// probe a container. The one place where provisioning differs by engine:
/// a new engine family is a new entry, found by lookup, never a branch.
struct ServerKind {
    engine: Engine,
    url_variable: &'static str,
    example_url: &'static str,
    /// `None`: the engine needs no server (SQLite).
    container: Option<&'static Spec>,
}

static SERVERS: &[ServerKind] = &[
    ServerKind {
        engine: Engine::Postgres,
        url_variable: "CAIRN_TEST_POSTGRES_URL",
        example_url: "postgres://postgres@127.0.0.1:5432/postgres",
        container: Some(&containers::POSTGRES),
    },
    ServerKind {
        engine: Engine::Mysql,
        url_variable: "CAIRN_TEST_MYSQL_URL",
        example_url: "mysql://root@127.0.0.1:3306/test",
        container: Some(&containers::MYSQL),
    },
    ServerKind {
        engine: Engine::Sqlite,
        url_variable: "CAIRN_TEST_SQLITE_URL",
        example_url: "sqlite:///tmp/test.db",
        container: None,
    },
];

/// The entry for `engine`; panics (failing the test) for an engine the
/// testkit has no entry for.
fn kind(engine: Engine) -> &'static ServerKind {
    SERVERS
        .iter()
        .find(|kind| kind.engine == engine)
        .unwrap_or_else(|| panic!("cairn-testkit knows no server for {engine}"))
}

/// The environment variable that names a server for `engine`.
pub fn url_variable(engine: Engine) -> &'static str {
    kind(engine).url_variable
}

/// The URL of a server for `engine` on which tests may create databases:
/// from the environment, else from a container. Panics (failing the test)
/// with instructions when there is none.
pub async fn admin_url(engine: Engine) -> String {
    let kind = kind(engine);
    if let Ok(url) = std::env::var(kind.url_variable) {
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
            kind.url_variable,
            kind.example_url,
            kind.container.map_or("CAIRN_TEST_<ENGINE>_IMAGE", |spec| spec.image_variable),
        ),
    }
}

/// Starts (once per test binary) a container for `engine` and returns its admin URL.
///
/// The image comes from `CAIRN_TEST_POSTGRES_IMAGE` / `CAIRN_TEST_MYSQL_IMAGE`
/// (`name:tag`), else the official `postgres:17` / `mariadb:11`; offline, build
/// `localhost/cairn-postgres:{15,17}` and `localhost/cairn-mariadb:{10.11,11.8}`
/// with `scripts/images.sh` and name one of them. The container is started on a
/// thread and runtime of its own that live as long as the process (each
/// `#[tokio::test]` has a runtime that ends with it), and is published on a host
/// port of 127.0.0.1 chosen here (Podman 4 reports published ports in a way
/// testcontainers cannot read back). It carries the label `cairn-test`, and a
/// small watcher process removes it when the test process exits; leftovers (after
/// `kill -9` of the watcher too) go with
/// `podman rm -f $(podman ps -aq --filter label=cairn-test)` (or `docker …`).
/// A failure is remembered: later tests of the binary fail at once with it.
pub async fn container_url(engine: Engine) -> Result<String, String> {
    let kind = SERVERS
        .iter()
        .find(|kind| kind.engine == engine)
        .ok_or_else(|| format!("cairn-testkit has no container for {engine}"))?;
    let spec = kind
        .container
        .ok_or_else(|| format!("{engine} needs no server"))?;
    spec.url_once
        .get_or_init(|| containers::request(engine, spec))
        .await
        .clone()
}

mod containers {
    use std::io::{Read, Write};
    use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    use cairn_core::Engine;
    use testcontainers::core::{IntoContainerPort, WaitFor};
    use testcontainers::runners::AsyncRunner;
    use testcontainers::{ContainerAsync, GenericImage, ImageExt};
    use tokio::sync::{mpsc, oneshot, OnceCell};

    /// The label on every container started here (`cairn-test=<pid>`).
    const LABEL: &str = "cairn-test";
    /// The superuser's password in every container: one that appears in no other
    /// output (not the user's or a database's name), so tests can check that
    /// messages never show it.
    const PASSWORD: &str = "s3cr3t";
    /// How long a container may take from creation to accepting connections
    /// (pulls of official images are not counted).
    const STARTUP: Duration = Duration::from_secs(120);

    /// How to start and recognise a container of one engine.
    pub(super) struct Spec {
        pub(super) image_variable: &'static str,
        default_image: &'static str,
        local_images: &'static str,
        port: u16,
        env: &'static [(&'static str, &'static str)],
        cmd: &'static [&'static str],
        /// Logged once the server listens on TCP: the official images start a
        /// socket-only server first to initialise, so "ready" alone is too early.
        /// (MySQL's "port: 33060" is its X plugin's, hence the space after 3306.)
        log_line: &'static str,
        url: fn(u16) -> String,
        /// One connection attempt that tells the server answers its protocol.
        probe: fn(&mut TcpStream) -> Result<(), String>,
        /// The container's URL (or why it could not start), once per process.
        pub(super) url_once: OnceCell<Result<String, String>>,
    }

    pub(super) static MYSQL: Spec = Spec {
        image_variable: "CAIRN_TEST_MYSQL_IMAGE",
        default_image: "mariadb:11",
        local_images: "localhost/cairn-mariadb:11.8 or localhost/cairn-mariadb:10.11",
        port: 3306,
        env: &[
            ("MARIADB_ROOT_PASSWORD", PASSWORD),
            ("MARIADB_ROOT_HOST", "%"),
            // The official mysql images read these names.
            ("MYSQL_ROOT_PASSWORD", PASSWORD),
            ("MYSQL_ROOT_HOST", "%"),
        ],
        // Test data need not survive a crash of the container.
        cmd: &["--innodb-flush-log-at-trx-commit=2"],
        log_line: "port: 3306 ",
        url: |port| format!("mysql://root:{PASSWORD}@127.0.0.1:{port}/mysql"),
        probe: probe_mysql,
        url_once: OnceCell::const_new(),
    };

    pub(super) static POSTGRES: Spec = Spec {
        image_variable: "CAIRN_TEST_POSTGRES_IMAGE",
        default_image: "postgres:17",
        local_images: "localhost/cairn-postgres:17 or localhost/cairn-postgres:15",
        port: 5432,
        env: &[("POSTGRES_PASSWORD", PASSWORD)],
        // Test data need not survive a crash of the container.
        cmd: &[
            "postgres",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ],
        log_line: "listening on IPv4 address",
        url: |port| format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/postgres"),
        probe: probe_postgres,
        url_once: OnceCell::const_new(),
    };

    struct Request {
        engine: Engine,
        spec: &'static Spec,
        reply: oneshot::Sender<Result<String, String>>,
    }

    /// Asks the container thread for a container and waits for its URL.
    pub(super) async fn request(engine: Engine, spec: &'static Spec) -> Result<String, String> {
        let sender = service()?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(Request {
                engine,
                spec,
                reply,
            })
            .map_err(|_| "the thread that starts test containers has stopped".to_string())?;
        answer.await.map_err(|_| {
            "the thread that starts test containers stopped before answering".to_string()
        })?
    }

    /// The thread, with a runtime of its own, that starts containers and keeps
    /// them (and the Docker client's connections) alive until the process exits.
    fn service() -> Result<&'static mpsc::UnboundedSender<Request>, String> {
        static SERVICE: OnceLock<Result<mpsc::UnboundedSender<Request>, String>> = OnceLock::new();
        SERVICE
            .get_or_init(|| {
                let (sender, mut requests) = mpsc::unbounded_channel::<Request>();
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot build a runtime for test containers: {e}"))?;
                std::thread::Builder::new()
                    .name("cairn-testcontainers".into())
                    .spawn(move || {
                        runtime.block_on(async move {
                            while let Some(Request {
                                engine,
                                spec,
                                reply,
                            }) = requests.recv().await
                            {
                                tokio::spawn(async move {
                                    match start(engine, spec).await {
                                        Ok(started) => {
                                            let _ = reply.send(Ok(started.url.clone()));
                                            // Held, never dropped: the container lives as long as the process.
                                            std::future::pending::<()>().await;
                                            drop(started);
                                        }
                                        Err(why) => {
                                            let _ = reply.send(Err(why));
                                        }
                                    }
                                });
                            }
                            // The sender is in a static: the loop above never ends.
                            std::future::pending::<()>().await;
                        });
                    })
                    .map_err(|e| format!("cannot start the thread for test containers: {e}"))?;
                Ok(sender)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// A running container, held (never dropped) with what removes it at exit.
    struct Started {
        url: String,
        _container: ContainerAsync<GenericImage>,
        _reaper: Option<Reaper>,
    }

    async fn start(engine: Engine, spec: &'static Spec) -> Result<Started, String> {
        let descriptor = std::env::var(spec.image_variable)
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| spec.default_image.to_string());
        let (name, tag) = split_image(descriptor.trim());

        let docker = testcontainers::core::client::docker_client_instance()
            .await
            .map_err(|e| no_engine(&e.to_string()))?;
        docker.ping().await.map_err(|e| no_engine(&e.to_string()))?;

        let local = docker.inspect_image(&format!("{name}:{tag}")).await.is_ok();
        if !local && name.starts_with("localhost/") {
            return Err(format!(
                "the image {name}:{tag} (from {}) is not in the container engine's storage: build it with `just images` \
                 (scripts/images.sh), or set {} to another image",
                if std::env::var(spec.image_variable).is_ok() { spec.image_variable } else { "the default" },
                spec.image_variable,
            ));
        }

        let started_at = Instant::now();
        let mut last_error = String::new();
        // A port chosen free here may be taken before the container binds it: retry.
        for _ in 0..3 {
            let port = free_port()
                .map_err(|e| format!("cannot find a free TCP port on 127.0.0.1: {e}"))?;
            let attempt = format!("{}-{}-{port}", std::process::id(), engine_name(engine));
            let mut image = GenericImage::new(name.as_str(), tag.as_str())
                .with_wait_for(WaitFor::message_on_either_std(spec.log_line))
                .with_mapped_port(port, spec.port.tcp())
                .with_label(LABEL, std::process::id().to_string())
                .with_label("cairn-test.attempt", attempt.as_str())
                .with_startup_timeout(STARTUP)
                .with_cmd(spec.cmd.iter().copied())
                .with_host_config_modifier(|host| {
                    // Publish on loopback only, not on every address of the machine.
                    for bindings in host
                        .port_bindings
                        .iter_mut()
                        .flat_map(|b| b.values_mut())
                        .flatten()
                    {
                        for binding in bindings {
                            binding.host_ip = Some("127.0.0.1".to_string());
                        }
                    }
                });
            for (key, value) in spec.env {
                image = image.with_env_var(*key, *value);
            }

            match image.start().await {
                Ok(container) => {
                    let reaper = Reaper::spawn(container.id());
                    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                    wait_until_answering(spec.probe, address, STARTUP.saturating_sub(started_at.elapsed()))
                        .await
                        .map_err(|why| {
                            format!(
                                "container {} from {name}:{tag} started but its server did not answer on {address}: {why}",
                                short(container.id())
                            )
                        })?;
                    if std::env::var_os("CAIRN_TEST_QUIET").is_none() {
                        eprintln!(
                            "cairn-testkit: {name}:{tag} ready on 127.0.0.1:{port} in {:.1} s (container {})",
                            started_at.elapsed().as_secs_f64(),
                            short(container.id())
                        );
                    }
                    return Ok(Started {
                        url: (spec.url)(port),
                        _container: container,
                        _reaper: reaper,
                    });
                }
                Err(e) => {
                    // A container that was created but failed to start or to get
                    // ready has no handle that would remove it: remove it here.
                    remove_labelled(&docker, &attempt).await;
                    last_error = e.to_string();
                    let port_taken = last_error.contains("address already in use")
                        || last_error.contains("port is already allocated");
                    if !port_taken {
                        break;
                    }
                }
            }
        }
        Err(
            if !local && (last_error.contains("pull") || last_error.contains("manifest")) {
                format!(
                "cannot start {name}:{tag}: {last_error}\nWith no registry reachable, build local images with `just images` \
                 (scripts/images.sh) and set {}={}",
                spec.image_variable,
                spec.local_images.split(" or ").next().unwrap_or(spec.local_images)
            )
            } else {
                format!("cannot start a container from {name}:{tag}: {last_error}")
            },
        )
    }

    fn no_engine(error: &str) -> String {
        let host = std::env::var("DOCKER_HOST")
            .unwrap_or_else(|_| "unset, so /var/run/docker.sock".to_string());
        format!(
            "no Docker or Podman API socket answered (DOCKER_HOST: {host}): {error}. \
             Start one with `just podman` (scripts/podman.sh, which prints the DOCKER_HOST to export), or start Docker"
        )
    }

    fn engine_name(engine: Engine) -> &'static str {
        engine.as_str()
    }

    fn short(id: &str) -> &str {
        id.get(..12).unwrap_or(id)
    }

    /// `name:tag` split into its parts; a `:` inside the registry's address
    /// (`host:5000/name`) is not a tag, and no tag means `latest`.
    pub(super) fn split_image(descriptor: &str) -> (String, String) {
        match descriptor.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') && !name.is_empty() => {
                (name.to_string(), tag.to_string())
            }
            _ => (descriptor.to_string(), "latest".to_string()),
        }
    }

    fn free_port() -> std::io::Result<u16> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        Ok(listener.local_addr()?.port())
    }

    /// Waits until the server at `address` speaks its protocol: a published port
    /// may accept connections (Docker's proxy) before anything listens behind it.
    async fn wait_until_answering(
        answers: fn(&mut TcpStream) -> Result<(), String>,
        address: SocketAddr,
        budget: Duration,
    ) -> Result<(), String> {
        let deadline = Instant::now() + budget.max(Duration::from_secs(10));
        loop {
            let probe = tokio::task::spawn_blocking(move || probe(answers, address))
                .await
                .unwrap_or_else(|e| Err(format!("probe failed: {e}")));
            match probe {
                Ok(()) => return Ok(()),
                Err(why) if Instant::now() >= deadline => return Err(why),
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }

    /// One connection attempt, asking `answers` whether the server speaks.
    fn probe(
        answers: fn(&mut TcpStream) -> Result<(), String>,
        address: SocketAddr,
    ) -> Result<(), String> {
        let timeout = Duration::from_secs(2);
        let mut stream =
            TcpStream::connect_timeout(&address, timeout).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        stream
            .set_write_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        answers(&mut stream)
    }

    /// PostgreSQL answers an SSLRequest (length 8, code 80877103) with one byte.
    fn probe_postgres(stream: &mut TcpStream) -> Result<(), String> {
        stream
            .write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
            .map_err(|e| e.to_string())?;
        let mut answer = [0u8; 1];
        stream.read_exact(&mut answer).map_err(|e| e.to_string())?;
        match answer[0] {
            b'S' | b'N' => Ok(()),
            other => Err(format!("unexpected answer {other:#x} to an SSLRequest")),
        }
    }

    /// MySQL/MariaDB greets with a handshake packet (protocol version 10).
    fn probe_mysql(stream: &mut TcpStream) -> Result<(), String> {
        let mut greeting = [0u8; 5];
        stream
            .read_exact(&mut greeting)
            .map_err(|e| e.to_string())?;
        match greeting[4] {
            10 => Ok(()),
            0xff => Err("the server refused the connection".to_string()),
            other => Err(format!("unexpected greeting (protocol {other})")),
        }
    }

    /// Removes containers from one failed attempt.
    async fn remove_labelled(docker: &testcontainers::bollard::Docker, attempt: &str) {
        use std::collections::HashMap;
        use testcontainers::bollard::query_parameters::{
            ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
        };
        let filters = HashMap::from([("label", vec![format!("cairn-test.attempt={attempt}")])]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        if let Ok(found) = docker.list_containers(Some(options)).await {
            for id in found.into_iter().filter_map(|c| c.id) {
                let options = RemoveContainerOptionsBuilder::new()
                    .force(true)
                    .v(true)
                    .build();
                let _ = docker.remove_container(&id, Some(options)).await;
            }
        }
    }

    /// A process that removes the container once this process has exited, however
    /// it exits: statics are never dropped, so testcontainers' own removal on drop
    /// never runs for a container kept for the whole process. It waits for the end
    /// of a pipe that only this process holds, then runs `docker rm -f`, else
    /// `podman rm -f`, else the API call through curl. In a process group of its
    /// own, so Ctrl-C on the tests does not stop it. Not spawned with
    /// `TESTCONTAINERS_COMMAND=keep` (for debugging), nor off Unix.
    #[cfg_attr(not(unix), allow(dead_code, reason = "only spawned on Unix"))]
    struct Reaper {
        /// Holds the write end of the pipe the process waits on.
        _child: std::process::Child,
    }

    impl Reaper {
        #[cfg(unix)]
        fn spawn(id: &str) -> Option<Reaper> {
            use std::os::unix::process::CommandExt;
            use std::process::{Command, Stdio};
            if std::env::var("TESTCONTAINERS_COMMAND").is_ok_and(|c| c == "keep") {
                return None;
            }
            const SCRIPT: &str = r#"
                while read -r _; do :; done
                id=$1
                for tool in docker podman; do
                    if command -v "$tool" >/dev/null 2>&1 && "$tool" rm -f -v "$id" >/dev/null 2>&1; then exit 0; fi
                done
                socket=${DOCKER_HOST:-unix:///var/run/docker.sock}
                case $socket in
                    unix://*) curl -fsS -X DELETE --unix-socket "${socket#unix://}" "http://localhost/containers/$id?force=true&v=true" ;;
                esac
            "#;
            let spawned = Command::new("sh")
                .arg("-c")
                .arg(SCRIPT)
                .arg("cairn-test-reaper")
                .arg(id)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn();
            match spawned {
                Ok(child) => Some(Reaper { _child: child }),
                Err(e) => {
                    eprintln!(
                        "cairn-testkit: cannot start the process that removes container {} at exit ({e}); \
                         remove leftovers with `podman rm -f $(podman ps -aq --filter label={LABEL})`",
                        short(id)
                    );
                    None
                }
            }
        }

        #[cfg(not(unix))]
        fn spawn(_id: &str) -> Option<Reaper> {
            None
        }
    }
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
    let handle = std::thread::spawn(move || {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(work),
            Err(e) => {
                eprintln!("cairn-testkit: cannot start a runtime to drop a test database: {e}")
            }
        }
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
        assert_eq!(
            with_database("mysql://root@127.0.0.1:3306", "t"),
            "mysql://root@127.0.0.1:3306/t"
        );
    }

    #[test]
    fn image_names_split_at_the_tag_only() {
        let split = |s: &str| containers::split_image(s);
        assert_eq!(split("postgres:17"), ("postgres".into(), "17".into()));
        assert_eq!(
            split("localhost/cairn-mariadb:10.11"),
            ("localhost/cairn-mariadb".into(), "10.11".into())
        );
        assert_eq!(split("mariadb"), ("mariadb".into(), "latest".into()));
        assert_eq!(
            split("registry:5000/pg"),
            ("registry:5000/pg".into(), "latest".into())
        );
        assert_eq!(
            split("registry:5000/pg:16"),
            ("registry:5000/pg".into(), "16".into())
        );
    }
}
