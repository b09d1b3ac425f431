//! The port contract suite (`contract/`) run against the `local` adapters, plus
//! what only the local adapters promise (files they leave, crash leftovers).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tributary::local::{
    FileJobTrigger, FileLedger, FileNotifier, FileRegistryStore, FsObjectStore, MemoryQueue,
};
use tributary::ports::{Clock, ManualClock, Notification};

use crate::{Inbox, TimeTravel};

struct Manual(Arc<ManualClock>);

impl TimeTravel for Manual {
    async fn advance(&self, by: Duration) {
        self.0.advance(by);
    }
}

struct NotifierFile<'a>(&'a FileNotifier);

impl Inbox for NotifierFile<'_> {
    async fn received(&self) -> Vec<Notification> {
        self.0
            .published()
            .unwrap()
            .into_iter()
            .map(|p| p.notification)
            .collect()
    }
}

fn start() -> DateTime<Utc> {
    "2024-05-01T00:00:00Z".parse().unwrap()
}

fn queue(max_receives: u32) -> (MemoryQueue, Manual) {
    let clock = Arc::new(ManualClock::new(start()));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    (
        MemoryQueue::new("ingest", max_receives, dyn_clock),
        Manual(clock),
    )
}

// Object store.

#[tokio::test]
async fn object_store_multipart_completes() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsObjectStore::new(dir.path());
    crate::object_store_multipart_completes(&store).await;
    // Completion leaves no staging behind.
    assert_eq!(
        std::fs::read_dir(dir.path().join("uploads"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
}

#[tokio::test]
async fn object_store_abort_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    crate::object_store_abort_leaves_nothing(&FsObjectStore::new(dir.path())).await;
    assert!(!dir.path().join("objects").exists());
}

#[tokio::test]
async fn object_store_put_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    crate::object_store_put_round_trips(&FsObjectStore::new(dir.path())).await;
}

#[tokio::test]
async fn object_store_refuses_small_middle_parts() {
    let dir = tempfile::tempdir().unwrap();
    crate::object_store_refuses_small_middle_parts(&FsObjectStore::new(dir.path())).await;
}

// Ledger: in memory and on disk (the on-disk one reopened afterwards must agree).

async fn on_disk_too<F, Fut>(scenario: F)
where
    F: Fn(FileLedger) -> Fut,
    Fut: std::future::Future<Output = FileLedger>,
{
    scenario(FileLedger::in_memory()).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = scenario(FileLedger::open(dir.path()).unwrap()).await;
    let reopened = FileLedger::open(dir.path()).unwrap();
    for state in [
        tributary::ports::FileState::Discovered,
        tributary::ports::FileState::Ingested,
        tributary::ports::FileState::Failed,
    ] {
        use tributary::ports::Ledger;
        for tenant in ["acme", "globex", "initech"] {
            assert_eq!(
                ledger.by_state(tenant, state, 1000).await.unwrap(),
                reopened.by_state(tenant, state, 1000).await.unwrap()
            );
        }
    }
}

#[tokio::test]
async fn ledger_claims_once() {
    on_disk_too(|l| async move {
        crate::ledger_claims_once(&l).await;
        l
    })
    .await;
}

#[tokio::test]
async fn ledger_claims_many_at_once() {
    on_disk_too(|l| async move {
        crate::ledger_claims_many_at_once(&l).await;
        l
    })
    .await;
}

#[tokio::test]
async fn ledger_leases() {
    on_disk_too(|l| async move {
        crate::ledger_leases(&l).await;
        l
    })
    .await;
}

#[tokio::test]
async fn ledger_refuses_illegal_transitions() {
    on_disk_too(|l| async move {
        crate::ledger_refuses_illegal_transitions(&l).await;
        l
    })
    .await;
}

#[tokio::test]
async fn ledger_known_is_batched_and_exact() {
    on_disk_too(|l| async move {
        crate::ledger_known_is_batched_and_exact(&l).await;
        l
    })
    .await;
}

#[tokio::test]
async fn ledger_by_state_is_newest_first() {
    on_disk_too(|l| async move {
        crate::ledger_by_state_is_newest_first(&l).await;
        l
    })
    .await;
}

#[tokio::test]
async fn ledger_by_state_since_is_bounded_by_the_last_change() {
    on_disk_too(|l| async move {
        crate::ledger_by_state_since_is_bounded_by_the_last_change(&l).await;
        l
    })
    .await;
}

#[tokio::test]
async fn ledger_releases_only_unleased_claims() {
    on_disk_too(|l| async move {
        crate::ledger_releases_only_unleased_claims(&l).await;
        l
    })
    .await;
}

#[tokio::test]
async fn ledger_release_races_a_lease() {
    on_disk_too(|l| async move {
        crate::ledger_release_races_a_lease(&l).await;
        l
    })
    .await;
}

