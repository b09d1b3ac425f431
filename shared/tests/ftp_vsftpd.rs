//! The FTP client against a real vsftpd process: plain FTP (LIST, since vsftpd
//! has no MLSD) and explicit FTPS with `require_ssl_reuse=YES` and TLS forced on
//! logins and data, which refuses clients whose data connections do not resume
//! the control connection's TLS session.
//!
//! Needs the `vsftpd` binary (`$TRIBUTARY_VSFTPD`, else `/usr/sbin/vsftpd`) and a
//! system user (`$TRIBUTARY_VSFTPD_USER`/`_PASSWORD`, default `tributary-ftp` /
//! `tributary-ftp-pw`) with a shell from /etc/shells; the tests run as root (to
//! start vsftpd and hand it the served tree). A missing piece fails the test with
//! the command that sets it up.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use tributary::failure::FailureKind;
use tributary::ftp::embedded::{PkiFiles, TestPki};
use tributary::ftp::{
    FtpClient, FtpConfig, FtpError, ListingStyle, Password, Protocol, apply_post_action,
};
use tributary::ports::PostActionOutcome;
use tributary::registry::PostAction;
use tributary_testkit::fixtures::{self, BIG_FILE, BIG_SIZE, SMALL_FILES};
use tributary_testkit::process::{
    ServerProcess, chown_tree, free_port, free_port_range, vsftpd_binary, vsftpd_user,
};
use tributary_testkit::{config, download_sha256};

struct Fixture {
    /// The served tree, owned by the FTP user.
    data: tempfile::TempDir,
    /// Config, certificates, log: owned by root.
    _etc: tempfile::TempDir,
    port: u16,
    user: String,
    password: String,
    big_sha256: String,
    pki: PkiFiles,
    server: ServerProcess,
}

impl Fixture {
    fn root(&self) -> PathBuf {
        self.data.path().join("root")
    }

    fn config(&self, protocol: Protocol) -> FtpConfig {
        let mut config = config(self.port, protocol);
        config.username = self.user.clone();
        config.password = Password::new(self.password.clone());
        config.tls.ca_bundle = Some(self.pki.ca.clone());
        config
    }
}

