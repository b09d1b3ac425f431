//! TLS for FTPS: which certificates are trusted, and one rustls configuration per
//! control connection so that its data connections resume *its* TLS session
//! (servers such as vsftpd with `require_ssl_reuse=YES` refuse the others).

use std::path::Path;
use std::sync::{Arc, Mutex};

use suppaftp::tokio::AsyncRustlsConnector;
use suppaftp::tokio_rustls::TlsConnector;
use suppaftp::tokio_rustls::rustls;
use suppaftp::tokio_rustls::rustls::client::WebPkiServerVerifier;
use suppaftp::tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use suppaftp::tokio_rustls::rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use suppaftp::tokio_rustls::rustls::pki_types::pem::PemObject;
use suppaftp::tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use suppaftp::tokio_rustls::rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tracing::warn;

use super::config::FtpConfig;
use super::error::FtpError;

/// What is trusted for one source, built once (the CA bundle is read here).
#[derive(Debug)]
pub(crate) struct TlsSetup {
    provider: Arc<CryptoProvider>,
    verifier: Arc<dyn ServerCertVerifier>,
}

impl TlsSetup {
    /// Builds the trust settings of `config`, or `None` for plain FTP.
    pub(crate) fn for_config(config: &FtpConfig) -> Result<Option<Self>, FtpError> {
        if !config.protocol.uses_tls() {
            return Ok(None);
        }
        let config_error = |message: String| FtpError::Config {
            host: config.host.clone(),
            message,
        };
        ServerName::try_from(config.host.as_str()).map_err(|e| {
            config_error(format!("`{}` is not a TLS server name: {e}", config.host))
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = if config.tls.verify_certificate {
            let roots = match &config.tls.ca_bundle {
                Some(path) => roots_from_pem(path).map_err(config_error)?,
                None => RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                },
            };
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .map_err(|e| config_error(format!("cannot build the certificate verifier: {e}")))?
        } else {
            warn!(
                host = %config.host,
                "TLS certificate verification is disabled for this source: the server is not authenticated."
            );
            Arc::new(AcceptAnyCertificate {
                algorithms: provider.signature_verification_algorithms,
            })
        };
        Ok(Some(TlsSetup { provider, verifier }))
    }

    /// A connector for one control connection (and its data connections), with a
    /// session cache of its own and a record of why a certificate was rejected.
    pub(crate) fn connector(
        &self,
    ) -> Result<(AsyncRustlsConnector, CertificateVerdict), rustls::Error> {
        let verdict = CertificateVerdict::default();
        let verifier = Arc::new(RecordingVerifier {
            inner: Arc::clone(&self.verifier),
            verdict: verdict.clone(),
        });
        let config = ClientConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        let connector = AsyncRustlsConnector::from(TlsConnector::from(Arc::new(config)));
        Ok((connector, verdict))
    }
}

/// Reads every certificate of a PEM file into a root store.
fn roots_from_pem(path: &Path) -> Result<RootCertStore, String> {
    let shown = path.display();
    let mut roots = RootCertStore::empty();
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read CA bundle {shown}: {e}"))?;
    for certificate in certificates {
        let certificate =
            certificate.map_err(|e| format!("cannot parse CA bundle {shown}: {e}"))?;
        roots
            .add(certificate)
            .map_err(|e| format!("invalid certificate in CA bundle {shown}: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!("CA bundle {shown} holds no certificate"));
    }
    Ok(roots)
}

/// Why the certificate of one connection was rejected, if it was.
#[derive(Debug, Clone, Default)]
pub(crate) struct CertificateVerdict(Arc<Mutex<Option<String>>>);

impl CertificateVerdict {
    /// The rejection reason recorded during the handshake.
    pub(crate) fn rejection(&self) -> Option<String> {
        self.0.lock().ok().and_then(|reason| reason.clone())
    }

    fn record(&self, error: &rustls::Error) {
        if let Ok(mut reason) = self.0.lock() {
            *reason = Some(error.to_string());
        }
    }
}

/// Delegates to the real verifier and records a rejection, so that a failed
/// handshake can be told apart (misconfigured) from a dropped one (transient).
#[derive(Debug)]
struct RecordingVerifier {
    inner: Arc<dyn ServerCertVerifier>,
    verdict: CertificateVerdict,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .inspect_err(|e| self.verdict.record(e))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner
            .verify_tls12_signature(message, cert, dss)
            .inspect_err(|e| self.verdict.record(e))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner
            .verify_tls13_signature(message, cert, dss)
            .inspect_err(|e| self.verdict.record(e))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Accepts any certificate (verification explicitly turned off), but still checks
/// the handshake signatures so the session keys belong to the presented key.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
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
