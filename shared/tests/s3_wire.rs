//! What the S3 object store puts on the wire for an upload: the body is sent
//! with an unsigned payload (SigV4 does not hash it a second time) but always
//! with a CRC32 checksum S3 verifies, and the headers stay signed. moto checks
//! neither, so a one-request HTTP server on 127.0.0.1 records the request the
//! functions' real client (`tributary::lambda::s3_client`) sends.

use std::collections::HashMap;

use aws_sdk_s3::config::Credentials;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tributary::aws::s3::S3ObjectStore;
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

/// A store on `bucket` whose client talks to `port` on 127.0.0.1.
async fn store_at(port: u16) -> S3ObjectStore {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .http_client(tributary::aws::https_client())
        .load()
        .await;
    S3ObjectStore::new(tributary::lambda::s3_client(&sdk, true), "raw-bucket")
}

/// The checks every upload request must pass.
fn assert_unsigned_with_checksum(request: &Recorded, sent: &[u8]) {
    let headers = &request.headers;
    let payload = headers
        .get("x-amz-content-sha256")
        .map(String::as_str)
        .unwrap_or("");
    assert!(
        payload.contains("UNSIGNED-PAYLOAD"),
        "the payload must not be signed: x-amz-content-sha256 = {payload:?} ({})",
        request.line
    );
    // Headers are still signed: the signature covers host, date and the
    // content hash marker.
    let auth = &headers["authorization"];
    assert!(auth.starts_with("AWS4-HMAC-SHA256 "), "{auth}");
    assert!(auth.contains("x-amz-content-sha256"), "{auth}");
    // A CRC32 of the body travels with it: as a header, or as a trailer of an
    // aws-chunked body.
    let crc = crc32(sent);
    let in_header = headers.get("x-amz-checksum-crc32") == Some(&crc);
    let in_trailer = headers.get("x-amz-trailer").map(String::as_str)
        == Some("x-amz-checksum-crc32")
        && String::from_utf8_lossy(&request.body).contains(&format!("x-amz-checksum-crc32:{crc}"));
    assert!(
        in_header || in_trailer,
        "no CRC32 ({crc}) of the body: headers {headers:?}"
    );
    assert!(
        request.body.windows(sent.len()).any(|w| w == sent),
        "the body was not sent as given"
    );
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
    store_at(port)
        .await
        .put("raw/sales.csv", body.clone(), &Metadata::new())
        .await
        .unwrap();
    let request = server.await.unwrap();
    assert!(
        request.line.starts_with("PUT /raw-bucket/raw/sales.csv"),
        "{}",
        request.line
    );
    assert_unsigned_with_checksum(&request, &body);
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
    let part = store_at(port)
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