fn start(tls: bool, prepare: impl FnOnce(&Path)) -> Fixture {
    let binary = vsftpd_binary();
    let (user, password, uid, gid) = vsftpd_user();
    let data = tempfile::tempdir().unwrap();
    let root = data.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let big_sha256 = fixtures::populate(&root);
    prepare(&root);
    chown_tree(data.path(), uid, gid);

    let etc = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(&["localhost", "127.0.0.1"])
        .unwrap()
        .write_to(etc.path())
        .unwrap();
    let empty = etc.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let port = free_port();
    let (low, high) = free_port_range(10);
    let ssl = if tls {
        format!(
            "ssl_enable=YES\n\
             rsa_cert_file={cert}\n\
             rsa_private_key_file={key}\n\
             require_ssl_reuse=YES\n\
             force_local_logins_ssl=YES\n\
             force_local_data_ssl=YES\n\
             ssl_ciphers=HIGH\n",
            cert = pki.cert.display(),
            key = pki.key.display(),
        )
    } else {
        "ssl_enable=NO\n".to_owned()
    };
    let conf = format!(
        "listen=YES\n\
         listen_ipv6=NO\n\
         listen_address=127.0.0.1\n\
         listen_port={port}\n\
         background=NO\n\
         anonymous_enable=NO\n\
         local_enable=YES\n\
         write_enable=YES\n\
         local_umask=022\n\
         local_root={root}\n\
         chroot_local_user=YES\n\
         allow_writeable_chroot=YES\n\
         pasv_enable=YES\n\
         pasv_min_port={low}\n\
         pasv_max_port={high}\n\
         pasv_address=127.0.0.1\n\
         secure_chroot_dir={empty}\n\
         pam_service_name=vsftpd\n\
         seccomp_sandbox=NO\n\
         isolate=NO\n\
         isolate_network=NO\n\
         utf8_filesystem=YES\n\
         xferlog_enable=YES\n\
         log_ftp_protocol=YES\n\
         vsftpd_log_file={log}\n\
         {ssl}",
        root = root.display(),
        empty = empty.display(),
        log = etc.path().join("vsftpd.log").display(),
    );
    let conf_path = etc.path().join("vsftpd.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut command = Command::new(binary);
    command.arg(&conf_path);
    let server = ServerProcess::start("vsftpd", command, port, &etc.path().join("stdout.log"));
    Fixture {
        data,
        _etc: etc,
        port,
        user,
        password,
        big_sha256,
        pki,
        server,
    }
}

async fn lists_and_downloads(fixture: &Fixture, protocol: Protocol) {
    let mut client = FtpClient::connect(&fixture.config(protocol)).await.unwrap();
    assert!(!client.features().mlsd, "vsftpd announced MLSD");
    let listing = client.list("/in").await.unwrap();
    assert_eq!(listing.style, ListingStyle::List);
    assert_eq!(
        listing.lines.len(),
        SMALL_FILES.len() + 1,
        "{:?}",
        listing.lines
    );
    for name in SMALL_FILES.iter().chain([&BIG_FILE]) {
        assert!(
            listing
                .lines
                .iter()
                .any(|l| l.ends_with(&format!(" {name}"))),
            "{name} missing from {:?}",
            listing.lines
        );
    }
    let path = format!("/in/{BIG_FILE}");
    let size = client.size(&path).await.unwrap();
    assert_eq!(size, BIG_SIZE as u64);
    let mtime = client.mdtm(&path).await.unwrap();
    assert!((Utc::now() - mtime).num_minutes().abs() < 60, "{mtime}");
    let (bytes, sha) = download_sha256(&mut client, &path, Some(size))
        .await
        .unwrap();
    assert_eq!(
        (bytes, sha.as_str()),
        (BIG_SIZE as u64, fixture.big_sha256.as_str())
    );
    // A second transfer on the same session (a new data connection, resumed again).
    let again = client.list("/in").await.unwrap();
    assert_eq!(again.lines.len(), listing.lines.len());
    client.quit().await;
}

async fn post_actions(fixture: &Fixture, protocol: Protocol) {
    let root = fixture.root();
    let mut client = FtpClient::connect(&fixture.config(protocol)).await.unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 10, 15, 0).unwrap();
    let deleted = apply_post_action(&mut client, "/in/with space.csv", &PostAction::Delete, now)
        .await
        .unwrap();
    assert_eq!(deleted, PostActionOutcome::Deleted);
    assert!(!root.join("in/with space.csv").exists());

    // vsftpd's rename would overwrite archive/plain.csv: the suffix prevents it.
    let archive = PostAction::MoveTo("/archive".into());
    let moved = apply_post_action(&mut client, "/in/plain.csv", &archive, now)
        .await
        .unwrap();
    assert_eq!(
        moved,
        PostActionOutcome::Moved {
            to: "/archive/plain.csv.20261121T101500Z".into()
        }
    );
    assert_eq!(
        std::fs::read_to_string(root.join("archive/plain.csv")).unwrap(),
        "older copy\n"
    );
    assert!(root.join("archive/plain.csv.20261121T101500Z").is_file());
    assert!(!root.join("in/plain.csv").exists());

    let nested = PostAction::MoveTo("/archive/2026/11".into());
    let moved = apply_post_action(&mut client, "/in/données été.csv", &nested, now)
        .await
        .unwrap();
    assert_eq!(
        moved,
        PostActionOutcome::Moved {
            to: "/archive/2026/11/données été.csv".into()
        }
    );
    assert!(root.join("archive/2026/11/données été.csv").is_file());
}

#[tokio::test]
async fn plain_ftp_lists_with_list_downloads_and_maps_failures() {
    let fixture = start(false, |_| {});
    lists_and_downloads(&fixture, Protocol::Ftp).await;

    let mut client = FtpClient::connect(&fixture.config(Protocol::Ftp))
        .await
        .unwrap();
    let error = client.list("/no such dir").await.unwrap_err();
    assert_eq!(error.reply_code(), Some(550), "{error}");
    assert_eq!(error.kind(), FailureKind::Misconfigured);
    // The failed CWD left the session where it was.
    assert_eq!(
        client.list("/in").await.unwrap().lines.len(),
        SMALL_FILES.len() + 1
    );
    let error = client.retr("/in/vanished.csv", None).await.unwrap_err();
    assert_eq!(error.reply_code(), Some(550), "{error}");
    assert_eq!(error.kind(), FailureKind::Transient);

    let mut bad = fixture.config(Protocol::Ftp);
    bad.password = Password::new("not-the-Pa55word");
    let error = FtpClient::connect(&bad).await.unwrap_err();
    assert_eq!(error.reply_code(), Some(530), "{error}");
    assert_eq!(error.kind(), FailureKind::Misconfigured);
    assert!(!format!("{error} {error:?}").contains("not-the-Pa55word"));
}

