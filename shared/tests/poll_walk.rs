//! The poller's walk over a source's directories and the SIZE/MDTM refinement of
//! listed files, against the embedded libunftp server.

use chrono::{Duration, Utc};
use tributary::ftp::embedded::{EmbeddedFtpOptions, EmbeddedFtpServer};
use tributary::ftp::listing::Precision;
use tributary::ftp::{FtpClient, FtpConfig, Password};
use tributary::poll::walk::{WalkLimits, refine, walk};
use tributary::registry::{Protocol, Registry, Source};

const PASSWORD: &str = "walk-pw";

fn source(port: u16, recursive: bool, max_depth: u32) -> Source {
    let yaml = format!(
        r#"
version: 1
tenants:
  - id: t
    sources:
      - id: s
        host: 127.0.0.1
        port: {port}
        protocol: ftp
        username: u
        password: {{env: UNUSED}}
        directories: [/in, /other]
        recursive: {recursive}
        max_depth: {max_depth}
        rules:
          - id: r
            match: {{glob: "/**"}}
            dataset: d
            format: csv
"#
    );
    let registry = Registry::from_yaml_str(&yaml).unwrap();
    registry.validate().unwrap();
    registry.tenants[0].sources[0].clone()
}

async fn server(root: &std::path::Path) -> EmbeddedFtpServer {
    for path in [
        "in/a.csv",
        "in/l1/b.csv",
        "in/l1/l2/c.csv",
        "in/l1/l2/l3/d.csv",
        "other/e.csv",
    ] {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, "id\n1\n").unwrap();
    }
    EmbeddedFtpServer::start(
        EmbeddedFtpOptions::new(root).credentials("u", Password::new(PASSWORD)),
    )
    .await
    .unwrap()
}

async fn client(port: u16) -> FtpClient {
    let config = FtpConfig::new(
        "127.0.0.1",
        port,
        Protocol::Ftp,
        "u",
        Password::new(PASSWORD),
    );
    FtpClient::connect(&config).await.unwrap()
}

fn paths(files: &[tributary::poll::select::ListedFile]) -> Vec<&str> {
    let mut paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    paths.sort_unstable();
    paths
}

#[tokio::test]
async fn walks_every_configured_directory_down_to_max_depth() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let mut client = client(server.port()).await;

    let flat = walk(
        &mut client,
        &source(server.port(), false, 5),
        Utc::now(),
        WalkLimits::default(),
    )
    .await
    .unwrap();
    assert_eq!(paths(&flat.files), vec!["/in/a.csv", "/other/e.csv"]);
    assert_eq!(flat.dirs_listed, 2);
    assert!(!flat.truncated);

    let two = walk(
        &mut client,
        &source(server.port(), true, 2),
        Utc::now(),
        WalkLimits::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        paths(&two.files),
        vec![
            "/in/a.csv",
            "/in/l1/b.csv",
            "/in/l1/l2/c.csv",
            "/other/e.csv"
        ]
    );
}

#[tokio::test]
async fn the_walk_stops_at_its_limits_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let mut client = client(server.port()).await;
    let limits = WalkLimits {
        max_dirs: 2,
        max_files: 1_000,
        deadline: None,
    };
    let walked = walk(
        &mut client,
        &source(server.port(), true, 5),
        Utc::now(),
        limits,
    )
    .await
    .unwrap();
    assert!(walked.truncated);
    assert_eq!(walked.dirs_listed, 2);
    let limits = WalkLimits {
        max_dirs: 100,
        max_files: 1,
        deadline: None,
    };
    let walked = walk(
        &mut client,
        &source(server.port(), true, 5),
        Utc::now(),
        limits,
    )
    .await
    .unwrap();
    assert!(walked.truncated);
    assert!(!walked.out_of_time);
    assert_eq!(walked.files.len(), 1);
    // A deadline already passed: nothing is listed, and the walk says why.
    let limits = WalkLimits {
        deadline: Some(tokio::time::Instant::now()),
        ..WalkLimits::default()
    };
    let walked = walk(
        &mut client,
        &source(server.port(), true, 5),
        Utc::now(),
        limits,
    )
    .await
    .unwrap();
    assert!(walked.truncated && walked.out_of_time);
    assert_eq!(walked.dirs_listed, 0);
}

#[tokio::test]
async fn refine_replaces_a_coarse_listing_time_with_mdtm() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let mut client = client(server.port()).await;
    let mut walked = walk(
        &mut client,
        &source(server.port(), false, 0),
        Utc::now(),
        WalkLimits::default(),
    )
    .await
    .unwrap();
    let exact: Vec<_> = walked.files.iter().map(|f| f.mtime).collect();
    // Pretend the server only gave day-precision LIST lines without sizes.
    for file in &mut walked.files {
        file.mtime = file.mtime.map(|t| t - Duration::hours(7));
        file.precision = Precision::Day;
        file.size = None;
    }
    let refined = refine(&mut client, &mut walked.files, 1).await.unwrap();
    assert_eq!(refined, 1, "bounded by the limit");
    let refined = refine(&mut client, &mut walked.files, 10).await.unwrap();
    assert_eq!(refined, 1, "the already refined file is not asked again");
    for (file, exact) in walked.files.iter().zip(exact) {
        assert_eq!(file.precision, Precision::Second);
        assert_eq!(file.mtime, exact, "{}", file.path);
        assert_eq!(file.size, Some(5), "{}", file.path);
    }
}
