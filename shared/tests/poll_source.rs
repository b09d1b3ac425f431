//! One poll of one source ([`poll_source`]) against the embedded libunftp server,
//! with the local ledger and queue: stability across polls, dedupe, batching,
//! claims released when their message cannot be sent, the deadline, paused
//! sources and a refused login.

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{Duration, Utc};
use tributary::failure::FailureKind;
use tributary::ftp::embedded::{EmbeddedFtpOptions, EmbeddedFtpServer};
use tributary::ftp::{FtpConnector, Password};
use tributary::local::{
    FileJobTrigger, FileLedger, FileNotifier, FileRegistryStore, FsObjectStore, MemoryQueue,
};
use tributary::poll::source_poll::{PollContext, PollSettings, poll_source};
use tributary::poll::walk::WalkLimits;
use tributary::ports::clock::{ManualClock, SystemClock};
use tributary::ports::messages::FileDiscovered;
use tributary::ports::work_queue::{DeadLetter, OutgoingMessage, QueueError, Received, WorkQueue};
use tributary::ports::{Backends, FileState, Ledger};
use tributary::registry::{Registry, SecretRef};
use tributary::secrets::{SecretError, SecretStore, SecretValue};

const PASSWORD: &str = "poll-pw";
const FILES: usize = 25;

/// The one password the test server takes, for any reference.
struct Fixed(&'static str);

impl SecretStore for Fixed {
    async fn resolve(&self, _: &SecretRef) -> Result<SecretValue, SecretError> {
        Ok(SecretValue::new(self.0))
    }
}

fn registry(port: u16, paused: bool) -> Registry {
    let yaml = format!(
        r#"
version: 1
tenants:
  - id: acme
    sources:
      - id: acme-ftp
        host: 127.0.0.1
        port: {port}
        protocol: ftp
        username: u
        password: {{secrets_manager: tributary/acme/ftp}}
        directories: [/in]
        paused: {paused}
        rules:
          - id: orders
            match: {{glob: "/in/*.csv"}}
            dataset: orders
            format: csv
"#
    );
    let registry = Registry::from_yaml_str(&yaml).unwrap();
    registry.validate().unwrap();
    registry
}

async fn server(root: &std::path::Path) -> EmbeddedFtpServer {
    std::fs::create_dir_all(root.join("in")).unwrap();
    for i in 0..FILES {
        std::fs::write(root.join(format!("in/f{i:02}.csv")), "id\n1\n").unwrap();
    }
    std::fs::write(root.join("in/notes.txt"), "not matched").unwrap();
    EmbeddedFtpServer::start(
        EmbeddedFtpOptions::new(root).credentials("u", Password::new(PASSWORD)),
    )
    .await
    .unwrap()
}

/// The local adapters, with the ingest queue `Q` (the memory queue, or one that
/// fails on purpose).
struct Local<Q>(PhantomData<Q>);

impl<Q: WorkQueue + Send + Sync + 'static> Backends for Local<Q> {
    type Ledger = FileLedger;
    type Registry = FileRegistryStore;
    type Queue = Q;
    type Store = FsObjectStore;
    type Notifier = FileNotifier;
    type Secrets = Fixed;
    type Jobs = FileJobTrigger;
    type Clock = SystemClock;
    type Sources = FtpConnector;
}

/// What a poll reaches the outside through, on the local adapters.
fn context<'a, Q: WorkQueue + Send + Sync + 'static>(
    ledger: &'a FileLedger,
    queue: &'a Q,
    secrets: &'a Fixed,
    sources: &'a FtpConnector,
) -> PollContext<'a, Local<Q>> {
    PollContext {
        ledger,
        ingest_queue: queue,
        secrets,
        sources,
    }
}

fn queue() -> MemoryQueue {
    MemoryQueue::new("ingest", 5, Arc::new(ManualClock::new(Utc::now())))
}

async fn drain(queue: &impl WorkQueue) -> Vec<Received> {
    let mut all = Vec::new();
    loop {
        let got = queue.receive(10, Duration::minutes(5)).await.unwrap();
        if got.is_empty() {
            return all;
        }
        all.extend(got);
    }
}

