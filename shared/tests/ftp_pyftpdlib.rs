//! The FTP client against a real pyftpdlib process (plain FTP, explicit and
//! implicit FTPS with a test CA), started on free 127.0.0.1 ports by the test.
//! The interpreter is `$TRIBUTARY_PYTHON` or `python3`; it needs pyftpdlib and
//! pyOpenSSL, else the test fails saying how to install them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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
    ServerProcess, free_port, free_port_range, python_with_pyftpdlib,
};
use tributary_testkit::{PASSWORD, USER, config, download_sha256};

/// Implicit FTPS: pyftpdlib's TLS handler, with the handshake before the greeting.
const IMPLICIT_SERVER: &str = r#"
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import TLS_FTPHandler
from pyftpdlib.servers import FTPServer

port, root, user, password, cert, key, low, high = sys.argv[1:]

class ImplicitTLSHandler(TLS_FTPHandler):
    def handle(self):
        self.secure_connection(self.ssl_context)

    def handle_ssl_established(self):
        TLS_FTPHandler.handle(self)

authorizer = DummyAuthorizer()
authorizer.add_user(user, password, root, perm="elradfmwMT")
ImplicitTLSHandler.authorizer = authorizer
ImplicitTLSHandler.certfile = cert
ImplicitTLSHandler.keyfile = key
ImplicitTLSHandler.passive_ports = range(int(low), int(high) + 1)
FTPServer(("127.0.0.1", int(port)), ImplicitTLSHandler).serve_forever()
"#;

enum Mode {
    Plain,
    Explicit,
    Implicit,
}

struct Fixture {
    dir: tempfile::TempDir,
    port: u16,
    big_sha256: String,
    pki: PkiFiles,
    _server: ServerProcess,
}

impl Fixture {
    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn config(&self, protocol: Protocol) -> FtpConfig {
        let mut config = config(self.port, protocol);
        config.tls.ca_bundle = Some(self.pki.ca.clone());
        config
    }
}

fn start(mode: Mode, extra: &[&str], prepare: impl FnOnce(&Path)) -> Fixture {
    let python = python_with_pyftpdlib();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let big_sha256 = fixtures::populate(&root);
    prepare(&root);
    let pki = TestPki::generate(&["localhost", "127.0.0.1"])
        .unwrap()
        .write_to(dir.path())
        .unwrap();
    let port = free_port();
    let (low, high) = free_port_range(10);
    let mut command = Command::new(&python);
    match mode {
        Mode::Plain | Mode::Explicit => {
            command.args(["-m", "pyftpdlib", "-i", "127.0.0.1", "-w"]);
            command.args(["-p", &port.to_string()]);
            command.arg("-d").arg(&root);
            command.args(["-u", USER, "-P", PASSWORD]);
            command.args(["-r", &format!("{low}-{high}")]);
            if matches!(mode, Mode::Explicit) {
                command.arg("--tls");
                command.arg("--certfile").arg(&pki.cert);
                command.arg("--keyfile").arg(&pki.key);
            }
            command.args(extra);
        }
        Mode::Implicit => {
            command.args(["-c", IMPLICIT_SERVER, &port.to_string()]);
            command.arg(&root);
            command.args([USER, PASSWORD]);
            command.arg(&pki.cert).arg(&pki.key);
            command.args([low.to_string(), high.to_string()]);
        }
    }
    let server = ServerProcess::start("pyftpdlib", command, port, &dir.path().join("server.log"));
    Fixture {
        dir,
        port,
        big_sha256,
        pki,
        _server: server,
    }
}

async fn lists_and_downloads(fixture: &Fixture, protocol: Protocol) {
    let mut client = FtpClient::connect(&fixture.config(protocol)).await.unwrap();
    let listing = client.list("/in").await.unwrap();
    assert_eq!(listing.style, ListingStyle::Mlsd);
    for name in SMALL_FILES.iter().chain([&BIG_FILE]) {
        assert!(
            listing
                .lines
                .iter()
                .any(|l| l.ends_with(&format!("; {name}"))),
            "{name} missing from {:?}",
            listing.lines
        );
    }
    let path = format!("/in/{BIG_FILE}");
    let size = client.size(&path).await.unwrap();
    assert_eq!(size, BIG_SIZE as u64);
    let (bytes, sha) = download_sha256(&mut client, &path, Some(size))
        .await
        .unwrap();
    assert_eq!(
        (bytes, sha.as_str()),
        (BIG_SIZE as u64, fixture.big_sha256.as_str())
    );
    client.quit().await;
}

#[tokio::test]
async fn plain_ftp_lists_downloads_and_maps_failures() {
    let fixture = start(Mode::Plain, &[], |_| {});
    lists_and_downloads(&fixture, Protocol::Ftp).await;

    let mut client = FtpClient::connect(&fixture.config(Protocol::Ftp))
        .await
        .unwrap();
    // pyftpdlib answers MLSD of a missing directory with 501, not 550.
    let error = client.list("/no such dir").await.unwrap_err();
    assert_eq!(error.reply_code(), Some(501), "{error}");
    assert_eq!(error.kind(), FailureKind::Misconfigured);
    let error = client.retr("/in/vanished.csv", None).await.unwrap_err();
    assert_eq!(error.reply_code(), Some(550), "{error}");
    assert_eq!(error.kind(), FailureKind::Transient);
    let error = download_sha256(&mut client, &format!("/in/{BIG_FILE}"), Some(1000))
        .await
        .unwrap_err();
    let ftp = FtpError::find(&error).unwrap();
    assert!(matches!(ftp, FtpError::SizeMismatch { .. }), "{ftp}");
    assert_eq!(ftp.kind(), FailureKind::Transient);

    let mut bad = fixture.config(Protocol::Ftp);
    bad.password = Password::new("not-the-Pa55word");
    let error = FtpClient::connect(&bad).await.unwrap_err();
    assert_eq!(error.reply_code(), Some(530), "{error}");
    assert_eq!(error.kind(), FailureKind::Misconfigured);
    assert!(!format!("{error} {error:?}").contains("not-the-Pa55word"));
}

