//! The FTP client against the embedded libunftp server (plain FTP and explicit
//! FTPS with a test CA) and a scripted fake server: hermetic, no external process.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use tokio::io::AsyncReadExt;
use tributary::failure::FailureKind;
use tributary::ftp::embedded::{EmbeddedFtpOptions, EmbeddedFtpServer, TestPki};
use tributary::ftp::{
    FtpClient, FtpConfig, FtpError, FtpPool, ListingStyle, Password, Protocol, apply_post_action,
};
use tributary::ports::PostActionOutcome;
use tributary::registry::PostAction;
use tributary_testkit::fake_ftp::{FakeFtp, Script};
use tributary_testkit::fixtures::{self, BIG_FILE, BIG_SIZE, SMALL_FILES};
use tributary_testkit::{PASSWORD, USER, config, download_sha256};

struct Fixture {
    dir: tempfile::TempDir,
    server: EmbeddedFtpServer,
    big_sha256: String,
    ca: std::path::PathBuf,
}

/// A populated temp dir served by libunftp with the test credentials; FTPS
/// offered when `tls`.
async fn serve(tls: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let big_sha256 = fixtures::populate(&root);
    let pki_dir = dir.path().join("pki");
    std::fs::create_dir_all(&pki_dir).unwrap();
    let pki = TestPki::generate(&["localhost", "127.0.0.1"])
        .unwrap()
        .write_to(&pki_dir)
        .unwrap();
    let mut options = EmbeddedFtpOptions::new(&root).credentials(USER, Password::new(PASSWORD));
    if tls {
        options = options.tls(&pki.cert, &pki.key);
    }
    let server = EmbeddedFtpServer::start(options).await.unwrap();
    Fixture {
        dir,
        server,
        big_sha256,
        ca: pki.ca,
    }
}

fn ftps_config(fixture: &Fixture) -> FtpConfig {
    let mut config = config(fixture.server.port(), Protocol::Ftps);
    config.tls.ca_bundle = Some(fixture.ca.clone());
    config
}

fn root(fixture: &Fixture) -> std::path::PathBuf {
    fixture.dir.path().join("root")
}

#[tokio::test]
async fn lists_with_mlsd_including_spaces_and_non_ascii_names() {
    let fixture = serve(false).await;
    let mut client = FtpClient::connect(&config(fixture.server.port(), Protocol::Ftp))
        .await
        .unwrap();
    assert!(client.features().mlsd);
    let listing = client.list("/in").await.unwrap();
    assert_eq!(listing.style, ListingStyle::Mlsd);
    assert_eq!(listing.dir, "/in");
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
    // The session stays usable after a listing.
    let on_disk = std::fs::metadata(root(&fixture).join("in/plain.csv"))
        .unwrap()
        .len();
    assert_eq!(client.size("/in/plain.csv").await.unwrap(), on_disk);
    client.quit().await;
}

#[tokio::test]
async fn downloads_5_mib_with_matching_sha256_and_metadata() {
    let fixture = serve(false).await;
    let mut client = FtpClient::connect(&config(fixture.server.port(), Protocol::Ftp))
        .await
        .unwrap();
    let path = format!("/in/{BIG_FILE}");
    let size = client.size(&path).await.unwrap();
    assert_eq!(size, BIG_SIZE as u64);
    let mtime = client.mdtm(&path).await.unwrap();
    assert!((Utc::now() - mtime).num_minutes().abs() < 60, "{mtime}");

    let (bytes, sha) = download_sha256(&mut client, &path, Some(size))
        .await
        .unwrap();
    assert_eq!(bytes, BIG_SIZE as u64);
    assert_eq!(sha, fixture.big_sha256);
    // A confirmed download leaves the session healthy and reusable.
    assert!(client.is_healthy());
    let small = "/in/données été.csv";
    let (bytes, _) = download_sha256(&mut client, small, None).await.unwrap();
    assert_eq!(
        bytes,
        std::fs::metadata(root(&fixture).join("in/données été.csv"))
            .unwrap()
            .len()
    );
}

