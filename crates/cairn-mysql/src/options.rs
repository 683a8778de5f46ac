//! Reading a `mysql://` / `mariadb://` URL into mysql_async options.
//!
//! Cairn reads the TLS parameters itself (`ssl-mode`, `sslmode`, `ssl-ca`) and
//! hands the rest of the URL to mysql_async, so users write the names they know
//! from MySQL's client (and PostgreSQL's, for `sslmode`) rather than
//! mysql_async's own (`require_ssl`, `verify_ca`, …), which are refused to keep
//! one way of saying it. Nothing here ever prints the URL: callers add
//! [`DatabaseUrl::redacted`](cairn_core::url::DatabaseUrl::redacted) to messages.

use std::fmt;
use std::path::PathBuf;

use cairn_core::timeouts::Timeouts;
use mysql_async::SslOpts;

/// How the connection uses TLS (MySQL's `--ssl-mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP.
    Disabled,
    /// TLS without verification when the server offers it, else plain TCP.
    Preferred,
    /// TLS without verifying the certificate: encrypted, but open to an
    /// active man in the middle.
    Required,
    /// TLS; the certificate chain must lead to a trusted CA.
    VerifyCa,
    /// TLS; the chain must be trusted and the certificate must name the host.
    VerifyIdentity,
}

impl SslMode {
    /// Reads MySQL's names (`disabled`, `preferred`, `required`, `verify_ca`,
    /// `verify_identity`) and PostgreSQL's (`disable`, `prefer`, `require`,
    /// `verify-ca`, `verify-full`), in any case, with `-` or `_`.
    pub fn parse(value: &str) -> Option<SslMode> {
        Some(
            match value.to_ascii_lowercase().replace('-', "_").as_str() {
                "disabled" | "disable" => SslMode::Disabled,
                "preferred" | "prefer" => SslMode::Preferred,
                "required" | "require" => SslMode::Required,
                "verify_ca" => SslMode::VerifyCa,
                "verify_identity" | "verify_full" => SslMode::VerifyIdentity,
                _ => return None,
            },
        )
    }

    /// MySQL's name for the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disabled => "disabled",
            SslMode::Preferred => "preferred",
            SslMode::Required => "required",
            SslMode::VerifyCa => "verify_ca",
            SslMode::VerifyIdentity => "verify_identity",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A URL taken apart: what mysql_async reads, and what Cairn reads itself.
#[derive(Clone, PartialEq, Eq)]
pub struct UrlParts {
    /// The URL for mysql_async: scheme `mysql`, Cairn's parameters removed.
    /// It holds the password: never print it.
    pub url: String,
    /// The TLS mode.
    pub ssl_mode: SslMode,
    /// Whether the URL said the mode, or it is the default.
    pub ssl_mode_given: bool,
    /// A CA file (`ssl-ca`), trusted instead of the built-in roots.
    pub ssl_ca: Option<PathBuf>,
    /// Whether the URL sets mysql_async's `prefer_socket` itself.
    pub prefer_socket_given: bool,
    /// The password as given in the URL, percent-decoded, to scrub from messages.
    pub password: Option<String>,
    /// `connect_timeout` and `read_timeout` (seconds), Cairn's parameters.
    pub timeouts: Timeouts,
    /// Whether the URL sets mysql_async's `tcp_keepalive` (milliseconds) itself.
    pub keepalive_given: bool,
}

impl fmt::Debug for UrlParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UrlParts")
            .field("url", &cairn_core::url::redact(&self.url))
            .field("ssl_mode", &self.ssl_mode)
            .field("ssl_ca", &self.ssl_ca)
            .finish_non_exhaustive()
    }
}

/// Parameter names mysql_async reads for TLS, refused in favour of `ssl-mode`.
const MYSQL_ASYNC_TLS_PARAMS: &[&str] = &[
    "require_ssl",
    "verify_ca",
    "verify_identity",
    "built_in_roots",
];

