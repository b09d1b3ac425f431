//! The FTP client's logs carry no password, checked by capturing every log line
//! of a session at TRACE level. Alone in its own test binary: `tracing` caches
//! per-callsite interest process-wide, so a test running in parallel without a
//! subscriber could make the capture miss lines (seen as a flaky failure).

use tributary::ftp::embedded::{EmbeddedFtpOptions, EmbeddedFtpServer, TestPki};
use tributary::ftp::{FtpClient, FtpConfig, Password, Protocol};
use tributary_testkit::{PASSWORD, USER, config};

struct Fixture {
    _dir: tempfile::TempDir,
    server: EmbeddedFtpServer,
    ca: std::path::PathBuf,
}

async fn serve_ftps() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("in")).unwrap();
    std::fs::write(root.join("in/a.csv"), "id\n1\n").unwrap();
    let pki_dir = dir.path().join("pki");
    std::fs::create_dir_all(&pki_dir).unwrap();
    let pki = TestPki::generate(&["localhost", "127.0.0.1"])
        .unwrap()
        .write_to(&pki_dir)
        .unwrap();
    let options = EmbeddedFtpOptions::new(&root)
        .credentials(USER, Password::new(PASSWORD))
        .tls(&pki.cert, &pki.key);
    let server = EmbeddedFtpServer::start(options).await.unwrap();
    Fixture {
        _dir: dir,
        server,
        ca: pki.ca,
    }
}

fn ftps_config(fixture: &Fixture) -> FtpConfig {
    let mut config = config(fixture.server.port(), Protocol::Ftps);
    config.tls.ca_bundle = Some(fixture.ca.clone());
    config
}

#[tokio::test]
async fn the_password_never_reaches_the_logs() {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fixture = serve_ftps().await;
    let mut client = FtpClient::connect(&ftps_config(&fixture)).await.unwrap();
    client.list("/in").await.unwrap();
    let mut bad = ftps_config(&fixture);
    bad.password = Password::new("another-secret-Pa55");
    let _ = FtpClient::connect(&bad).await.unwrap_err();
    let mut off = ftps_config(&fixture);
    off.tls.verify_certificate = false;
    let _ = FtpClient::connect(&off).await.unwrap();

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("Connected to FTP server."),
        "nothing captured: {logs}"
    );
    assert!(logs.contains("Listed FTP directory."), "{logs}");
    assert!(
        logs.contains("WARN") && logs.contains("verification is disabled"),
        "{logs}"
    );
    assert!(
        !logs.contains(PASSWORD),
        "the password leaked into the logs"
    );
    assert!(
        !logs.contains("another-secret-Pa55"),
        "the password leaked into the logs"
    );
}