#[tokio::test]
async fn observations_round_trip() {
    crate::observations_round_trip(&FileLedger::in_memory()).await;
    let dir = tempfile::tempdir().unwrap();
    crate::observations_round_trip(&FileLedger::open(dir.path()).unwrap()).await;
}

#[tokio::test]
async fn poll_log_keeps_each_sources_last_poll() {
    crate::poll_log_keeps_each_sources_last_poll(&FileLedger::in_memory()).await;
    let dir = tempfile::tempdir().unwrap();
    crate::poll_log_keeps_each_sources_last_poll(&FileLedger::open(dir.path()).unwrap()).await;
    // Reopened, the file has the same last polls.
    use tributary::ports::PollLog;
    let reopened = FileLedger::open(dir.path()).unwrap();
    let sources = ["acme-ftp".to_owned(), "globex-ftp".to_owned()];
    assert_eq!(reopened.last_polls(&sources).await.unwrap().len(), 2);
}

// Registry store: a fresh directory per test.

#[tokio::test]
async fn registry_store_pushes_and_keeps_versions() {
    let dir = tempfile::tempdir().unwrap();
    crate::registry_store_pushes_and_keeps_versions(&FileRegistryStore::new(dir.path())).await;
    // One file per version, the text exactly as pushed.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["registry-v0000000001.yaml", "registry-v0000000002.json"]
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join(&names[0])).unwrap(),
        crate::REGISTRY_YAML
    );
}

#[tokio::test]
async fn registry_store_refuses_invalid_registries() {
    let dir = tempfile::tempdir().unwrap();
    crate::registry_store_refuses_invalid_registries(&FileRegistryStore::new(dir.path())).await;
}

#[tokio::test]
async fn registry_store_refuses_too_large() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileRegistryStore::new(dir.path());
    crate::registry_store_refuses_too_large(&store, tributary::registry::MAX_REGISTRY_BYTES).await;
    assert!(!dir.path().join("registry-v0000000001.yaml").exists());
}

#[tokio::test]
async fn registry_store_concurrent_pushes_never_share_a_version() {
    let dir = tempfile::tempdir().unwrap();
    crate::registry_store_concurrent_pushes_never_share_a_version(&FileRegistryStore::new(
        dir.path(),
    ))
    .await;
}

/// Versions other writers left in the directory count: a push takes the next
/// number; a version present in both syntaxes (a push in the other syntax is
/// withdrawing) reads as a transient `Conflict`, never as either text.
#[tokio::test]
async fn registry_store_respects_versions_already_on_disk() {
    use tributary::failure::FailureKind;
    use tributary::ports::{RegistryStore, RegistryStoreError};
    use tributary::registry::Syntax;
    let dir = tempfile::tempdir().unwrap();
    let store = FileRegistryStore::new(dir.path());
    std::fs::write(dir.path().join("registry-v0000000001.json"), "{}").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a version").unwrap();
    let pushed = store
        .push(Syntax::Yaml, crate::REGISTRY_YAML, start())
        .await
        .unwrap();
    assert_eq!(pushed, 2);
    assert_eq!(store.get(1).await.unwrap().unwrap().text, "{}");

    std::fs::write(dir.path().join("registry-v0000000003.json"), "{}").unwrap();
    std::fs::write(dir.path().join("registry-v0000000003.yaml"), "x: 1").unwrap();
    for err in [
        store.current().await.unwrap_err(),
        store.get(3).await.unwrap_err(),
    ] {
        assert!(
            matches!(err, RegistryStoreError::Conflict { version: 3 }),
            "{err}"
        );
        assert_eq!(err.kind(), FailureKind::Transient);
    }
}

// Work queue.

/// Runs `scenario` on a queue in memory and on one kept in a file; the file,
/// reopened afterwards, must hold the same messages.
async fn queue_on_disk_too<F, Fut>(max_receives: u32, scenario: F)
where
    F: Fn(MemoryQueue, Manual) -> Fut,
    Fut: std::future::Future<Output = MemoryQueue>,
{
    let (queue, time) = queue(max_receives);
    scenario(queue, time).await;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queues/ingest.json");
    let clock = Arc::new(ManualClock::new(start()));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let queue = MemoryQueue::open(&path, "ingest", max_receives, dyn_clock.clone()).unwrap();
    let queue = scenario(queue, Manual(clock)).await;
    let reopened = MemoryQueue::open(&path, "ingest", max_receives, dyn_clock).unwrap();
    assert_eq!(queue.depths(), reopened.depths());
}

#[tokio::test]
async fn queue_visibility_and_delete() {
    queue_on_disk_too(5, |queue, time| async move {
        crate::queue_visibility_and_delete(&queue, &time).await;
        queue
    })
    .await;
}

