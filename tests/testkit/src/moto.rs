//! A moto server (AWS APIs emulated) for the AWS adapter tests, and SDK clients
//! pointed at it. One server per test binary, started on first use on
//! 127.0.0.1 and a free port; tests share it and isolate themselves with
//! unique resource names ([`unique`]) instead of resetting, so they can run in
//! parallel. The server runs under a small shell watchdog that stops it (by its
//! PID) once the test process is gone, since statics are never dropped.
//!
//! A missing `moto_server` fails the test with the command that installs it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;

use super::process::free_port;

/// The running moto server.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

/// The moto server for this test binary, started on first use.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(start)
}

/// The `moto_server` binary: `$TRIBUTARY_MOTO`, else `moto_server` on PATH.
fn moto_binary() -> String {
    let binary = std::env::var("TRIBUTARY_MOTO").unwrap_or_else(|_| "moto_server".to_owned());
    let found = if binary.contains('/') {
        Path::new(&binary).is_file()
    } else {
        Command::new("sh")
            .args(["-c", &format!("command -v {binary}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    assert!(
        found,
        "moto is needed by this test: `python3 -m pip install \"moto[server]==5.2.5\"` \
         (or set TRIBUTARY_MOTO to a venv's moto_server; scripts/test.sh does both)"
    );
    binary
}

fn start() -> Moto {
    let binary = moto_binary();
    let port = free_port();
    let log = std::env::temp_dir().join(format!("tributary-moto-{port}.log"));
    let out = std::fs::File::create(&log).expect("create the moto log");
    let err = out.try_clone().expect("the moto log for stderr");
    // The watchdog: runs moto, and kills it (by PID) when the test process exits.
    let script = r#"
        "$0" -H 127.0.0.1 -p "$1" &
        moto=$!
        trap 'kill "$moto" 2>/dev/null' EXIT TERM INT
        while kill -0 "$2" 2>/dev/null && kill -0 "$moto" 2>/dev/null; do sleep 1; done
    "#;
    let mut child = Command::new("sh")
        .args([
            "-c",
            script,
            &binary,
            &port.to_string(),
            &std::process::id().to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "moto_server exited with {status} before listening; its output:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        if answers(port) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "moto_server did not answer on port {port} within 30 s; its output:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto { endpoint }
}

/// Whether moto answers an HTTP request on `port` (listening is not enough).
fn answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET /moto-api/data.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

/// A resource name no other test in any run uses: `prefix-PID-N`, lowercase.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl Moto {
    /// The shared SDK configuration: us-east-1, static test credentials, the
    /// moto endpoint, and tributary's HTTPS client (plain HTTP here).
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "moto-test",
            ))
            .endpoint_url(&self.endpoint)
            .http_client(tributary::aws::https_client())
            .load()
            .await
    }

    /// The functions' S3 client, with path-style addressing (moto has no
    /// virtual hosts).
    pub async fn s3(&self) -> aws_sdk_s3::Client {
        tributary::lambda::s3_client(&self.sdk_config().await, true)
    }

    /// A new, empty bucket.
    pub async fn bucket(&self, client: &aws_sdk_s3::Client) -> String {
        let bucket = unique("tributary-raw");
        client
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create a bucket");
        bucket
    }
}

/// A new queue and its dead-letter queue: (queue URL, dead-letter URL).
/// Messages move to the dead-letter queue after `max_receives` receives.
pub async fn queue_pair(client: &aws_sdk_sqs::Client, max_receives: u32) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let name = unique("ingest");
    let dead_url = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .expect("create the dead-letter queue")
        .queue_url
        .expect("its queue URL");
    let dead_arn = queue_arn(client, &dead_url).await;
    let policy = serde_json::json!({
        "deadLetterTargetArn": dead_arn,
        "maxReceiveCount": max_receives.to_string(),
    });
    let url = client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, policy.to_string())
        .send()
        .await
        .expect("create the queue")
        .queue_url
        .expect("its queue URL");
    (url, dead_url)
}

/// The ARN of the queue at `url`.
pub async fn queue_arn(client: &aws_sdk_sqs::Client, url: &str) -> String {
    use aws_sdk_sqs::types::QueueAttributeName;
    client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("get the queue ARN")
        .attributes
        .expect("queue attributes")
        .remove(&QueueAttributeName::QueueArn)
        .expect("the QueueArn attribute")
}

/// Makes `bucket` send every `ObjectCreated` notification to the queue at
/// `queue_url`, as the template configures the raw bucket (moto sends real S3
/// event notifications: the `s3:TestEvent` first, keys form-URL-encoded).
pub async fn notify_queue_of_created_objects(
    s3: &aws_sdk_s3::Client,
    sqs: &aws_sdk_sqs::Client,
    bucket: &str,
    queue_url: &str,
) {
    use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(
                    QueueConfiguration::builder()
                        .id("tributary-raw-object-created")
                        .queue_arn(queue_arn(sqs, queue_url).await)
                        .events(Event::from("s3:ObjectCreated:*"))
                        .build()
                        .expect("the queue configuration"),
                )
                .build(),
        )
        .send()
        .await
        .expect("set the bucket notification");
}

