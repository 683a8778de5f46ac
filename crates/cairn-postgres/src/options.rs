//! Reading a `postgres://` URL into a `tokio_postgres::Config` and TLS options.
//!
//! tokio-postgres parses libpq-style URLs itself, but knows only three
//! `sslmode` values (`disable`, `prefer`, `require`) and no `sslrootcert`, and
//! rejects any parameter it does not know. So the parameters that are ours
//! (`sslmode`, `sslrootcert`) are taken out of the query here, the rest of the
//! URL goes to tokio-postgres untouched, and the TLS mode is set on the
//! resulting `Config` by hand. Client certificates (`sslcert`, `sslkey`, ...)
//! are refused with a clear error rather than ignored.
//!
//! `connect_timeout` and `read_timeout` are Cairn's too (see
//! [`cairn_core::timeouts`]): connect_timeout bounds the whole connection,
//! not only the TCP connect as in tokio-postgres. TCP keepalives are on, with
//! Cairn's idle time, interval and count unless the URL sets `keepalives_*`.
//!
//! A host that is a directory (`?host=/var/run/postgresql`, or
//! `%2Fvar%2Frun%2Fpostgresql` as the URL's host) is a Unix socket, and over a
//! Unix socket TLS is never tried, whatever the `sslmode` (as libpq does).

use cairn_core::timeouts::{self, Timeouts};
use cairn_core::url::DatabaseUrl;
use cairn_core::{DriverError, DriverErrorKind};
use tokio_postgres::config::{Host, SslMode as PgSslMode};
use tokio_postgres::Config;

/// The `application_name` Cairn sets unless the URL sets one, so that
/// `pg_stat_activity` (and a "lock held by" message) shows who is connected.
pub(crate) const APPLICATION_NAME: &str = "cairn";

/// libpq's `sslmode`, all five values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// Plain TCP only.
    Disable,
    /// TLS if the server offers it, plain otherwise; the certificate is not checked.
    Prefer,
    /// TLS or fail; the certificate is not checked (libpq semantics).
    Require,
    /// TLS, and the certificate chain must lead to a trusted root; any host name.
    VerifyCa,
    /// TLS, a trusted chain, and a certificate for the host connected to.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// The value as written in a URL.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// What tokio-postgres is told: whether to try TLS, and whether it is required.
    fn for_tokio_postgres(self) -> PgSslMode {
        match self {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
        }
    }
}

/// Where trusted root certificates come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Roots {
    /// The Mozilla roots compiled in (webpki-roots): no `sslrootcert`, or `sslrootcert=system`.
    Builtin,
    /// A PEM file of CA certificates (`sslrootcert=/path/ca.pem`).
    File(String),
}

/// Everything `PgDriver::connect` needs, read from a URL.
pub(crate) struct ConnectOptions {
    /// The tokio-postgres configuration (holds the password; never printed).
    pub(crate) config: Config,
    /// The TLS mode asked for.
    pub(crate) ssl_mode: SslMode,
    /// The trusted roots, when `sslrootcert` was given (`None`: none given).
    pub(crate) roots: Option<Roots>,
    /// Secrets from the URL, to scrub from any message as a last line of defence.
    pub(crate) secrets: Vec<String>,
    /// `connect_timeout` and `read_timeout`.
    pub(crate) timeouts: Timeouts,
    /// Every host is a Unix socket: TLS is never tried.
    pub(crate) unix_socket: bool,
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // tokio-postgres's Config already omits its password from Debug; the
        // secrets list is left out entirely.
        f.debug_struct("ConnectOptions")
            .field("config", &self.config)
            .field("ssl_mode", &self.ssl_mode)
            .field("roots", &self.roots)
            .field("timeouts", &self.timeouts)
            .field("unix_socket", &self.unix_socket)
            .finish_non_exhaustive()
    }
}

/// TLS parameters of libpq that Cairn does not support, refused by name.
const UNSUPPORTED: &[&str] = &[
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requiressl",
];

fn config_error(url: &DatabaseUrl, what: impl std::fmt::Display) -> DriverError {
    // A password split at a delimiter ends up in the parser's words: give only the hint.
    let what = match cairn_core::url::password_hint(url.expose()) {
        Some(hint) => {
            format!("it does not read as postgres://user:password@host:port/database; {hint}")
        }
        None => what.to_string(),
    };
    DriverError::new(
        DriverErrorKind::Other,
        format!("invalid PostgreSQL URL `{}`: {what}", url.redacted()),
    )
}