impl UrlParts {
    /// Takes `url` apart. The error explains what is wrong without repeating the URL.
    pub fn parse(url: &str) -> Result<UrlParts, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| "expected mysql://user:password@host:port/database".to_owned())?;
        if !matches!(scheme.to_ascii_lowercase().as_str(), "mysql" | "mariadb") {
            return Err(format!("scheme `{scheme}` is not mysql:// or mariadb://"));
        }
        let (base, query) = match rest.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (rest, None),
        };
        let mut ssl_mode = None;
        let mut ssl_ca = None;
        let mut prefer_socket_given = false;
        let mut keepalive_given = false;
        let mut timeouts = Timeouts::default();
        let mut kept = Vec::new();
        for pair in query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|p| !p.is_empty())
        {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            match key.to_ascii_lowercase().as_str() {
                "ssl-mode" | "ssl_mode" | "sslmode" => {
                    let mode = SslMode::parse(&value).ok_or_else(|| {
                        format!(
                            "unknown {key} `{value}`: use disabled, preferred, required, verify_ca or verify_identity \
                             (or PostgreSQL's disable, prefer, require, verify-ca, verify-full)"
                        )
                    })?;
                    ssl_mode = Some(mode);
                }
                "ssl-ca" | "ssl_ca" | "sslrootcert" => {
                    if value.is_empty() {
                        return Err(format!(
                            "{key} needs the path of a PEM file of CA certificates"
                        ));
                    }
                    ssl_ca = Some(PathBuf::from(value));
                }
                name if MYSQL_ASYNC_TLS_PARAMS.contains(&name) => {
                    return Err(format!(
                        "use ssl-mode=required|verify_ca|verify_identity (and ssl-ca=/path/ca.pem) instead of `{key}`"
                    ));
                }
                name if timeouts.take_param(name, &value)? => {}
                name => {
                    prefer_socket_given |= name == "prefer_socket";
                    keepalive_given |= name == "tcp_keepalive";
                    kept.push(pair);
                }
            }
        }
        let ssl_mode_given = ssl_mode.is_some();
        let ssl_mode = match (ssl_mode, &ssl_ca) {
            (Some(SslMode::Disabled), Some(_)) => {
                return Err("ssl-ca was given with ssl-mode=disabled: drop one of them".to_owned());
            }
            // As MySQL's client does: a CA file asks for verification.
            (None | Some(SslMode::Preferred | SslMode::Required), Some(_)) => SslMode::VerifyCa,
            (Some(mode), _) => mode,
            (None, None) => SslMode::Preferred,
        };
        let mut mysql_url = format!("mysql://{base}");
        if !kept.is_empty() {
            mysql_url.push('?');
            mysql_url.push_str(&kept.join("&"));
        }
        Ok(UrlParts {
            url: mysql_url,
            ssl_mode,
            ssl_mode_given,
            ssl_ca,
            prefer_socket_given,
            password: password(base),
            timeouts,
            keepalive_given,
        })
    }

    /// mysql_async's TLS options for the mode; `None` for plain TCP. The CA
    /// file is read here, so that a missing file is a clear error of its own.
    pub fn ssl_opts(&self) -> Result<Option<SslOpts>, String> {
        let verify = match self.ssl_mode {
            SslMode::Disabled => return Ok(None),
            // Encrypt, verify nothing: that is what these modes promise.
            SslMode::Preferred | SslMode::Required => {
                return Ok(Some(
                    SslOpts::default()
                        .with_danger_accept_invalid_certs(true)
                        .with_danger_skip_domain_validation(true),
                ));
            }
            SslMode::VerifyCa => SslOpts::default().with_danger_skip_domain_validation(true),
            SslMode::VerifyIdentity => SslOpts::default(),
        };
        Ok(Some(match &self.ssl_ca {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    format!("cannot read the ssl-ca file `{}`: {e}", path.display())
                })?;
                verify
                    .with_root_certs(vec![pem.into()])
                    .with_disable_built_in_roots(true)
            }
            None => verify,
        }))
    }
}