#[tokio::test]
async fn queue_max_receives_dead_letters() {
    queue_on_disk_too(3, |queue, time| async move {
        crate::queue_max_receives_dead_letters(&queue, &time, 3).await;
        queue
    })
    .await;
}

#[tokio::test]
async fn queue_dead_letter_with_a_blank_reason() {
    queue_on_disk_too(5, |queue, _| async move {
        crate::queue_dead_letter_with_a_blank_reason(&queue).await;
        queue
    })
    .await;
}

#[tokio::test]
async fn queue_explicit_dead_letter_keeps_reason() {
    queue_on_disk_too(5, |queue, _| async move {
        crate::queue_explicit_dead_letter_keeps_reason(&queue).await;
        queue
    })
    .await;
}

#[tokio::test]
async fn queue_return_dead_letter_is_visible_at_once() {
    queue_on_disk_too(5, |queue, _| async move {
        crate::queue_return_dead_letter_is_visible_at_once(&queue).await;
        queue
    })
    .await;
}

#[test]
fn queue_file_that_is_not_a_queue_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ingest.json");
    std::fs::write(&path, "not json").unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(start()));
    let err = MemoryQueue::open(&path, "ingest", 5, clock).unwrap_err();
    assert!(err.to_string().contains("is not a queue file"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "not json");
}

// SLA store: the ledger's, in memory and on disk (reopened, it must agree).

async fn sla_on_disk_too<F, Fut>(scenario: F)
where
    F: Fn(FileLedger) -> Fut,
    Fut: std::future::Future<Output = FileLedger>,
{
    use tributary::ports::SlaStore;
    scenario(FileLedger::in_memory()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = scenario(FileLedger::open(dir.path()).unwrap()).await;
    let reopened = FileLedger::open(dir.path()).unwrap();
    let since: DateTime<Utc> = "2000-01-01T00:00:00Z".parse().unwrap();
    for tenant in ["acme", "globex"] {
        assert_eq!(
            store.active_breaches(tenant, since, 1000).await.unwrap(),
            reopened.active_breaches(tenant, since, 1000).await.unwrap()
        );
    }
    for rule in ["orders", "invoices"] {
        assert_eq!(
            store.checkpoint(rule).await.unwrap(),
            reopened.checkpoint(rule).await.unwrap()
        );
    }
}

#[tokio::test]
async fn sla_store_checkpoints_only_move_forward() {
    sla_on_disk_too(|s| async move {
        crate::sla_store_checkpoints_only_move_forward(&s).await;
        s
    })
    .await;
}

#[tokio::test]
async fn sla_store_opens_a_breach_once() {
    sla_on_disk_too(|s| async move {
        crate::sla_store_opens_a_breach_once(&s).await;
        s
    })
    .await;
}

#[tokio::test]
async fn sla_store_resolves_once_and_tracks_notices() {
    sla_on_disk_too(|s| async move {
        crate::sla_store_resolves_once_and_tracks_notices(&s).await;
        s
    })
    .await;
}

#[tokio::test]
async fn sla_store_lists_active_breaches_latest_first() {
    sla_on_disk_too(|s| async move {
        crate::sla_store_lists_active_breaches_latest_first(&s).await;
        s
    })
    .await;
}

// Notifier and job trigger.

#[tokio::test]
async fn notifier_preserves_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let notifier = FileNotifier::new(dir.path().join("notifications.jsonl"));
    crate::notifier_preserves_attributes(&notifier, &NotifierFile(&notifier)).await;
}

#[tokio::test]
async fn job_trigger_starts_and_refuses_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let trigger = FileJobTrigger::new(dir.path().join("runs.jsonl")).with_known_jobs(["orders"]);
    crate::job_trigger_starts_and_refuses_unknown(&trigger, "orders", "no_such_job").await;
    let runs = trigger.runs().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].arguments["--bucket"], "raw");
}

#[tokio::test]
async fn job_trigger_starts_crawlers() {
    let dir = tempfile::tempdir().unwrap();
    let trigger = FileJobTrigger::new(dir.path().join("runs.jsonl"))
        .with_known_crawlers(["tributary-orders"]);
    crate::job_trigger_starts_crawlers(&trigger, "tributary-orders", "no_such_crawler").await;
    // A local crawl finishes at once: both starts are recorded, next to the runs.
    let crawls = trigger.crawls().unwrap();
    assert_eq!(crawls.len(), 2);
    assert_eq!(crawls[0].crawler, "tributary-orders");
    assert_eq!(trigger.crawls_path(), dir.path().join("runs.crawls.jsonl"));
    assert!(trigger.runs().unwrap().is_empty());
}