impl ConnectOptions {
    /// Reads `url` (`postgres://` or `postgresql://`, any case).
    pub(crate) fn from_url(url: &DatabaseUrl) -> Result<Self, DriverError> {
        let raw = url.expose();
        let Some((scheme, rest)) = raw.split_once("://") else {
            return Err(config_error(
                url,
                "expected postgres://user:password@host:port/database",
            ));
        };
        if !matches!(
            scheme.to_ascii_lowercase().as_str(),
            "postgres" | "postgresql"
        ) {
            return Err(config_error(
                url,
                format!("the scheme `{scheme}` is not postgres:// or postgresql://"),
            ));
        }
        // Split where tokio-postgres does: credentials end at the first `@`,
        // the query starts at the first `?` after them.
        let query_from = rest.find('@').map_or(0, |at| at + 1);
        let (base, query) = match rest[query_from..].find('?') {
            Some(i) => (&rest[..query_from + i], Some(&rest[query_from + i + 1..])),
            None => (rest, None),
        };

        let mut secrets = Vec::new();
        if let Some(userinfo) = rest.find('@').map(|at| &rest[..at]) {
            if let Some((_, password)) = userinfo.split_once(':') {
                secrets.push(password.to_owned());
                secrets.push(percent_decode(password));
            }
        }

        let mut ssl_mode = SslMode::Prefer;
        let mut roots = None;
        let mut timeouts = Timeouts::default();
        let mut keepalives_given = false;
        let mut kept = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode(key);
            let value = percent_decode(value);
            match key.as_str() {
                "sslmode" => {
                    ssl_mode = SslMode::parse(&value).ok_or_else(|| {
                        config_error(
                            url,
                            format!("unknown sslmode `{value}`: use disable, prefer, require, verify-ca or verify-full"),
                        )
                    })?;
                }
                "sslrootcert" => {
                    if value.is_empty() {
                        return Err(config_error(
                            url,
                            "sslrootcert is empty: give the path of a PEM file of CA certificates",
                        ));
                    }
                    roots = Some(if value == "system" {
                        Roots::Builtin
                    } else {
                        Roots::File(value)
                    });
                }
                key if timeouts
                    .take_param(key, &value)
                    .map_err(|e| config_error(url, e))? => {}
                key if UNSUPPORTED.contains(&key) => {
                    return Err(config_error(
                        url,
                        format!("the parameter `{key}` is not supported by Cairn's PostgreSQL driver (client certificates are not implemented)"),
                    ));
                }
                key => {
                    keepalives_given |= key.starts_with("keepalives_");
                    if key.contains("password") {
                        secrets.push(value.clone());
                    }
                    kept.push(pair);
                }
            }
        }

        let mut rebuilt = format!("postgresql://{base}");
        if !kept.is_empty() {
            rebuilt.push('?');
            rebuilt.push_str(&kept.join("&"));
        }
        // tokio-postgres's parse errors name the option, never its value.
        let mut config: Config = rebuilt
            .parse()
            .map_err(|e| config_error(url, crate::errors::chain(&e)))?;
        config.ssl_mode(ssl_mode.for_tokio_postgres());
        if config.get_application_name().is_none() {
            config.application_name(APPLICATION_NAME);
        }
        // The whole connection is bounded in `PgDriver::connect`; the TCP
        // connect alone gets the same bound.
        if let Some(limit) = timeouts.connect_limit() {
            config.connect_timeout(limit);
        }
        if !keepalives_given {
            config
                .keepalives(true)
                .keepalives_idle(timeouts::KEEPALIVE_IDLE)
                .keepalives_interval(timeouts::KEEPALIVE_INTERVAL)
                .keepalives_retries(timeouts::KEEPALIVE_RETRIES);
        }
        let unix = config
            .get_hosts()
            .iter()
            .filter(|h| matches!(h, Host::Unix(_)))
            .count();
        if unix > 0 && unix < config.get_hosts().len() {
            return Err(config_error(
                url,
                "the hosts mix Unix sockets and TCP: give one kind (Cairn cannot choose TLS per host)",
            ));
        }
        let unix_socket = unix > 0;
        if unix_socket {
            // libpq never uses TLS over a Unix socket, whatever sslmode says.
            config.ssl_mode(PgSslMode::Disable);
        }
        secrets.retain(|s| s.len() >= crate::errors::MIN_SCRUBBED_LEN);
        Ok(ConnectOptions {
            config,
            ssl_mode,
            roots,
            secrets,
            timeouts,
            unix_socket,
        })
    }
}

