//! What the S3 object store puts on the wire for an upload, built as the
//! ingester builds it: on a connection that allows it (here loopback) the body
//! goes with an unsigned payload (SigV4 does not hash it a second time) but
//! always with a CRC32 checksum in a signed header, and the metadata headers
//! stay signed; otherwise the payload is signed. moto checks none of this, so a
//! one-request HTTP server on 127.0.0.1 records what the functions' real client
//! (`tributary::lambda::s3_client`) sends. That S3 verifies the checksum is
//! AWS's documented behaviour, not something a test here can show.

use std::collections::HashMap;

use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::config::RequestChecksumCalculation;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tributary::aws::s3::S3ObjectStore;
use tributary::lambda::{s3_endpoint, unsigned_payload_is_safe};
use tributary::ports::ObjectStore;
use tributary::ports::object_store::{Metadata, MultipartUpload};

/// One request as received: method and path, headers (names lowercased), body.
struct Recorded {
    line: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// Accepts one connection, reads one request (Content-Length body), answers
/// 200 with an ETag, and returns what it read.
async fn record_one(listener: TcpListener) -> Recorded {
    let (stream, _) = listener.accept().await.unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).await.unwrap();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).await.unwrap();
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap();
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers["content-length"].parse().unwrap();
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.unwrap();
    reader
        .get_mut()
        .write_all(b"HTTP/1.1 200 OK\r\nETag: \"etag-1\"\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    reader.get_mut().flush().await.unwrap();
    Recorded {
        line: line.trim_end().to_owned(),
        headers,
        body,
    }
}

/// The SDK configuration the functions load, aimed at `port` on 127.0.0.1;
/// `checksums` as the environment could set it.
async fn sdk_at(port: u16, checksums: RequestChecksumCalculation) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .http_client(tributary::aws::https_client())
        .request_checksum_calculation(checksums)
        .load()
        .await
}

/// The store as the ingester builds it (`functions/ingester/src/aws.rs`):
/// the functions' client, payload signing decided from the endpoint.
async fn store_at(port: u16, checksums: RequestChecksumCalculation) -> S3ObjectStore {
    let sdk = sdk_at(port, checksums).await;
    let unsigned = unsigned_payload_is_safe(s3_endpoint(&sdk).as_deref());
    assert!(unsigned, "a loopback endpoint allows unsigned payloads");
    S3ObjectStore::new(tributary::lambda::s3_client(&sdk, true), "raw-bucket")
        .with_unsigned_payload(unsigned)
}

/// The headers SigV4 signed, from the `Authorization` header.
fn signed_headers(request: &Recorded) -> Vec<String> {
    let auth = &request.headers["authorization"];
    assert!(auth.starts_with("AWS4-HMAC-SHA256 "), "{auth}");
    auth.split("SignedHeaders=")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_default()
        .split(';')
        .map(str::to_owned)
        .collect()
}

/// The checks every unsigned upload request must pass.
fn assert_unsigned_with_checksum(request: &Recorded, sent: &[u8]) {
    let headers = &request.headers;
    assert_eq!(
        headers.get("x-amz-content-sha256").map(String::as_str),
        Some("UNSIGNED-PAYLOAD"),
        "the payload must not be signed ({})",
        request.line
    );
    // The CRC32 of the body is a header, and a signed one: nobody can swap the
    // body and its checksum without breaking the signature.
    let crc = crc32(sent);
    assert_eq!(
        headers.get("x-amz-checksum-crc32"),
        Some(&crc),
        "no CRC32 ({crc}) header for the body: headers {headers:?}"
    );
    let signed = signed_headers(request);
    for header in ["x-amz-checksum-crc32", "x-amz-content-sha256", "host"] {
        assert!(
            signed.iter().any(|h| h == header),
            "{header} unsigned: {signed:?}"
        );
    }
    assert_eq!(request.body, sent, "the body was not sent as given");
}

/// CRC32 (IEEE, as gzip's) of `data`, base64 as S3 writes it.
fn crc32(data: &[u8]) -> String {
    use base64::Engine;
    let mut crc = flate2::Crc::new();
    crc.update(data);
    base64::engine::general_purpose::STANDARD.encode(crc.sum().to_be_bytes())
}

#[tokio::test]
async fn a_put_sends_an_unsigned_payload_with_a_crc32() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(record_one(listener));
    let body = b"order_id,amount\n1,2.50\n".to_vec();
    let metadata = Metadata::from([("rows".to_owned(), "1".to_owned())]);
    store_at(port, RequestChecksumCalculation::WhenSupported)
        .await
        .put("raw/sales.csv", body.clone(), &metadata)
        .await
        .unwrap();
    let request = server.await.unwrap();
    assert!(
        request.line.starts_with("PUT /raw-bucket/raw/sales.csv"),
        "{}",
        request.line
    );
    assert_unsigned_with_checksum(&request, &body);
    // Lineage metadata travels in signed headers.
    assert_eq!(
        request.headers.get("x-amz-meta-rows").map(String::as_str),
        Some("1")
    );
    assert!(
        signed_headers(&request)
            .iter()
            .any(|h| h == "x-amz-meta-rows")
    );
}

#[tokio::test]
async fn a_part_sends_an_unsigned_payload_with_a_crc32() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(record_one(listener));
    let upload = MultipartUpload {
        key: "raw/big.csv".into(),
        upload_id: "upload-1".into(),
    };
    let body: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let part = store_at(port, RequestChecksumCalculation::WhenSupported)
        .await
        .put_part(&upload, 1, body.clone())
        .await
        .unwrap();
    assert_eq!(part.etag, "\"etag-1\"");
    let request = server.await.unwrap();
    assert!(
        request.line.starts_with("PUT /raw-bucket/raw/big.csv?")
            && request.line.contains("partNumber=1")
            && request.line.contains("uploadId=upload-1"),
        "{}",
        request.line
    );
    assert_unsigned_with_checksum(&request, &body);
}

#[tokio::test]
async fn the_checksum_stays_on_whatever_the_environment_says() {
    // AWS_REQUEST_CHECKSUM_CALCULATION=when_required would drop the CRC32 an
    // unsigned body relies on: s3_client pins it back on.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(record_one(listener));
    let body = b"id\n1\n".to_vec();
    store_at(port, RequestChecksumCalculation::WhenRequired)
        .await
        .put("raw/a.csv", body.clone(), &Metadata::new())
        .await
        .unwrap();
    assert_unsigned_with_checksum(&server.await.unwrap(), &body);
}

#[tokio::test]
async fn a_store_not_told_otherwise_signs_the_payload() {
    // The default, and what the ingester does over plain HTTP to another host.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(record_one(listener));
    let body = b"id\n1\n".to_vec();
    let sdk = sdk_at(port, RequestChecksumCalculation::WhenSupported).await;
    S3ObjectStore::new(tributary::lambda::s3_client(&sdk, true), "raw-bucket")
        .put("raw/a.csv", body.clone(), &Metadata::new())
        .await
        .unwrap();
    let request = server.await.unwrap();
    let digest = hex::encode(ring::digest::digest(&ring::digest::SHA256, &body));
    assert_eq!(request.headers.get("x-amz-content-sha256"), Some(&digest));
    assert!(!unsigned_payload_is_safe(Some("http://10.1.2.3:9000")));
}
