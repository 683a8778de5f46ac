//! The rustls client configuration for each `sslmode`.
//!
//! Cairn follows libpq's meaning of the modes, which is weaker than a browser's
//! for the first two:
//!
//! | sslmode       | encrypted               | certificate checked                                     |
//! |---------------|-------------------------|---------------------------------------------------------|
//! | `disable`     | never                   | —                                                       |
//! | `prefer`      | if the server offers it | no (unless `sslrootcert` is given: then as `verify-ca`) |
//! | `require`     | always                  | no (unless `sslrootcert` is given: then as `verify-ca`) |
//! | `verify-ca`   | always                  | chain to a trusted root; any host name                  |
//! | `verify-full` | always                  | chain to a trusted root, and the host name              |
//!
//! `prefer` and `require` therefore protect against eavesdropping but not
//! against an active man in the middle; use `verify-full` where that matters.
//! Even without a certificate check, the handshake signature is verified, so
//! the peer does hold the key of the certificate it shows (which SCRAM channel
//! binding relies on).
//!
//! Trusted roots: the PEM file named by `sslrootcert`, or the Mozilla roots
//! built in through webpki-roots (no `sslrootcert`, or `sslrootcert=system`).
//! libpq's default of `~/.postgresql/root.crt` is not read: name the file.
//!
//! The ring provider is passed explicitly to every builder, so nothing depends
//! on (or changes) rustls's process-wide default provider.

use std::sync::Arc;

use cairn_core::{DriverError, DriverErrorKind};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::options::{Roots, SslMode};

/// tokio-postgres's rustls connector, made to accept Unix-socket hosts.
///
/// tokio-postgres asks for a TLS connector for every host, before it knows
/// whether TLS will be used, and passes an empty name for a Unix socket,
/// which rustls refuses ("invalid dns name"). Cairn never uses TLS over a Unix
/// socket (the `sslmode` is `disable` there, see `options`), so the connector
/// made for one is never used: any valid name does.
#[derive(Clone)]
pub(crate) struct MakeTls(pub(crate) tokio_postgres_rustls::MakeRustlsConnect);

impl<S> tokio_postgres::tls::MakeTlsConnect<S> for MakeTls
where
    tokio_postgres_rustls::MakeRustlsConnect: tokio_postgres::tls::MakeTlsConnect<S>,
{
    type Stream =
        <tokio_postgres_rustls::MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<S>>::Stream;
    type TlsConnect = <tokio_postgres_rustls::MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<
        S,
    >>::TlsConnect;
    type Error =
        <tokio_postgres_rustls::MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<S>>::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Self::TlsConnect, Self::Error> {
        let domain = if domain.is_empty() {
            "localhost"
        } else {
            domain
        };
        self.0.make_tls_connect(domain)
    }
}

fn tls_error(message: impl Into<String>) -> DriverError {
    DriverError::new(DriverErrorKind::Other, message)
}

/// The rustls configuration for `mode` and the roots the URL names.
pub(crate) fn client_config(
    mode: SslMode,
    roots: Option<&Roots>,
) -> Result<ClientConfig, DriverError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    // With an explicit sslrootcert, prefer and require check the chain, as libpq does.
    let effective = match (mode, roots) {
        (SslMode::Prefer | SslMode::Require, Some(_)) => SslMode::VerifyCa,
        (mode, _) => mode,
    };
    let verifier: Arc<dyn ServerCertVerifier> = match effective {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => Arc::new(NoHostName {
            roots: None,
            algorithms,
        }),
        SslMode::VerifyCa => Arc::new(NoHostName {
            roots: Some(Arc::new(root_store(roots)?)),
            algorithms,
        }),
        SslMode::VerifyFull => WebPkiServerVerifier::builder_with_provider(
            Arc::new(root_store(roots)?),
            Arc::clone(&provider),
        )
        .build()
        .map_err(|e| tls_error(format!("cannot set up TLS certificate verification: {e}")))?,
    };
    Ok(builder(provider)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

fn builder(
    provider: Arc<CryptoProvider>,
) -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>, DriverError> {
    ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(format!("cannot set up TLS: {e}")))
}

/// The trusted roots: the `sslrootcert` PEM file, or the built-in Mozilla roots.
fn root_store(roots: Option<&Roots>) -> Result<RootCertStore, DriverError> {
    match roots {
        None | Some(Roots::Builtin) => Ok(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }),
        Some(Roots::File(path)) => {
            let pem = std::fs::read(path)
                .map_err(|e| tls_error(format!("cannot read sslrootcert `{path}`: {e}")))?;
            let mut store = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| {
                    tls_error(format!("sslrootcert `{path}` is not a valid PEM file: {e}"))
                })?;
                store.add(cert).map_err(|e| {
                    tls_error(format!(
                        "sslrootcert `{path}` holds a certificate rustls cannot use: {e}"
                    ))
                })?;
            }
            if store.is_empty() {
                return Err(tls_error(format!(
                    "sslrootcert `{path}` holds no PEM certificate (expected -----BEGIN CERTIFICATE----- blocks)"
                )));
            }
            Ok(store)
        }
    }
}

/// Every mode but `verify-full`: the host name is not checked. With `roots`
/// (`verify-ca`) the chain must lead to a trusted root; without (`prefer`,
/// `require`) any certificate is accepted. The handshake signature is always
/// verified.
#[derive(Debug)]
struct NoHostName {
    roots: Option<Arc<RootCertStore>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for NoHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_builds_a_config() {
        for mode in [
            SslMode::Disable,
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ] {
            client_config(mode, None).unwrap_or_else(|e| panic!("{mode:?}: {e}"));
            client_config(mode, Some(&Roots::Builtin)).unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        }
    }

    #[test]
    fn a_missing_or_empty_root_file_is_named() {
        let err = client_config(
            SslMode::VerifyFull,
            Some(&Roots::File("/nonexistent/ca.pem".to_owned())),
        )
        .expect_err("a missing file was accepted");
        assert!(
            err.message
                .contains("cannot read sslrootcert `/nonexistent/ca.pem`"),
            "{err}"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("empty.pem");
        std::fs::write(&file, "not a certificate\n").expect("write");
        let path = file.display().to_string();
        let err = client_config(SslMode::Require, Some(&Roots::File(path.clone())))
            .expect_err("an empty file was accepted");
        assert!(
            err.message.contains(&path) && err.message.contains("no PEM certificate"),
            "{err}"
        );
    }
}