/// Decodes `%XX` escapes (and nothing else: `+` stays `+`, as libpq reads URLs).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn options(url: &str) -> Result<ConnectOptions, DriverError> {
        ConnectOptions::from_url(&DatabaseUrl::parse(url).expect("a postgres URL"))
    }

    #[test]
    fn defaults_are_prefer_and_application_name_cairn() {
        let o = options("postgres://app:pw@db.example:5433/shop").expect("parses");
        assert_eq!(o.ssl_mode, SslMode::Prefer);
        assert_eq!(o.roots, None);
        assert_eq!(o.config.get_application_name(), Some("cairn"));
        assert_eq!(o.config.get_dbname(), Some("shop"));
        assert_eq!(o.config.get_user(), Some("app"));
        assert_eq!(o.config.get_ports(), &[5433]);
        assert_eq!(o.config.get_ssl_mode(), PgSslMode::Prefer);
        assert_eq!(
            o.config.get_connect_timeout(),
            Some(&timeouts::DEFAULT_CONNECT_TIMEOUT)
        );
        assert_eq!(o.timeouts, Timeouts::default());
        assert!(o.config.get_keepalives());
        assert_eq!(o.config.get_keepalives_idle(), timeouts::KEEPALIVE_IDLE);
        assert!(!o.unix_socket);
    }

    #[test]
    fn conn_timeouts_are_ours_and_unix_sockets_never_use_tls() {
        let o = options("postgres://u@h/d?connect_timeout=2&read_timeout=7&keepalives_idle=5")
            .expect("parses");
        assert_eq!(o.timeouts.connect_limit(), Some(Duration::from_secs(2)));
        assert_eq!(
            o.timeouts.read,
            timeouts::Setting::Explicit(Duration::from_secs(7))
        );
        assert_eq!(o.config.get_keepalives_idle(), Duration::from_secs(5));
        for url in [
            "postgres:///db?host=/var/run/postgresql&sslmode=require",
            "postgres://postgres@%2Fvar%2Frun%2Fpostgresql/db",
        ] {
            let o = options(url).expect(url);
            assert!(o.unix_socket, "{url}");
            assert_eq!(o.config.get_ssl_mode(), PgSslMode::Disable, "{url}");
        }
        let err = options("postgres://u:hunter2@h/d?read_timeout=soon").unwrap_err();
        assert!(
            err.message
                .contains("read_timeout must be a number of seconds"),
            "{err}"
        );
        let err = options("postgres://u@h,%2Ftmp/d").unwrap_err();
        assert!(err.message.contains("mix Unix sockets and TCP"), "{err}");
    }

    #[test]
    fn ssl_parameters_are_ours_and_the_rest_goes_to_tokio_postgres() {
        let o = options(
            "POSTGRESQL://app@db/shop?sslmode=verify-full&application_name=billing&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=3",
        )
        .expect("parses");
        assert_eq!(o.ssl_mode, SslMode::VerifyFull);
        assert_eq!(o.roots, Some(Roots::File("/etc/ca.pem".to_owned())));
        assert_eq!(o.config.get_application_name(), Some("billing"));
        assert_eq!(o.config.get_ssl_mode(), PgSslMode::Require);
        assert_eq!(
            o.config.get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
        for (mode, expected) in [
            ("disable", SslMode::Disable),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
        ] {
            assert_eq!(
                options(&format!("postgres://h/d?sslmode={mode}"))
                    .expect(mode)
                    .ssl_mode,
                expected
            );
        }
        assert_eq!(
            options("postgres://h/d?sslrootcert=system")
                .expect("system")
                .roots,
            Some(Roots::Builtin)
        );
    }

    #[test]
    fn bad_parameters_are_clear_errors_without_the_password() {
        for (url, expected) in [
            (
                "postgres://u:hunter2@h/d?sslmode=verify-everything",
                "unknown sslmode `verify-everything`",
            ),
            (
                "postgres://u:hunter2@h/d?sslcert=/c.pem",
                "`sslcert` is not supported",
            ),
            (
                "postgres://u:hunter2@h/d?nonsense=1",
                "unknown option `nonsense`",
            ),
            ("postgres://u:hunter2@h:notaport/d", "port"),
            (
                "postgres://u:hunter2@h/d?sslrootcert=",
                "sslrootcert is empty",
            ),
        ] {
            let err = options(url).map(|_| ()).expect_err(url);
            assert!(err.message.contains(expected), "{url}: {err}");
            assert!(err.message.contains("u:***@h"), "{url}: {err}");
            assert!(!err.message.contains("hunter2"), "{url}: {err}");
        }
    }

    #[test]
    fn passwords_are_collected_for_scrubbing() {
        let o = options("postgres://u:p%40ssword@h/d?password=another1").expect("parses");
        assert!(
            o.secrets.contains(&"p@ssword".to_owned()),
            "{:?}",
            o.secrets.len()
        );
        assert!(o.secrets.contains(&"another1".to_owned()));
        let shown = format!("{o:?}");
        assert!(
            !shown.contains("p@ssword")
                && !shown.contains("p%40ssword")
                && !shown.contains("another1"),
            "{shown}"
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb%zz%4"), "a/b%zz%4");
        assert_eq!(percent_decode("%41+"), "A+");
        assert_eq!(percent_decode("%"), "%");
    }
}