#[tokio::test]
async fn a_wrong_expected_size_is_a_transient_error_from_the_reader() {
    let fixture = serve(false).await;
    let port = fixture.server.port();
    let path = format!("/in/{BIG_FILE}");
    for expected in [BIG_SIZE as u64 - 1, BIG_SIZE as u64 + 1] {
        let mut client = FtpClient::connect(&config(port, Protocol::Ftp))
            .await
            .unwrap();
        let error = download_sha256(&mut client, &path, Some(expected))
            .await
            .unwrap_err();
        let ftp = FtpError::find(&error).expect("an FtpError inside the io::Error");
        assert!(
            matches!(ftp, FtpError::SizeMismatch { expected: e, .. } if *e == expected),
            "{ftp}"
        );
        assert_eq!(ftp.kind(), FailureKind::Transient);
        assert!(!client.is_healthy(), "a failed transfer must not be reused");
    }
}

#[tokio::test]
async fn a_bad_password_is_misconfigured_and_never_shown() {
    let fixture = serve(false).await;
    let mut config = config(fixture.server.port(), Protocol::Ftp);
    config.password = Password::new("wrong-Pa55-also-secret");
    let error = FtpClient::connect(&config).await.unwrap_err();
    assert_eq!(error.reply_code(), Some(530), "{error}");
    assert_eq!(error.kind(), FailureKind::Misconfigured);
    for shown in [
        error.to_string(),
        format!("{error:?}"),
        format!("{config:?}"),
    ] {
        assert!(!shown.contains("wrong-Pa55-also-secret"), "{shown}");
        assert!(!shown.contains(PASSWORD), "{shown}");
    }
    assert!(format!("{config:?}").contains("Password(<redacted>)"));
}

#[tokio::test]
async fn a_missing_directory_is_misconfigured_and_a_vanished_file_transient() {
    let fixture = serve(false).await;
    let mut client = FtpClient::connect(&config(fixture.server.port(), Protocol::Ftp))
        .await
        .unwrap();
    let error = client.list("/no such dir").await.unwrap_err();
    assert_eq!(error.reply_code(), Some(550), "{error}");
    assert_eq!(error.kind(), FailureKind::Misconfigured);
    assert!(error.to_string().contains("/no such dir"), "{error}");

    // Refusals do not break the session.
    assert!(client.is_healthy());
    assert!(client.list("/in").await.is_ok());

    // libunftp answers RETR with 150 and only then 550: the reader reports it.
    let error = download_sha256(&mut client, "/in/vanished.csv", Some(3))
        .await
        .unwrap_err();
    let ftp = FtpError::find(&error).unwrap();
    assert_eq!(ftp.reply_code(), Some(550), "{ftp}");
    assert_eq!(ftp.kind(), FailureKind::Transient);
}

#[tokio::test]
async fn explicit_ftps_with_a_test_ca_lists_and_downloads() {
    let fixture = serve(true).await;
    let mut client = FtpClient::connect(&ftps_config(&fixture)).await.unwrap();
    let listing = client.list("/in").await.unwrap();
    assert_eq!(listing.lines.len(), SMALL_FILES.len() + 1);
    let path = format!("/in/{BIG_FILE}");
    let (bytes, sha) = download_sha256(&mut client, &path, Some(BIG_SIZE as u64))
        .await
        .unwrap();
    assert_eq!((bytes, sha), (BIG_SIZE as u64, fixture.big_sha256.clone()));
}

#[tokio::test]
async fn a_wrong_ca_is_refused_as_misconfigured_and_verification_off_connects() {
    let fixture = serve(true).await;
    let other = tempfile::tempdir().unwrap();
    let other_pki = TestPki::generate(&["127.0.0.1"])
        .unwrap()
        .write_to(other.path())
        .unwrap();

    let mut wrong = ftps_config(&fixture);
    wrong.tls.ca_bundle = Some(other_pki.ca.clone());
    let error = FtpClient::connect(&wrong).await.unwrap_err();
    assert!(matches!(error, FtpError::Certificate { .. }), "{error:?}");
    assert_eq!(error.kind(), FailureKind::Misconfigured);

    // Default roots (Mozilla's) do not know the test CA either.
    let mut default_roots = ftps_config(&fixture);
    default_roots.tls.ca_bundle = None;
    let error = FtpClient::connect(&default_roots).await.unwrap_err();
    assert_eq!(error.kind(), FailureKind::Misconfigured, "{error}");

    let mut off = wrong;
    off.tls.verify_certificate = false;
    let mut client = FtpClient::connect(&off).await.unwrap();
    assert!(client.list("/in").await.is_ok());

    // An unreadable CA bundle is a configuration error, found before connecting.
    let mut missing = ftps_config(&fixture);
    missing.tls.ca_bundle = Some(other.path().join("nope.pem"));
    let error = FtpPool::new(missing).unwrap_err();
    assert!(matches!(error, FtpError::Config { .. }), "{error:?}");
    assert_eq!(error.kind(), FailureKind::Misconfigured);
}