#[tokio::test]
async fn plain_ftp_post_actions() {
    let fixture = start(false, |_| {});
    post_actions(&fixture, Protocol::Ftp).await;
}

#[tokio::test]
async fn explicit_ftps_with_required_session_reuse() {
    let fixture = start(true, |_| {});
    lists_and_downloads(&fixture, Protocol::Ftps).await;
    post_actions(&fixture, Protocol::Ftps).await;

    // TLS is forced on logins: plain FTP is refused at login.
    let error = FtpClient::connect(&fixture.config(Protocol::Ftp))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), FailureKind::Misconfigured, "{error}");

    // A wrong CA is refused before any credentials are sent.
    let other = tempfile::tempdir().unwrap();
    let other_pki = TestPki::generate(&["127.0.0.1"])
        .unwrap()
        .write_to(other.path())
        .unwrap();
    let mut wrong = fixture.config(Protocol::Ftps);
    wrong.tls.ca_bundle = Some(other_pki.ca);
    let error = FtpClient::connect(&wrong).await.unwrap_err();
    assert!(matches!(error, FtpError::Certificate { .. }), "{error:?}");
    assert_eq!(error.kind(), FailureKind::Misconfigured);
    let log = fixture.server.output();
    assert!(!log.contains("OOPS"), "{log}");
}

#[tokio::test]
async fn lists_10000_files() {
    let fixture = start(false, |root| fixtures::populate_many(root, 10_000));
    let mut client = FtpClient::connect(&fixture.config(Protocol::Ftp))
        .await
        .unwrap();
    let started = Instant::now();
    let listing = client.list("/many").await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(listing.lines.len(), 10_000);
    eprintln!("vsftpd: LIST of 10,000 files took {elapsed:?}");

    let fixture_tls = start(true, |root| fixtures::populate_many(root, 10_000));
    let mut client = FtpClient::connect(&fixture_tls.config(Protocol::Ftps))
        .await
        .unwrap();
    let started = Instant::now();
    let listing = client.list("/many").await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(listing.lines.len(), 10_000);
    eprintln!("vsftpd (FTPS): LIST of 10,000 files took {elapsed:?}");
}

/// Control experiment: the same server refuses a client whose data connections do
/// not resume the control connection's TLS session, so the test above proves reuse.
#[tokio::test]
async fn vsftpd_refuses_data_connections_without_session_reuse() {
    use std::sync::Arc;
    use suppaftp::tokio::{AsyncRustlsConnector, AsyncRustlsFtpStream};
    use suppaftp::tokio_rustls::TlsConnector;
    use suppaftp::tokio_rustls::rustls::client::Resumption;
    use suppaftp::tokio_rustls::rustls::pki_types::CertificateDer;
    use suppaftp::tokio_rustls::rustls::pki_types::pem::PemObject;
    use suppaftp::tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto};

    let fixture = start(true, |_| {});
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&fixture.pki.ca).unwrap())
        .unwrap();
    let mut tls = ClientConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.resumption = Resumption::disabled();
    let connector = AsyncRustlsConnector::from(TlsConnector::from(Arc::new(tls)));
    let mut stream = AsyncRustlsFtpStream::connect(("127.0.0.1", fixture.port))
        .await
        .unwrap()
        .into_secure(connector, "127.0.0.1")
        .await
        .unwrap();
    stream
        .login(fixture.user.as_str(), fixture.password.as_str())
        .await
        .unwrap();
    let refused = stream.list(Some("/in")).await;
    let error = refused.expect_err("vsftpd accepted a data connection without session reuse");
    // vsftpd: "522 SSL connection failed: session reuse required".
    assert!(error.to_string().contains("522"), "{error}");
}

#[tokio::test]
async fn the_source_port_lists_stats_and_reads_from_an_offset() {
    let fixture = start(false, |_| {});
    let content = std::fs::read(fixture.data.path().join("root/in").join(BIG_FILE)).unwrap();
    let config = fixture.config(Protocol::Ftp);
    let connect = async || FtpClient::connect(&config).await.unwrap();
    tributary_testkit::source_port::keeps_its_promises(connect, "/in", BIG_FILE, &content).await;
}
