//! The object store's contract: multipart uploads invisible until completed
//! and leaving nothing when aborted, single puts, and the minimum part size.

use sha2::{Digest, Sha256};
use tributary::failure::FailureKind;
use tributary::ports::object_store::{MIN_PART_BYTES, Metadata, ObjectStore, ObjectStoreError};

fn lineage() -> Metadata {
    [
        ("source-host", "ftp.acme.example"),
        ("source-path", "/out/orders 2024-05-01.csv.gz"),
        ("sha256", "ab12"),
        ("rows", "42"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Deterministic, non-repeating bytes (so a misordered part changes the hash).
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[0] ^ seed)
        .collect()
}

/// A two-part upload is invisible until completed, then holds exactly the bytes
/// in order with the metadata given at the start; no upload is left open.
pub async fn object_store_multipart_completes<S: ObjectStore>(store: &S) {
    let key = "raw/tenant=acme/dataset=orders/ingest_date=2024-05-01/orders.csv";
    let first = pattern(MIN_PART_BYTES, 1);
    let last = pattern(123_457, 2);
    let mut whole = Sha256::new();
    whole.update(&first);
    whole.update(&last);
    let expected = whole.finalize();

    let upload = store.start_upload(key, &lineage()).await.unwrap();
    assert_eq!(upload.key, key);
    let p1 = store.put_part(&upload, 1, first).await.unwrap();
    let p2 = store.put_part(&upload, 2, last).await.unwrap();
    assert!(
        store.head(key).await.unwrap().is_none(),
        "visible before completion"
    );
    let open = store.incomplete_uploads("raw/").await.unwrap();
    assert!(open.contains(&upload), "{open:?}");

    store.complete_upload(&upload, &[p1, p2]).await.unwrap();
    let bytes = store.get(key).await.unwrap().unwrap();
    assert_eq!(Sha256::digest(&bytes), expected);
    let info = store.head(key).await.unwrap().unwrap();
    assert_eq!(info.size, (MIN_PART_BYTES + 123_457) as u64);
    assert_eq!(info.metadata, lineage());
    assert!(store.incomplete_uploads("raw/").await.unwrap().is_empty());
}

/// An aborted upload leaves no object and no open upload; its parts are refused
/// afterwards; aborting twice is fine.
pub async fn object_store_abort_leaves_nothing<S: ObjectStore>(store: &S) {
    let key = "raw/tenant=acme/dataset=orders/bad.csv";
    let upload = store.start_upload(key, &lineage()).await.unwrap();
    store.put_part(&upload, 1, pattern(1000, 3)).await.unwrap();
    store.abort_upload(&upload).await.unwrap();

    assert!(store.head(key).await.unwrap().is_none());
    assert!(store.get(key).await.unwrap().is_none());
    assert!(store.incomplete_uploads("").await.unwrap().is_empty());
    let err = store
        .put_part(&upload, 2, pattern(10, 4))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ObjectStoreError::NoSuchUpload { .. }),
        "{err}"
    );
    store.abort_upload(&upload).await.unwrap();
}

/// A small object in one put round-trips its bytes and metadata; a missing key
/// is `None`, not an error.
pub async fn object_store_put_round_trips<S: ObjectStore>(store: &S) {
    let key = "raw/tenant=acme/dataset=small/one.jsonl";
    store
        .put(key, b"{\"a\":1}\n".to_vec(), &lineage())
        .await
        .unwrap();
    assert_eq!(store.get(key).await.unwrap().unwrap(), b"{\"a\":1}\n");
    let info = store.head(key).await.unwrap().unwrap();
    assert_eq!((info.size, info.metadata), (8, lineage()));
    assert!(store.head("raw/absent").await.unwrap().is_none());
    assert!(store.get("raw/absent").await.unwrap().is_none());
}

/// Completing with a part below the minimum that is not the last is refused as
/// misconfigured, nothing becomes visible, and the upload can still be aborted.
pub async fn object_store_refuses_small_middle_parts<S: ObjectStore>(store: &S) {
    let key = "raw/tenant=acme/dataset=orders/small-parts.csv";
    let upload = store.start_upload(key, &Metadata::new()).await.unwrap();
    let p1 = store.put_part(&upload, 1, pattern(1024, 5)).await.unwrap();
    let p2 = store.put_part(&upload, 2, pattern(1024, 6)).await.unwrap();
    let err = store.complete_upload(&upload, &[p1, p2]).await.unwrap_err();
    assert_eq!(err.kind(), FailureKind::Misconfigured, "{err}");
    assert!(store.head(key).await.unwrap().is_none());
    store.abort_upload(&upload).await.unwrap();
    assert!(store.incomplete_uploads("").await.unwrap().is_empty());
}