/// For `verify_ca`: a name the server's certificate is valid for, read from a
/// rejected handshake's "certificate not valid for name …; certificate is only
/// valid for DnsName(\"db.internal\")" error, so the driver can connect again
/// verifying the chain against that name instead of the URL's host.
///
/// Why: mysql_async 0.37 skips the host name check only when rustls' error
/// text contains `NotValidForName`, which rustls 0.23 no longer prints, so its
/// own `verify_ca` checks the name too. rustls checks the name only after the
/// chain verified, so a name error proves the chain is trusted; connecting
/// again with a name the certificate carries keeps the chain check and drops
/// only the host check, which is what `verify_ca` means. A wildcard name
/// (`*.example.com`) is filled with a label. `None` when the error is not a
/// name mismatch or names nothing usable (then the error stands).
pub fn presented_name(error: &str) -> Option<String> {
    let (_, presented) = error.split_once("certificate is only valid for ")?;
    let dns = presented
        .find("DnsName(\"")
        .map(|i| (i, "DnsName(\"", "\")"));
    let ip = presented.find("IpAddress(").map(|i| (i, "IpAddress(", ")"));
    let (start, open, close) = match (dns, ip) {
        (Some(d), Some(i)) => {
            if d.0 < i.0 {
                d
            } else {
                i
            }
        }
        (Some(found), None) | (None, Some(found)) => found,
        (None, None) => return None,
    };
    let rest = &presented[start + open.len()..];
    let name = &rest[..rest.find(close)?];
    let name = match name.strip_prefix("*.") {
        Some(domain) => format!("cairn.{domain}"),
        None => name.to_owned(),
    };
    (!name.is_empty() && !name.contains('*')).then_some(name)
}