#[tokio::test]
async fn files_are_sent_once_stable_and_never_twice() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let registry = registry(server.port(), false);
    let (tenant, source) = (&registry.tenants[0], &registry.tenants[0].sources[0]);
    let ledger = FileLedger::in_memory();
    let queue = queue();
    let ctx_secrets = Fixed(PASSWORD);
    let sources = FtpConnector::default();
    let ctx = context(&ledger, &queue, &ctx_secrets, &sources);
    let t0 = Utc::now();
    let first = poll_source(&ctx, tenant, source, t0, PollSettings::default())
        .await
        .unwrap();
    assert_eq!(
        (first.listed, first.matched, first.ready),
        (FILES + 1, FILES, 0)
    );
    assert_eq!(first.not_yet, FILES);
    assert_eq!(first.sent, 0);
    assert!(first.complete);
    assert!(drain(&queue).await.is_empty());

    let second = poll_source(
        &ctx,
        tenant,
        source,
        t0 + Duration::minutes(5),
        PollSettings::default(),
    )
    .await
    .unwrap();
    assert_eq!((second.ready, second.known, second.sent), (FILES, 0, FILES));
    let sent = drain(&queue).await;
    assert_eq!(sent.len(), FILES);
    let message = FileDiscovered::decode(&sent[0].body).unwrap();
    assert_eq!(
        (message.tenant.as_str(), message.rule.as_str()),
        ("acme", "orders")
    );
    assert_eq!(sent[0].attributes["source"], "acme-ftp");
    assert!(message.mtime.is_some(), "MDTM made the listed time exact");
    let record = ledger.get(&message.version()).await.unwrap().unwrap();
    assert_eq!(record.state, FileState::Discovered);

    let third = poll_source(
        &ctx,
        tenant,
        source,
        t0 + Duration::minutes(10),
        PollSettings::default(),
    )
    .await
    .unwrap();
    assert_eq!((third.ready, third.known, third.sent), (FILES, FILES, 0));
    assert!(drain(&queue).await.is_empty());
}

/// A queue whose batches of more than one message fail, and whose single
/// sends fail while `down` is set.
struct Flaky {
    inner: MemoryQueue,
    down: AtomicBool,
}

impl WorkQueue for Flaky {
    async fn send_batch(&self, messages: &[OutgoingMessage]) -> Result<(), QueueError> {
        if messages.len() > 1 || self.down.load(Ordering::SeqCst) {
            return Err(QueueError::Unavailable {
                queue: "flaky".into(),
                op: "send",
                source: "injected".into(),
            });
        }
        self.inner.send_batch(messages).await
    }
    async fn receive(&self, max: usize, v: Duration) -> Result<Vec<Received>, QueueError> {
        self.inner.receive(max, v).await
    }
    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.inner.delete(receipt).await
    }
    async fn extend_visibility(&self, receipt: &str, v: Duration) -> Result<(), QueueError> {
        self.inner.extend_visibility(receipt, v).await
    }
    async fn dead_letter(&self, m: &Received, k: FailureKind, r: &str) -> Result<(), QueueError> {
        self.inner.dead_letter(m, k, r).await
    }
    async fn receive_dead_letters(
        &self,
        max: usize,
        v: Duration,
    ) -> Result<Vec<DeadLetter>, QueueError> {
        self.inner.receive_dead_letters(max, v).await
    }
    async fn redrive(&self, m: &DeadLetter) -> Result<(), QueueError> {
        self.inner.redrive(m).await
    }
    async fn return_dead_letter(&self, receipt: &str) -> Result<(), QueueError> {
        self.inner.return_dead_letter(receipt).await
    }
}