impl Moto {
    /// An SQS client.
    pub async fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk_config().await)
    }

    /// An SNS client.
    pub async fn sns(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(&self.sdk_config().await)
    }

    /// A Secrets Manager client.
    pub async fn secrets_manager(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.sdk_config().await)
    }

    /// An SSM client.
    pub async fn ssm(&self) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::new(&self.sdk_config().await)
    }
}

impl Moto {
    /// A DynamoDB client.
    pub async fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk_config().await)
    }
}

impl Moto {
    /// A Glue client.
    pub async fn glue(&self) -> aws_sdk_glue::Client {
        aws_sdk_glue::Client::new(&self.sdk_config().await)
    }

    /// Keeps Glue job runs `STARTING` (instead of finishing at once, moto's
    /// default) until described `times` times, so concurrent-run limits bite.
    /// Server-wide: every test on this server sees it.
    pub fn hold_glue_job_runs(&self, times: u32) {
        let body = serde_json::json!({
            "model_name": "glue::job_run",
            "transition": {"progression": "manual", "times": times},
        });
        self.post("/moto-api/state-manager/set-transition", &body.to_string());
    }

    /// Keeps Glue crawls `RUNNING` (instead of completing at once, moto's
    /// default) until described `times` times, so a second start finds the
    /// crawler running. Server-wide: every test on this server sees it.
    pub fn hold_glue_crawls(&self, times: u32) {
        let body = serde_json::json!({
            "model_name": "glue::crawl",
            "transition": {"progression": "manual", "times": times},
        });
        self.post("/moto-api/state-manager/set-transition", &body.to_string());
    }

    /// POSTs JSON to moto's own API and asserts a 2xx answer.
    fn post(&self, path: &str, body: &str) {
        use std::io::{Read, Write};
        let host = self.endpoint.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(host).expect("connect to moto");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("set a read timeout");
        let request = format!(
            "POST {path} HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).expect("send to moto");
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .expect("read moto's answer");
        let status = answer.split_whitespace().nth(1).unwrap_or_default();
        assert!(status.starts_with('2'), "POST {path}: {answer}");
    }
}

/// A new Glue job (a placeholder script) allowing `max_concurrent_runs` runs at once.
pub async fn glue_job(client: &aws_sdk_glue::Client, max_concurrent_runs: i32) -> String {
    use aws_sdk_glue::types::{ExecutionProperty, JobCommand};
    let name = unique("catalog");
    client
        .create_job()
        .name(&name)
        .role("arn:aws:iam::123456789012:role/tributary-glue")
        .command(
            JobCommand::builder()
                .name("glueetl")
                .script_location("s3://tributary-scripts/catalog.py")
                .build(),
        )
        .execution_property(
            ExecutionProperty::builder()
                .max_concurrent_runs(max_concurrent_runs)
                .build(),
        )
        .send()
        .await
        .expect("create a Glue job");
    name
}

/// A new Glue crawler over an S3 path.
pub async fn glue_crawler(client: &aws_sdk_glue::Client) -> String {
    use aws_sdk_glue::types::{CrawlerTargets, S3Target};
    let name = unique("crawler");
    client
        .create_crawler()
        .name(&name)
        .role("arn:aws:iam::123456789012:role/tributary-glue")
        .database_name("tributary")
        .targets(
            CrawlerTargets::builder()
                .s3_targets(S3Target::builder().path("s3://tributary-raw/raw/").build())
                .build(),
        )
        .send()
        .await
        .expect("create a Glue crawler");
    name
}

/// A new SNS topic and a queue subscribed to it: (topic ARN, queue URL). moto
/// delivers no email; the queue receives what an email subscriber would, in
/// SNS's JSON envelope (see [`notification_from_envelope`]).
pub async fn topic_with_inbox(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
) -> (String, String) {
    let topic = sns
        .create_topic()
        .name(unique("alerts"))
        .send()
        .await
        .expect("create the topic")
        .topic_arn
        .expect("its topic ARN");
    let url = sqs
        .create_queue()
        .queue_name(unique("alerts-inbox"))
        .send()
        .await
        .expect("create the inbox queue")
        .queue_url
        .expect("its queue URL");
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(queue_arn(sqs, &url).await)
        .send()
        .await
        .expect("subscribe the inbox to the topic");
    (topic, url)
}

/// A notification as an email subscriber sees it, from SNS's JSON envelope.
pub fn notification_from_envelope(body: &str) -> tributary::ports::Notification {
    let envelope: serde_json::Value = serde_json::from_str(body).expect("an SNS envelope is JSON");
    assert_eq!(envelope["Type"], "Notification", "{envelope}");
    let attr = |name: &str| {
        envelope["MessageAttributes"][name]["Value"]
            .as_str()
            .expect("a string message attribute")
            .to_owned()
    };
    tributary::ports::Notification {
        subject: envelope["Subject"]
            .as_str()
            .expect("the envelope's Subject")
            .to_owned(),
        body: envelope["Message"]
            .as_str()
            .expect("the envelope's Message")
            .to_owned(),
        tenant: attr("tenant"),
        severity: serde_json::from_value(serde_json::Value::String(attr("severity")))
            .expect("a known severity"),
        event: attr("event"),
    }
}