/// The percent-decoded password of `user:password@host…`, if any.
fn password(base: &str) -> Option<String> {
    let authority = &base[..base.find('/').unwrap_or(base.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then(|| percent_decode(password))
}

/// Decodes `%XX` escapes (and leaves anything malformed as it is).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(high << 4 | low);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_read_mysql_and_postgres_names() {
        for (name, mode) in [
            ("disabled", SslMode::Disabled),
            ("DISABLE", SslMode::Disabled),
            ("preferred", SslMode::Preferred),
            ("prefer", SslMode::Preferred),
            ("required", SslMode::Required),
            ("require", SslMode::Required),
            ("verify_ca", SslMode::VerifyCa),
            ("verify-ca", SslMode::VerifyCa),
            ("VERIFY_IDENTITY", SslMode::VerifyIdentity),
            ("verify-full", SslMode::VerifyIdentity),
        ] {
            assert_eq!(SslMode::parse(name), Some(mode), "{name}");
        }
        assert_eq!(SslMode::parse("bogus"), None);
        assert_eq!(SslMode::parse("allow"), None);
    }

    #[test]
    fn cairn_parameters_are_taken_out_and_the_rest_kept() {
        let parts =
            UrlParts::parse("mariadb://app:p%40ss@db:3306/app?ssl-mode=required&compression=fast&sslmode=verify-full")
                .unwrap();
        assert_eq!(parts.url, "mysql://app:p%40ss@db:3306/app?compression=fast");
        assert_eq!(parts.ssl_mode, SslMode::VerifyIdentity);
        assert!(parts.ssl_mode_given);
        assert_eq!(parts.password.as_deref(), Some("p@ss"));
        assert!(!parts.prefer_socket_given);

        let parts = UrlParts::parse("mysql://root@127.0.0.1/test").unwrap();
        assert_eq!(parts.url, "mysql://root@127.0.0.1/test");
        assert_eq!(
            (parts.ssl_mode, parts.ssl_mode_given),
            (SslMode::Preferred, false)
        );
        assert_eq!(parts.password, None);

        let parts = UrlParts::parse("mysql://root@h/test?prefer_socket=true").unwrap();
        assert!(parts.prefer_socket_given);
    }

    #[test]
    fn conn_timeouts_are_cairns_parameters() {
        let parts = UrlParts::parse(
            "mysql://root@h/test?connect_timeout=2&read_timeout=0&tcp_keepalive=5000",
        )
        .unwrap();
        assert_eq!(parts.url, "mysql://root@h/test?tcp_keepalive=5000");
        assert_eq!(
            parts.timeouts.connect_limit(),
            Some(std::time::Duration::from_secs(2))
        );
        assert_eq!(
            parts.timeouts.read,
            cairn_core::timeouts::Setting::Explicit(std::time::Duration::ZERO)
        );
        assert!(parts.keepalive_given);
        let err = UrlParts::parse("mysql://root@h/test?connect_timeout=-3").unwrap_err();
        assert!(
            err.contains("connect_timeout must be a number of seconds"),
            "{err}"
        );
    }

    #[test]
    fn a_ca_file_asks_for_verification() {
        let parts = UrlParts::parse("mysql://root@h/test?ssl-ca=/etc/ca%20dir/ca.pem").unwrap();
        assert_eq!(parts.ssl_mode, SslMode::VerifyCa);
        assert_eq!(parts.ssl_ca, Some(PathBuf::from("/etc/ca dir/ca.pem")));
        let parts =
            UrlParts::parse("mysql://root@h/test?ssl-mode=required&ssl-ca=/ca.pem").unwrap();
        assert_eq!(parts.ssl_mode, SslMode::VerifyCa);
        let parts =
            UrlParts::parse("mysql://root@h/test?ssl-mode=verify_identity&ssl-ca=/ca.pem").unwrap();
        assert_eq!(parts.ssl_mode, SslMode::VerifyIdentity);
        assert!(UrlParts::parse("mysql://root@h/test?ssl-mode=disabled&ssl-ca=/ca.pem").is_err());
        let missing = UrlParts::parse("mysql://root@h/test?ssl-ca=/no/such/ca.pem")
            .unwrap()
            .ssl_opts()
            .unwrap_err();
        assert!(missing.contains("/no/such/ca.pem"), "{missing}");
    }

    #[test]
    fn bad_parameters_are_errors_that_do_not_repeat_the_url() {
        let err = UrlParts::parse("mysql://u:hunter2@h/db?ssl-mode=bogus").unwrap_err();
        assert!(err.contains("unknown ssl-mode `bogus`"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = UrlParts::parse("mysql://u:hunter2@h/db?require_ssl=true").unwrap_err();
        assert!(err.contains("ssl-mode"), "{err}");
        assert!(UrlParts::parse("postgres://u@h/db").is_err());
        assert!(UrlParts::parse("mysql:nothing").is_err());
    }

    #[test]
    fn debug_hides_the_password() {
        let parts = UrlParts::parse("mysql://u:hunter2@h/db").unwrap();
        let shown = format!("{parts:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn presented_names_come_from_name_mismatch_errors() {
        let error = |names: &str| {
            format!(
                "TLS handshake failed: invalid peer certificate: certificate not valid for name \"127.0.0.1\"; certificate is only valid for {names}"
            )
        };
        assert_eq!(
            presented_name(&error(r#"DnsName("localhost")"#)).as_deref(),
            Some("localhost")
        );
        assert_eq!(
            presented_name(&error(r#"DnsName("*.db.internal") or IpAddress(10.0.0.7)"#)).as_deref(),
            Some("cairn.db.internal")
        );
        assert_eq!(
            presented_name(&error(r#"IpAddress(10.0.0.7) or DnsName("db")"#)).as_deref(),
            Some("10.0.0.7")
        );
        assert_eq!(
            presented_name("invalid peer certificate: UnknownIssuer"),
            None
        );
        assert_eq!(
            presented_name(
                "certificate not valid for name \"h\"; certificate is not valid for any names"
            ),
            None
        );
    }

    #[test]
    fn percent_decoding_leaves_malformed_escapes() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
