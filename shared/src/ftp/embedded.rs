//! An embedded FTP/FTPS server (libunftp serving a local directory) on an
//! ephemeral 127.0.0.1 port, and a throwaway PKI (a CA and a server certificate)
//! for FTPS. Used by the hermetic tests and by the local demo; enabled with the
//! `embedded-ftp` feature.

use std::io;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use libunftp::ServerBuilder;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, warn};
use unftp_core::auth::{AuthenticationError, Authenticator, Credentials, Principal};
use unftp_sbe_fs::Filesystem;

use super::config::Password;

/// A CA and a server certificate signed by it, PEM-encoded.
#[derive(Clone)]
pub struct TestPki {
    /// The CA certificate (what a client trusts).
    pub ca_pem: String,
    /// The server certificate.
    pub cert_pem: String,
    /// The server's private key (PKCS#8).
    pub key_pem: String,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki").finish_non_exhaustive()
    }
}

/// Where [`TestPki::write_to`] put the PEM files.
#[derive(Debug, Clone)]
pub struct PkiFiles {
    /// The CA certificate: use as `ca_bundle`.
    pub ca: PathBuf,
    /// The server certificate.
    pub cert: PathBuf,
    /// The server key.
    pub key: PathBuf,
    /// Certificate and key in one file (for servers that want one file).
    pub cert_and_key: PathBuf,
}

impl TestPki {
    /// A new CA, and a server certificate for `names` (DNS names or IP addresses)
    /// that is not a CA, for server authentication (rustls refuses a CA certificate
    /// used as a server certificate).
    pub fn generate(names: &[&str]) -> Result<TestPki, rcgen::Error> {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose,
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "tributary test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut leaf_params = CertificateParams::new(names)?;
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "tributary test server");
        leaf_params.is_ca = IsCa::ExplicitNoCa;
        leaf_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = KeyPair::generate()?;
        let leaf = leaf_params.signed_by(&leaf_key, &ca)?;
        Ok(TestPki {
            ca_pem: ca.pem(),
            cert_pem: leaf.pem(),
            key_pem: leaf_key.serialize_pem(),
        })
    }

    /// Writes the PEM files into `dir`.
    pub fn write_to(&self, dir: &Path) -> io::Result<PkiFiles> {
        let files = PkiFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
            cert_and_key: dir.join("server-with-key.pem"),
        };
        std::fs::write(&files.ca, &self.ca_pem)?;
        std::fs::write(&files.cert, &self.cert_pem)?;
        std::fs::write(&files.key, &self.key_pem)?;
        std::fs::write(
            &files.cert_and_key,
            format!("{}{}", self.cert_pem, self.key_pem),
        )?;
        Ok(files)
    }
}

/// How to run an [`EmbeddedFtpServer`].
#[derive(Debug, Clone)]
pub struct EmbeddedFtpOptions {
    /// The directory served as `/`.
    pub root: PathBuf,
    /// The only user and password accepted; `None` accepts any.
    pub credentials: Option<(String, Password)>,
    /// Certificate and key PEM files: explicit FTPS (`AUTH TLS`) is offered.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Ports for passive data connections.
    pub passive_ports: RangeInclusive<u16>,
}

impl EmbeddedFtpOptions {
    /// Serves `root` to anyone, plain FTP.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        EmbeddedFtpOptions {
            root: root.into(),
            credentials: None,
            tls: None,
            passive_ports: 49152..=65534,
        }
    }

    /// Accepts only `username` with `password`; others get 530.
    pub fn credentials(mut self, username: impl Into<String>, password: Password) -> Self {
        self.credentials = Some((username.into(), password));
        self
    }

    /// Offers explicit FTPS with this certificate and key.
    pub fn tls(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls = Some((cert.into(), key.into()));
        self
    }
}

/// A libunftp server on 127.0.0.1 and an ephemeral port, running until dropped.
#[derive(Debug)]
pub struct EmbeddedFtpServer {
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl EmbeddedFtpServer {
    /// Binds 127.0.0.1:0 and serves each accepted connection (libunftp's own
    /// `listen` does not report the port it got).
    pub async fn start(options: EmbeddedFtpOptions) -> io::Result<EmbeddedFtpServer> {
        // Fail now, not per session, if the root cannot be served.
        Filesystem::new(&options.root)?;
        let fallback = std::env::temp_dir().join("tributary-embedded-ftp-empty");
        std::fs::create_dir_all(&fallback)?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let options = Arc::new(options);
        let accept = tokio::spawn(async move {
            let mut sessions = JoinSet::new();
            loop {
                let socket = match listener.accept().await {
                    Ok((socket, _)) => socket,
                    Err(error) => {
                        warn!(%error, "Embedded FTP server: accept failed.");
                        continue;
                    }
                };
                // Reap finished sessions so the set stays small.
                while sessions.try_join_next().is_some() {}
                let storage = match Filesystem::new(&options.root) {
                    Ok(storage) => Mutex::new(Some(storage)),
                    Err(error) => {
                        warn!(%error, "Embedded FTP server: cannot open the root.");
                        continue;
                    }
                };
                let root = options.root.clone();
                let fallback = fallback.clone();
                // libunftp asks for one storage per session; it was opened above.
                let generator = Box::new(move || {
                    let opened = storage.lock().ok().and_then(|mut slot| slot.take());
                    opened
                        .map(Ok)
                        .unwrap_or_else(|| Filesystem::new(&root))
                        .unwrap_or_else(|_| empty_storage(&fallback))
                });
                let mut builder = match &options.credentials {
                    Some((username, password)) => ServerBuilder::with_authenticator(
                        generator,
                        Arc::new(FixedCredentials {
                            username: username.clone(),
                            password: password.clone(),
                        }),
                    ),
                    None => ServerBuilder::new(generator),
                };
                builder = builder.passive_ports(options.passive_ports.clone());
                if let Some((cert, key)) = &options.tls {
                    builder = builder.ftps(cert.clone(), key.clone());
                }
                let server = match builder.build() {
                    Ok(server) => server,
                    Err(error) => {
                        warn!(%error, "Embedded FTP server: invalid configuration.");
                        continue;
                    }
                };
                sessions.spawn(async move {
                    if let Err(error) = server.service(socket).await {
                        debug!(%error, "Embedded FTP session ended with an error.");
                    }
                });
            }
        });
        Ok(EmbeddedFtpServer { addr, accept })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for EmbeddedFtpServer {
    fn drop(&mut self) {
        // Dropping the accept task drops its JoinSet, which aborts every session.
        self.accept.abort();
    }
}

/// An empty directory to serve when the root vanished after the session was
/// accepted (libunftp 0.24 asks for storage once per session, opened beforehand,
/// so this is a last resort): the session sees nothing rather than crashing.
fn empty_storage(dir: &Path) -> Filesystem {
    loop {
        let _ = std::fs::create_dir_all(dir);
        match Filesystem::new(dir) {
            Ok(storage) => return storage,
            Err(error) => {
                warn!(%error, "Embedded FTP server: cannot open an empty directory.");
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
}

/// Accepts one user name with one password.
#[derive(Debug)]
struct FixedCredentials {
    username: String,
    password: Password,
}

#[async_trait]
impl Authenticator for FixedCredentials {
    async fn authenticate(
        &self,
        username: &str,
        creds: &Credentials,
    ) -> Result<Principal, AuthenticationError> {
        if username != self.username {
            return Err(AuthenticationError::BadUser);
        }
        if creds.password.as_deref() != Some(self.password.expose()) {
            return Err(AuthenticationError::BadPassword);
        }
        Ok(Principal {
            username: username.to_owned(),
        })
    }
}