#[tokio::test]
async fn post_actions_delete_and_move_with_a_name_clash() {
    let fixture = serve(false).await;
    let root = root(&fixture);
    let mut client = FtpClient::connect(&config(fixture.server.port(), Protocol::Ftp))
        .await
        .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 10, 15, 0).unwrap();

    let left = apply_post_action(
        &mut client,
        "/in/日本語 データ.txt",
        &PostAction::Leave,
        now,
    )
    .await
    .unwrap();
    assert_eq!(left, PostActionOutcome::Left);
    assert!(root.join("in/日本語 データ.txt").exists());

    let deleted = apply_post_action(&mut client, "/in/with space.csv", &PostAction::Delete, now)
        .await
        .unwrap();
    assert_eq!(deleted, PostActionOutcome::Deleted);
    assert!(!root.join("in/with space.csv").exists());

    // archive/plain.csv exists: the moved file gets the timestamp suffix.
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
    assert!(!root.join("in/plain.csv").exists());
    assert_eq!(
        std::fs::read_to_string(root.join("archive/plain.csv")).unwrap(),
        "older copy\n"
    );
    assert!(
        std::fs::read_to_string(root.join("archive/plain.csv.20261121T101500Z"))
            .unwrap()
            .starts_with("id,name")
    );

    // Same name again in the same second: a numbered suffix.
    std::fs::write(root.join("in/plain.csv"), "newer\n").unwrap();
    let moved = apply_post_action(&mut client, "/in/plain.csv", &archive, now)
        .await
        .unwrap();
    assert_eq!(
        moved,
        PostActionOutcome::Moved {
            to: "/archive/plain.csv.20261121T101500Z.1".into()
        }
    );
    assert_eq!(
        std::fs::read_to_string(root.join("archive/plain.csv.20261121T101500Z.1")).unwrap(),
        "newer\n"
    );

    // A missing, nested archive folder is created (mkdir -p).
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
async fn listings_beyond_the_limits_fail_clearly() {
    let fixture = serve(false).await;
    let mut config = config(fixture.server.port(), Protocol::Ftp);
    config.listing_limits.max_lines = 2;
    let mut client = FtpClient::connect(&config).await.unwrap();
    let error = client.list("/in").await.unwrap_err();
    assert!(
        matches!(error, FtpError::ListingTooLarge { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("2 lines"), "{error}");
    assert_eq!(error.kind(), FailureKind::Misconfigured);
    assert!(!client.is_healthy());

    config.listing_limits.max_lines = 1000;
    config.listing_limits.max_bytes = 100;
    let mut client = FtpClient::connect(&config).await.unwrap();
    let error = client.list("/in").await.unwrap_err();
    assert!(error.to_string().contains("100 bytes"), "{error}");
}

#[tokio::test]
async fn the_pool_honours_max_connections_and_reuses_connections() {
    let fake = FakeFtp::start(Script {
        greeting: "220 fake",
        payload: b"abc".to_vec(),
        final_reply: Some("226 ok"),
        announce_epsv: false,
    })
    .await;
    let mut config = config(fake.port, Protocol::Ftp);
    config.max_connections = 1;
    let pool = FtpPool::new(config).unwrap();

    let first = pool.get().await.unwrap();
    let waiting = tokio::time::timeout(Duration::from_millis(300), pool.get()).await;
    assert!(
        waiting.is_err(),
        "a second connection was opened beyond max_connections"
    );
    drop(first);
    assert_eq!(pool.idle_count(), 1);
    let mut again = pool.get().await.unwrap();
    assert_eq!(
        fake.connections.load(Ordering::SeqCst),
        1,
        "the idle connection was not reused"
    );
    let mut download = again.retr("/x", Some(3)).await.unwrap();
    let mut body = Vec::new();
    download.read_to_end(&mut body).await.unwrap();
    assert_eq!(body, b"abc");
    drop(download);
    drop(again);
    pool.close().await;
    assert_eq!(pool.idle_count(), 0);
}

#[tokio::test]
async fn a_421_greeting_is_retried_with_backoff_then_transient() {
    let fake = FakeFtp::start(Script {
        greeting: "421 Too many users, try later",
        payload: Vec::new(),
        final_reply: None,
        announce_epsv: false,
    })
    .await;
    let config = config(fake.port, Protocol::Ftp);
    let started = Instant::now();
    let error = FtpClient::connect(&config).await.unwrap_err();
    assert_eq!(error.reply_code(), Some(421), "{error}");
    assert_eq!(error.kind(), FailureKind::Transient);
    assert_eq!(fake.connections.load(Ordering::SeqCst), 3);
    // 100 ms then 200 ms of backoff.
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_command_abandoned_mid_way_leaves_the_client_unhealthy() {
    let fixture = serve(false).await;
    let mut client = FtpClient::connect(&config(fixture.server.port(), Protocol::Ftp))
        .await
        .unwrap();
    assert!(client.is_healthy());
    // The caller gives up while the listing is in flight (its future is dropped).
    let abandoned = tokio::time::timeout(Duration::from_micros(1), client.list("/in")).await;
    assert!(abandoned.is_err());
    assert!(
        !client.is_healthy(),
        "a session with an unread reply must not go back to a pool"
    );
}

#[tokio::test]
async fn a_password_with_a_line_break_is_misconfigured() {
    let fixture = serve(false).await;
    let mut config = config(fixture.server.port(), Protocol::Ftp);
    config.password = Password::new(format!("{PASSWORD}\n"));
    let error = FtpClient::connect(&config).await.unwrap_err();
    assert_eq!(error.kind(), FailureKind::Misconfigured, "{error}");
    assert!(error.to_string().contains("line break"), "{error}");
    assert!(!error.to_string().contains(PASSWORD));
}

#[tokio::test]
async fn a_refused_epsv_falls_back_to_pasv() {
    // The server announces EPSV in FEAT, then answers it with 502.
    let fake = FakeFtp::start(Script {
        greeting: "220 fake",
        payload: b"id\n1\n".to_vec(),
        final_reply: Some("226 Transfer complete"),
        announce_epsv: true,
    })
    .await;
    let mut client = FtpClient::connect(&config(fake.port, Protocol::Ftp))
        .await
        .unwrap();
    assert!(client.features().epsv);
    for _ in 0..2 {
        let mut download = client.retr("/a.csv", Some(5)).await.unwrap();
        let mut body = Vec::new();
        download.read_to_end(&mut body).await.unwrap();
        assert_eq!(body, b"id\n1\n");
    }
    assert!(!client.features().epsv, "the connection now uses PASV");
    assert!(client.is_healthy());
}

#[tokio::test]
async fn a_transfer_cut_short_by_the_server_is_transient() {
    // The server closes the data connection early and says so (426).
    let fake = FakeFtp::start(Script {
        greeting: "220 fake",
        payload: vec![7u8; 1000],
        final_reply: Some("426 Connection closed; transfer aborted"),
        announce_epsv: false,
    })
    .await;
    let mut client = FtpClient::connect(&config(fake.port, Protocol::Ftp))
        .await
        .unwrap();
    let error = download_sha256(&mut client, "/a.csv", None)
        .await
        .unwrap_err();
    let ftp = FtpError::find(&error).unwrap();
    assert_eq!(ftp.reply_code(), Some(426), "{ftp}");
    assert_eq!(ftp.kind(), FailureKind::Transient);

    // The server closes early but claims success: only the size catches it.
    let fake = FakeFtp::start(Script {
        greeting: "220 fake",
        payload: vec![7u8; 1000],
        final_reply: Some("226 Transfer complete"),
        announce_epsv: false,
    })
    .await;
    let mut client = FtpClient::connect(&config(fake.port, Protocol::Ftp))
        .await
        .unwrap();
    let error = download_sha256(&mut client, "/a.csv", Some(2000))
        .await
        .unwrap_err();
    let ftp = FtpError::find(&error).unwrap();
    assert!(
        matches!(
            ftp,
            FtpError::SizeMismatch {
                received: 1000,
                expected: 2000,
                ..
            }
        ),
        "{ftp}"
    );
    assert_eq!(ftp.kind(), FailureKind::Transient);
    // With the right size the same server's transfer is accepted.
    let mut client = FtpClient::connect(&config(fake.port, Protocol::Ftp))
        .await
        .unwrap();
    let (bytes, _) = download_sha256(&mut client, "/a.csv", Some(1000))
        .await
        .unwrap();
    assert_eq!(bytes, 1000);
}

#[tokio::test]
async fn a_stalled_transfer_times_out_as_transient() {
    let fake = FakeFtp::start(Script {
        greeting: "220 fake",
        payload: vec![1u8; 10],
        final_reply: None,
        announce_epsv: false,
    })
    .await;
    let mut config = config(fake.port, Protocol::Ftp);
    config.data_timeout = Duration::from_millis(500);
    let mut client = FtpClient::connect(&config).await.unwrap();
    let started = Instant::now();
    let error = download_sha256(&mut client, "/a.csv", None)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::TimedOut, "{error}");
    let ftp = FtpError::find(&error).unwrap();
    assert!(matches!(ftp, FtpError::Timeout { .. }), "{ftp}");
    assert_eq!(ftp.kind(), FailureKind::Transient);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn lists_10000_files() {
    let fixture = serve(false).await;
    fixtures::populate_many(&root(&fixture), 10_000);
    let mut client = FtpClient::connect(&config(fixture.server.port(), Protocol::Ftp))
        .await
        .unwrap();
    let started = Instant::now();
    let listing = client.list("/many").await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(listing.lines.len(), 10_000);
    eprintln!("libunftp (embedded): MLSD of 10,000 files took {elapsed:?}");
}

#[test]
fn client_futures_and_downloads_are_send() {
    fn send<T: Send>(_: &T) {}
    let config = config(21, Protocol::Ftp);
    let connect = FtpClient::connect(&config);
    send(&connect);
    drop(connect);
    fn list_is_send(client: &mut FtpClient) {
        let list = client.list("/in");
        send(&list);
    }
    let _ = list_is_send;
    fn assert_send<T: Send>() {}
    assert_send::<tributary::ftp::Download<'static>>();
    assert_send::<tributary::ftp::PooledClient>();
}

#[tokio::test]
async fn a_refused_connection_is_transient_and_not_retried() {
    let port = tributary_testkit::process::free_port();
    for protocol in [Protocol::Ftp, Protocol::Ftps, Protocol::FtpsImplicit] {
        let error = FtpClient::connect(&config(port, protocol))
            .await
            .unwrap_err();
        assert!(matches!(error, FtpError::Connect { .. }), "{error:?}");
        assert_eq!(error.kind(), FailureKind::Transient);
    }
}

/// A source configured for FTPS whose server offers no TLS is refused before
/// the password is sent, as a configuration problem — never downgraded to
/// plain FTP.
#[tokio::test]
async fn ftps_to_a_server_without_tls_is_refused_not_downgraded() {
    let fixture = serve(false).await;
    let error = FtpClient::connect(&ftps_config(&fixture))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), FailureKind::Misconfigured, "{error:?}");
    assert!(!format!("{error:?}").contains(PASSWORD));
}

#[tokio::test]
async fn the_source_port_lists_stats_and_reads_from_an_offset() {
    let fixture = serve(false).await;
    let content = std::fs::read(root(&fixture).join("in").join(BIG_FILE)).unwrap();
    let config = config(fixture.server.port(), Protocol::Ftp);
    let connect = async || FtpClient::connect(&config).await.unwrap();
    tributary_testkit::source_port::keeps_its_promises(connect, "/in", BIG_FILE, &content).await;
}
