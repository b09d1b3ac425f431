//! Test support shared by the workspace's test crates (the library's
//! integration tests, the end-to-end tests of `tests/e2e/`, the CLI's and the
//! functions' tests, the engine bench): fixture trees, FTP client configs, real
//! server processes (pyftpdlib, vsftpd, moto), a scripted fake FTP server for
//! failures real servers will not produce on demand, and compression helpers.
//!
//! It is test code: a helper that cannot do its job panics with what went
//! wrong, failing the test that called it (`expect` says what it was doing).
#![deny(clippy::unwrap_used)]

pub mod compress;
pub mod fake_ftp;
pub mod fixtures;
pub mod moto;
pub mod process;
pub mod source_port;

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tributary::ftp::{FtpClient, FtpConfig, Password, Protocol};

/// The user every test server accepts.
pub const USER: &str = "tributary";
/// Its password; tests check it never shows up in errors or logs.
pub const PASSWORD: &str = "s3cret-Pa55-never-logged";

/// A client config for `port` with test timeouts.
pub fn config(port: u16, protocol: Protocol) -> FtpConfig {
    let mut config = FtpConfig::new("127.0.0.1", port, protocol, USER, Password::new(PASSWORD));
    config.connect_timeout = Duration::from_secs(10);
    config.data_timeout = Duration::from_secs(10);
    config.retry_delay = Duration::from_millis(100);
    config
}

/// Downloads `path` to EOF and returns (bytes, SHA-256 hex), or the read error.
pub async fn download_sha256(
    client: &mut FtpClient,
    path: &str,
    expected: Option<u64>,
) -> Result<(u64, String), std::io::Error> {
    use sha2::Digest;
    let mut download = client.retr(path, expected).await.map_err(|e| e.into_io())?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = download.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    assert!(download.is_complete());
    Ok((download.received(), hex::encode(hasher.finalize())))
}