#[tokio::test]
async fn claims_whose_message_cannot_be_sent_are_released_for_the_next_poll() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let registry = registry(server.port(), false);
    let (tenant, source) = (&registry.tenants[0], &registry.tenants[0].sources[0]);
    let ledger = FileLedger::in_memory();
    let flaky = Flaky {
        inner: queue(),
        down: AtomicBool::new(false),
    };
    let ctx_secrets = Fixed(PASSWORD);
    let sources = FtpConnector::default();
    let ctx = context(&ledger, &flaky, &ctx_secrets, &sources);
    let t0 = Utc::now();
    poll_source(&ctx, tenant, source, t0, PollSettings::default())
        .await
        .unwrap();

    // Batches fail but single sends work: every message still goes, one by one.
    let report = poll_source(
        &ctx,
        tenant,
        source,
        t0 + Duration::minutes(5),
        PollSettings::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.sent, FILES);
    assert_eq!(drain(&flaky).await.len(), FILES);

    // New files while the queue is down, more than one batch of them (sent
    // at once): every claim is released, both batches' releases add up in the
    // error, the poll fails (transient), and the next poll sends them all.
    const LATE: usize = 15;
    for i in 0..LATE {
        std::fs::write(dir.path().join(format!("in/late-{i:02}.csv")), "id\n1\n").unwrap();
    }
    poll_source(
        &ctx,
        tenant,
        source,
        t0 + Duration::minutes(10),
        PollSettings::default(),
    )
    .await
    .unwrap();
    flaky.down.store(true, Ordering::SeqCst);
    let error = poll_source(
        &ctx,
        tenant,
        source,
        t0 + Duration::minutes(15),
        PollSettings::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), FailureKind::Transient);
    assert!(
        error.to_string().contains("15 claim(s) released"),
        "{error}"
    );
    assert!(!error.to_string().contains("redrive"), "{error}");
    flaky.down.store(false, Ordering::SeqCst);
    let report = poll_source(
        &ctx,
        tenant,
        source,
        t0 + Duration::minutes(20),
        PollSettings::default(),
    )
    .await
    .unwrap();
    assert_eq!((report.sent, report.known), (LATE, FILES));
    let mut sent: Vec<String> = drain(&flaky)
        .await
        .iter()
        .map(|m| FileDiscovered::decode(&m.body).unwrap().path)
        .collect();
    sent.sort();
    let expected: Vec<String> = (0..LATE).map(|i| format!("/in/late-{i:02}.csv")).collect();
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn deadlines_paused_sources_and_refused_logins() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let ledger = FileLedger::in_memory();
    let queue = queue();
    let registry = registry(server.port(), false);
    let (tenant, source) = (&registry.tenants[0], &registry.tenants[0].sources[0]);
    let ctx_secrets = Fixed(PASSWORD);
    let sources = FtpConnector::default();
    let ctx = context(&ledger, &queue, &ctx_secrets, &sources);

    let out_of_time = PollSettings {
        walk: WalkLimits {
            deadline: Some(tokio::time::Instant::now()),
            ..WalkLimits::default()
        },
        ..PollSettings::default()
    };
    let report = poll_source(&ctx, tenant, source, Utc::now(), out_of_time)
        .await
        .unwrap();
    assert!(!report.complete);
    assert!(report.partial.unwrap().contains("out of time"));
    assert_eq!(report.listed, 0);

    let paused = registry_paused(server.port());
    let report = poll_source(
        &ctx,
        &paused.tenants[0],
        &paused.tenants[0].sources[0],
        Utc::now(),
        PollSettings::default(),
    )
    .await
    .unwrap();
    assert!(report.paused);
    assert_eq!(report.listed, 0);

    let wrong_secrets = Fixed("not-the-password");
    let sources = FtpConnector::default();
    let wrong = context(&ledger, &queue, &wrong_secrets, &sources);
    let error = poll_source(&wrong, tenant, source, Utc::now(), PollSettings::default())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), FailureKind::Misconfigured, "{error}");
    assert!(!error.to_string().contains("not-the-password"));
}

fn registry_paused(port: u16) -> Registry {
    registry(port, true)
}

#[tokio::test]
async fn a_claim_whose_message_was_lost_is_announced_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let registry = registry(server.port(), false);
    let (tenant, source) = (&registry.tenants[0], &registry.tenants[0].sources[0]);
    let ledger = FileLedger::in_memory();
    let queue = queue();
    let ctx_secrets = Fixed(PASSWORD);
    let sources = FtpConnector::default();
    let ctx = context(&ledger, &queue, &ctx_secrets, &sources);
    let t0 = Utc::now();
    poll_source(&ctx, tenant, source, t0, PollSettings::default())
        .await
        .unwrap();
    poll_source(
        &ctx,
        tenant,
        source,
        t0 + Duration::minutes(5),
        PollSettings::default(),
    )
    .await
    .unwrap();
    // The messages are lost (never delivered): drain them away.
    let lost = drain(&queue).await;
    assert_eq!(lost.len(), FILES);

    // Within the hour nothing is re-sent; after it, every stale claim is.
    let soon = poll_source(
        &ctx,
        tenant,
        source,
        t0 + Duration::minutes(30),
        PollSettings::default(),
    )
    .await
    .unwrap();
    assert_eq!((soon.sent, soon.reannounced), (0, 0));
    let later = poll_source(
        &ctx,
        tenant,
        source,
        t0 + Duration::minutes(70),
        PollSettings::default(),
    )
    .await
    .unwrap();
    assert_eq!((later.sent, later.reannounced), (FILES, FILES));
    let again = drain(&queue).await;
    assert_eq!(again.len(), FILES);
    let message = FileDiscovered::decode(&again[0].body).unwrap();
    let record = ledger.get(&message.version()).await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts), (FileState::Discovered, 0));
    assert_eq!(record.discovered_at, t0 + Duration::minutes(70));
    // Announced once: the next poll finds them fresh.
    let next = poll_source(
        &ctx,
        tenant,
        source,
        t0 + Duration::minutes(75),
        PollSettings::default(),
    )
    .await
    .unwrap();
    assert_eq!(next.sent, 0);
}