#[tokio::test]
async fn active_mode_lists_and_downloads() {
    let fixture = start(Mode::Plain, &[], |_| {});
    let mut config = fixture.config(Protocol::Ftp);
    config.passive = false;
    let mut client = FtpClient::connect(&config).await.unwrap();
    let listing = client.list("/in").await.unwrap();
    assert_eq!(listing.lines.len(), SMALL_FILES.len() + 1);
    let (bytes, _) = download_sha256(&mut client, "/in/plain.csv", None)
        .await
        .unwrap();
    assert!(bytes > 0);
}

#[tokio::test]
async fn post_actions_delete_and_move_with_a_name_clash() {
    let fixture = start(Mode::Plain, &[], |_| {});
    let root = fixture.root();
    let mut client = FtpClient::connect(&fixture.config(Protocol::Ftp))
        .await
        .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 10, 15, 0).unwrap();

    let deleted = apply_post_action(&mut client, "/in/with space.csv", &PostAction::Delete, now)
        .await
        .unwrap();
    assert_eq!(deleted, PostActionOutcome::Deleted);
    assert!(!root.join("in/with space.csv").exists());

    let archive = PostAction::MoveTo("/archive".into());
    let moved = apply_post_action(&mut client, "/in/plain.csv", &archive, now)
        .await
        .unwrap();
    let to = "/archive/plain.csv.20261121T101500Z";
    assert_eq!(moved, PostActionOutcome::Moved { to: to.into() });
    assert!(!root.join("in/plain.csv").exists());
    assert!(root.join(&to[1..]).is_file());
    assert_eq!(
        std::fs::read_to_string(root.join("archive/plain.csv")).unwrap(),
        "older copy\n"
    );

    let nested = PostAction::MoveTo("/archive/y=2026/m=11".into());
    let moved = apply_post_action(&mut client, "/in/日本語 データ.txt", &nested, now)
        .await
        .unwrap();
    assert_eq!(
        moved,
        PostActionOutcome::Moved {
            to: "/archive/y=2026/m=11/日本語 データ.txt".into()
        }
    );
    assert!(root.join("archive/y=2026/m=11/日本語 データ.txt").is_file());
}

#[tokio::test]
async fn explicit_ftps_lists_and_downloads_and_refuses_a_wrong_ca() {
    let fixture = start(Mode::Explicit, &[], |_| {});
    lists_and_downloads(&fixture, Protocol::Ftps).await;

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

    wrong.tls.verify_certificate = false;
    let mut client = FtpClient::connect(&wrong).await.unwrap();
    assert!(client.list("/in").await.is_ok());
}

#[tokio::test]
async fn implicit_ftps_lists_and_downloads() {
    let fixture = start(Mode::Implicit, &[], |_| {});
    lists_and_downloads(&fixture, Protocol::FtpsImplicit).await;
    // Explicit FTPS against an implicit port is not a certificate problem.
    let mut config = fixture.config(Protocol::Ftps);
    config.connect_timeout = Duration::from_secs(2);
    config.connect_attempts = 1;
    let error = FtpClient::connect(&config).await.unwrap_err();
    assert_eq!(error.kind(), FailureKind::Transient, "{error}");
}

#[tokio::test]
async fn too_many_connections_421_is_retried_with_backoff() {
    let fixture = start(Mode::Plain, &["--max-cons-per-ip", "1"], |_| {});
    let first = FtpClient::connect(&fixture.config(Protocol::Ftp))
        .await
        .unwrap();

    let mut config = fixture.config(Protocol::Ftp);
    config.retry_delay = Duration::from_millis(100);
    let error = FtpClient::connect(&config).await.unwrap_err();
    assert_eq!(error.reply_code(), Some(421), "{error}");
    assert_eq!(error.kind(), FailureKind::Transient);

    // The first connection goes away during the backoff: a retry gets in.
    config.retry_delay = Duration::from_millis(400);
    let second = tokio::spawn(async move { FtpClient::connect(&config).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    first.quit().await;
    let mut second = second.await.unwrap().unwrap();
    assert!(second.list("/in").await.is_ok());
}

#[tokio::test]
async fn lists_10000_files() {
    let fixture = start(Mode::Plain, &[], |root| {
        fixtures::populate_many(root, 10_000)
    });
    let mut client = FtpClient::connect(&fixture.config(Protocol::Ftp))
        .await
        .unwrap();
    let started = Instant::now();
    let listing = client.list("/many").await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(listing.lines.len(), 10_000);
    eprintln!("pyftpdlib: MLSD of 10,000 files took {elapsed:?}");
}

#[tokio::test]
async fn the_source_port_lists_stats_and_reads_from_an_offset() {
    let fixture = start(Mode::Plain, &[], |_| {});
    let content = std::fs::read(fixture.root().join("in").join(BIG_FILE)).unwrap();
    let config = fixture.config(Protocol::Ftp);
    let connect = async || FtpClient::connect(&config).await.unwrap();
    tributary_testkit::source_port::keeps_its_promises(connect, "/in", BIG_FILE, &content).await;
}
