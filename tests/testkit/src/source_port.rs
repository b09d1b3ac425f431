//! The source port's promises, checked against any session: listing, the exact
//! time and size, reading a file whole and from an offset (the byte count
//! checked against the size), and an offset past the end refused.

use chrono::{DateTime, Utc};
use tokio::io::AsyncReadExt;
use tributary::failure::FailureKind;
use tributary::ports::listing::EntryKind;
use tributary::ports::source::{SourceError, SourceSession, Tz};

/// Reads `path` from `offset` to EOF; the size given is `size`.
async fn read_from<S: SourceSession>(
    session: &mut S,
    path: &str,
    offset: u64,
    size: Option<u64>,
) -> std::io::Result<Vec<u8>> {
    let mut reader = session
        .read(path, offset, size)
        .await
        .map_err(std::io::Error::other)?;
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).await?;
    Ok(bytes)
}

/// Checks sessions from `connect` against the file `dir/name`, whose bytes
/// are `content`. A read that fails leaves its session unusable: each such case
/// gets a session of its own.
pub async fn keeps_its_promises<S: SourceSession>(
    mut connect: impl AsyncFnMut() -> S,
    dir: &str,
    name: &str,
    content: &[u8],
) {
    let path = format!("{dir}/{name}");
    let session = &mut connect().await;
    let listing = session
        .list(dir, Utc::now(), Tz::UTC)
        .await
        .expect("listing the directory");
    let entry = listing
        .entries
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("{name} not listed: {listing:?}"));
    assert_eq!(entry.kind, EntryKind::File);
    assert_eq!(entry.size, Some(content.len() as u64));

    let size = session.size(&path).await.expect("the file's size");
    assert_eq!(size, content.len() as u64);
    let modified: DateTime<Utc> = session
        .modified(&path)
        .await
        .expect("the file's modification time");
    assert!(
        (Utc::now() - modified).num_minutes().abs() < 60,
        "{modified}"
    );

    // Whole, from the middle, from the last byte, at the very end.
    for offset in [0, size / 3, size - 1, size] {
        let bytes = read_from(session, &path, offset, Some(size))
            .await
            .expect("reading from an offset");
        assert_eq!(bytes.len() as u64, size - offset, "from byte {offset}");
        assert!(bytes == content[offset as usize..], "from byte {offset}");
    }
    // Without a known size the reader still ends with the file.
    let tail = read_from(session, &path, size / 2, None)
        .await
        .expect("reading without a known size");
    assert!(tail == content[(size / 2) as usize..]);

    // An offset past the end cannot be satisfied.
    let Err(past) = session.read(&path, size + 1, Some(size)).await else {
        panic!("reading past the end was accepted");
    };
    assert_eq!(past.kind(), FailureKind::Transient, "{past}");

    // A missing directory is misconfigured, and the server's refusal says so.
    let missing = session
        .list(&format!("{dir}/no-such-dir"), Utc::now(), Tz::UTC)
        .await
        .expect_err("listing a missing directory");
    assert_eq!(missing.kind(), FailureKind::Misconfigured, "{missing}");
    assert!(missing.is_refusal(), "{missing}");

    // A size that does not match what comes is an error, never a quiet EOF.
    for wrong in [size - 1, size + 1] {
        let mut fresh = connect().await;
        let error = read_from(&mut fresh, &path, 10, Some(wrong))
            .await
            .expect_err("reading with a wrong size");
        assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof, "{error}");
        fresh.close().await;
    }
}
