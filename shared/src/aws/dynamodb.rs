//! The ledger on DynamoDB: one table, one item per file version.
//!
//! Item layout (attribute names are the constants below):
//! - `pk` = `file#` + the JSON array `[source, path]` (unambiguous whatever the
//!   characters), `sk` = the version key `SIZE@MTIME`;
//! - `record`: the [`FileRecord`] as JSON, the item's truth;
//! - `rev`: a revision number every write increments;
//! - `state`, `tenant_state` (`STATE#TENANT`) and `updated` (fixed-width UTC,
//!   so it sorts as text): the `by_tenant_state` GSI serves "files of tenant T
//!   in state S, newest first" (`by_state`), and, with a key condition on
//!   `updated`, "… changed at or after a time" (`by_state_since`).
//!
//! Every write is conditional. `claim` puts with `attribute_not_exists(pk)`
//! (`claim_all`: up to 100 such puts in one `TransactWriteItems`);
//! a transition reads the item (strongly consistent), decides in Rust exactly as
//! the port documents, and puts the result (or, for `release`, deletes the
//! item) on condition that `rev` is still the one it read, re-reading if
//! another writer got there first. So two pollers, or two ingesters, never both
//! win. `known` is `BatchGetItem` in chunks of 100 keys, retrying unprocessed
//! keys with backoff.
//!
//! The same table holds the poller's observations (`observations.rs`: items
//! under `obs#…` that expire through the table's TTL on [`EXPIRES_AT`]), the
//! registry's versions (`registry.rs`: [`DynamoRegistryStore`]) and the SLA
//! monitor's checkpoints and breaches (`sla.rs`: items under `sla#…`, active
//! breaches in the GSI under `sla_active#TENANT`).

use std::collections::{HashMap, HashSet};
use std::time::Duration as StdDuration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, Projection, ProjectionType, Put, PutRequest,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TimeToLiveSpecification,
    TransactWriteItem, WriteRequest,
};
use chrono::{DateTime, Duration, Utc};
use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::{ErrorClass, classify, code, describe};
use crate::ports::FileVersion;
use crate::ports::ledger::{
    Claim, Claims, FileRecord, FileState, Lease, Ledger, LedgerError, MAX_CLAIMS, NewFile, Outcome,
};

mod observations;
mod polls;
mod registry;
mod sla;

pub use registry::{DynamoRegistryStore, MAX_DYNAMO_REGISTRY_BYTES};

/// The partition key attribute.
pub const PK: &str = "pk";
/// The sort key attribute.
pub const SK: &str = "sk";
/// The GSI serving "files of tenant T in state S, newest first".
pub const BY_TENANT_STATE: &str = "by_tenant_state";
/// The GSI's partition key: `STATE#TENANT`.
pub const TENANT_STATE: &str = "tenant_state";
/// The GSI's sort key: the last state change, fixed-width UTC text.
pub const UPDATED: &str = "updated";
/// Epoch seconds after which DynamoDB's TTL may delete an item (observations).
pub const EXPIRES_AT: &str = "expires_at";
const RECORD: &str = "record";
const REV: &str = "rev";
const STATE: &str = "state";

/// The most keys one `BatchGetItem` takes.
const BATCH_GET_KEYS: usize = 100;
/// The most items one `BatchWriteItem` takes.
const BATCH_WRITE_ITEMS: usize = 25;
/// How many batch requests of one call are in flight at once: a poll of
/// 10,000 files reads 100 `BatchGetItem`s and writes 400 `BatchWriteItem`s,
/// which one after another would cost 500 round trips; eight at a time keeps
/// the burst small beside the table's capacity.
const BATCHES_IN_FLIGHT: usize = 8;
/// How often unprocessed keys or items of a batch are sent again.
const BATCH_RETRIES: u32 = 8;
/// How often a transition re-reads after losing a race to another writer.
const WRITE_RACES: u32 = 8;

/// A ledger on one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: Client,
    table: String,
}

/// What a transition decided: write the new record, delete the item, or
/// answer without writing.
enum Step<T> {
    Write(Box<FileRecord>, T),
    Delete(T),
    Answer(T),
}

fn pk(version: &FileVersion) -> String {
    let source_and_path = serde_json::json!([version.source, version.path]);
    format!("file#{source_and_path}")
}

fn updated(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn tenant_state(tenant: &str, state: FileState) -> String {
    format!("{}#{tenant}", state.name())
}

/// An item, or a key, as the SDK takes it.
type Item = HashMap<String, AttributeValue>;

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

impl DynamoLedger {
    /// A ledger on `table`, through `client` (built once per container).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoLedger {
            client,
            table: table.into(),
        }
    }

    /// Creates the table with its key schema and GSI, on-demand billing, and
    /// TTL on [`EXPIRES_AT`] (tests, the demo against a local emulator;
    /// deployments use the SAM template).
    pub async fn create_table(client: &Client, table: &str) -> Result<(), LedgerError> {
        let key = |name: &str, key_type: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
        };
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let corrupt = |e: aws_sdk_dynamodb::error::BuildError| LedgerError::Corrupt {
            location: table.to_owned(),
            reason: e.to_string(),
        };
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(BY_TENANT_STATE)
            .key_schema(key(TENANT_STATE, KeyType::Hash).map_err(corrupt)?)
            .key_schema(key(UPDATED, KeyType::Range).map_err(corrupt)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(corrupt)?;
        client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(PK, KeyType::Hash).map_err(corrupt)?)
            .key_schema(key(SK, KeyType::Range).map_err(corrupt)?)
            .attribute_definitions(attribute(PK).map_err(corrupt)?)
            .attribute_definitions(attribute(SK).map_err(corrupt)?)
            .attribute_definitions(attribute(TENANT_STATE).map_err(corrupt)?)
            .attribute_definitions(attribute(UPDATED).map_err(corrupt)?)
            .global_secondary_indexes(gsi)
            .send()
            .await
            .map_err(|e| error(table, "create table", e))?;
        // TTL can be set only once the table is active.
        client
            .wait_until_table_exists()
            .table_name(table)
            .wait(StdDuration::from_secs(120))
            .await
            .map_err(|e| LedgerError::Unavailable {
                op: "create table",
                source: Box::new(e),
            })?;
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name(EXPIRES_AT)
            .enabled(true)
            .build()
            .map_err(corrupt)?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| error(table, "enable TTL", e))?;
        Ok(())
    }

    fn key(version: &FileVersion) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (PK.to_owned(), s(pk(version))),
            (SK.to_owned(), s(version.version_key())),
        ])
    }

    fn item(
        &self,
        record: &FileRecord,
        rev: u64,
    ) -> Result<HashMap<String, AttributeValue>, LedgerError> {
        let json = serde_json::to_string(record).map_err(|e| self.corrupt(e.to_string()))?;
        let mut item = Self::key(&record.version);
        item.insert(RECORD.to_owned(), s(json));
        item.insert(REV.to_owned(), AttributeValue::N(rev.to_string()));
        item.insert(STATE.to_owned(), s(record.state.name()));
        item.insert(
            TENANT_STATE.to_owned(),
            s(tenant_state(&record.tenant, record.state)),
        );
        item.insert(UPDATED.to_owned(), s(updated(record.updated_at)));
        Ok(item)
    }

    fn corrupt(&self, reason: String) -> LedgerError {
        LedgerError::Corrupt {
            location: self.table.clone(),
            reason,
        }
    }

    /// The record and revision an item holds.
    fn parse(
        &self,
        item: &HashMap<String, AttributeValue>,
    ) -> Result<(FileRecord, u64), LedgerError> {
        let json = item
            .get(RECORD)
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| self.corrupt(format!("an item has no `{RECORD}` string")))?;
        let record: FileRecord = serde_json::from_str(json)
            .map_err(|e| self.corrupt(format!("an item's `{RECORD}` does not parse: {e}")))?;
        let rev = item
            .get(REV)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| self.corrupt(format!("an item has no numeric `{REV}`")))?;
        Ok((record, rev))
    }

    async fn read(&self, version: &FileVersion) -> Result<Option<(FileRecord, u64)>, LedgerError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(version)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| error(&self.table, "get", e))?;
        out.item().map(|item| self.parse(item)).transpose()
    }

    /// The items of `keys` that exist, with the attributes `projection` names:
    /// `BatchGetItem` in chunks of [`BATCH_GET_KEYS`], up to
    /// [`BATCHES_IN_FLIGHT`] at once, unprocessed keys asked again with
    /// backoff. The keys must be distinct (DynamoDB refuses duplicates in one
    /// request).
    async fn batch_get(
        &self,
        op: &'static str,
        keys: Vec<Item>,
        projection: &[&str],
    ) -> Result<Vec<Item>, LedgerError> {
        let names: Vec<String> = (0..projection.len()).map(|i| format!("#a{i}")).collect();
        // Collected first: with a lazy `map` closure in the stream's type the
        // trait's future fails the compiler's `Send` check ("implementation of
        // `FnOnce` is not general enough").
        let chunks: Vec<_> = keys
            .chunks(BATCH_GET_KEYS)
            .map(|chunk| self.batch_get_chunk(op, chunk.to_vec(), &names, projection))
            .collect();
        let found: Vec<Vec<Item>> = stream::iter(chunks)
            .buffer_unordered(BATCHES_IN_FLIGHT)
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// One `BatchGetItem` of at most [`BATCH_GET_KEYS`] keys, and its retries.
    async fn batch_get_chunk(
        &self,
        op: &'static str,
        mut pending: Vec<Item>,
        names: &[String],
        projection: &[&str],
    ) -> Result<Vec<Item>, LedgerError> {
        let mut found = Vec::new();
        let mut attempt = 0;
        loop {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .projection_expression(names.join(", "))
                .set_expression_attribute_names(Some(
                    names
                        .iter()
                        .cloned()
                        .zip(projection.iter().map(|a| (*a).to_owned()))
                        .collect(),
                ))
                .build()
                .map_err(|e| self.corrupt(e.to_string()))?;
            let mut out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| error(&self.table, op, e))?;
            if let Some(items) = out.responses.as_mut().and_then(|r| r.remove(&self.table)) {
                found.extend(items);
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if pending.is_empty() {
                return Ok(found);
            }
            attempt += 1;
            back_off(op, attempt, pending.len(), "keys").await?;
        }
    }

    /// Puts `items` with `BatchWriteItem` in chunks of [`BATCH_WRITE_ITEMS`],
    /// up to [`BATCHES_IN_FLIGHT`] at once, unprocessed items sent again with
    /// backoff. The items' keys must be distinct. Unconditional: for data that
    /// a later write simply replaces (so a failure part way, which leaves some
    /// chunks written, is harmless).
    async fn batch_put(&self, op: &'static str, items: Vec<Item>) -> Result<(), LedgerError> {
        let chunks: Vec<_> = items
            .chunks(BATCH_WRITE_ITEMS)
            .map(|chunk| self.batch_put_chunk(op, chunk.to_vec()))
            .collect();
        stream::iter(chunks)
            .buffer_unordered(BATCHES_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// One `BatchWriteItem` of at most [`BATCH_WRITE_ITEMS`] puts, and its retries.
    async fn batch_put_chunk(&self, op: &'static str, chunk: Vec<Item>) -> Result<(), LedgerError> {
        let mut pending = chunk
            .into_iter()
            .map(|item| {
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| self.corrupt(e.to_string()))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, LedgerError>>()?;
        let mut attempt = 0;
        loop {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, std::mem::take(&mut pending))
                .send()
                .await
                .map_err(|e| error(&self.table, op, e))?;
            pending = out
                .unprocessed_items
                .and_then(|mut u| u.remove(&self.table))
                .unwrap_or_default();
            if pending.is_empty() {
                return Ok(());
            }
            attempt += 1;
            back_off(op, attempt, pending.len(), "items").await?;
        }
    }

    /// Reads the item, lets `decide` choose, and writes the new record (or
    /// deletes the item) on condition that no one else wrote in between (else
    /// reads again). An absent item is `NotFound`.
    async fn transition<T>(
        &self,
        op: &'static str,
        version: &FileVersion,
        decide: impl FnMut(FileRecord) -> Result<Step<T>, LedgerError>,
    ) -> Result<T, LedgerError> {
        self.transition_or(op, version, || Err(LedgerError::not_found(version)), decide)
            .await
    }

    /// [`Self::transition`], answering `absent()` when there is no item (or
    /// no longer one, after a lost race).
    async fn transition_or<T>(
        &self,
        op: &'static str,
        version: &FileVersion,
        absent: impl Fn() -> Result<T, LedgerError>,
        mut decide: impl FnMut(FileRecord) -> Result<Step<T>, LedgerError>,
    ) -> Result<T, LedgerError> {
        for _ in 0..WRITE_RACES {
            let Some((record, rev)) = self.read(version).await? else {
                return absent();
            };
            let expected = AttributeValue::N(rev.to_string());
            let (raced, answer) = match decide(record)? {
                Step::Answer(answer) => return Ok(answer),
                Step::Write(next, answer) => {
                    let result = self
                        .client
                        .put_item()
                        .table_name(&self.table)
                        .set_item(Some(self.item(&next, rev + 1)?))
                        .condition_expression("#rev = :rev")
                        .expression_attribute_names("#rev", REV)
                        .expression_attribute_values(":rev", expected)
                        .send()
                        .await;
                    (lost_race(&self.table, op, result)?, answer)
                }
                Step::Delete(answer) => {
                    let result = self
                        .client
                        .delete_item()
                        .table_name(&self.table)
                        .set_key(Some(Self::key(version)))
                        .condition_expression("#rev = :rev")
                        .expression_attribute_names("#rev", REV)
                        .expression_attribute_values(":rev", expected)
                        .send()
                        .await;
                    (lost_race(&self.table, op, result)?, answer)
                }
            };
            if !raced {
                return Ok(answer);
            }
        }
        Err(LedgerError::Unavailable {
            op,
            source: format!(
                "{}:{} changed under {WRITE_RACES} attempts in a row",
                version.source, version.path
            )
            .into(),
        })
    }
}

impl DynamoLedger {
    /// Up to `limit` items of `tenant` in `state` (changed at or after
    /// `since`), newest first: a Query on the `by_tenant_state` GSI, page
    /// after page.
    async fn query_tenant_state(
        &self,
        tenant: &str,
        state: FileState,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<FileRecord>, LedgerError> {
        let condition = match since {
            Some(_) => "#ts = :ts AND #u >= :since",
            None => "#ts = :ts",
        };
        let mut records = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        while records.len() < limit {
            let page = i32::try_from(limit - records.len()).unwrap_or(i32::MAX);
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_TENANT_STATE)
                .key_condition_expression(condition)
                .expression_attribute_names("#ts", TENANT_STATE)
                .expression_attribute_values(":ts", s(tenant_state(tenant, state)));
            if let Some(since) = since {
                query = query
                    .expression_attribute_names("#u", UPDATED)
                    .expression_attribute_values(":since", s(updated(since)));
            }
            let out = query
                .scan_index_forward(false)
                .limit(page)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| error(&self.table, "by state", e))?;
            for item in out.items() {
                records.push(self.parse(item)?.0);
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        records.truncate(limit);
        Ok(records)
    }
}

/// Waits before batch attempt `attempt` (exponential, from 100 ms up to
/// 3.2 s), or gives up once [`BATCH_RETRIES`] retries left `pending` keys or
/// items (`what`) unprocessed: the table is throttling us.
async fn back_off(
    op: &'static str,
    attempt: u32,
    pending: usize,
    what: &str,
) -> Result<(), LedgerError> {
    if attempt > BATCH_RETRIES {
        return Err(LedgerError::Unavailable {
            op,
            source: format!("{pending} {what} still unprocessed after {BATCH_RETRIES} retries")
                .into(),
        });
    }
    let backoff = 50u64.saturating_mul(1 << attempt.min(6));
    tokio::time::sleep(StdDuration::from_millis(backoff)).await;
    Ok(())
}

/// Whether a conditional write lost to another writer (`true`: read again);
/// other failures are errors.
fn lost_race<O, E>(
    table: &str,
    op: &'static str,
    result: Result<O, SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>>,
) -> Result<bool, LedgerError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(false),
        Err(e) if code(&e) == "ConditionalCheckFailedException" => Ok(true),
        Err(e) => Err(error(table, op, e)),
    }
}

/// Maps an SDK error onto the ledger errors: a missing table or no permission
/// is a broken deployment (reported as an unreadable store, misconfigured);
/// the rest is worth a retry.
fn error<E>(
    table: &str,
    op: &'static str,
    err: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> LedgerError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match classify(&err) {
        ErrorClass::Transient => LedgerError::Unavailable {
            op,
            source: Box::new(err),
        },
        ErrorClass::Denied | ErrorClass::Refused => LedgerError::Corrupt {
            location: format!("table {table}"),
            reason: format!("{op}: {}", describe(&err)),
        },
    }
}

/// Transactions tried for one chunk of claims before the files no transaction
/// settled are claimed one at a time.
const CLAIM_TRANSACTION_TRIES: usize = 3;

impl DynamoLedger {
    /// What a claim that found an item means: `old` is the item DynamoDB
    /// returned with the failed condition, if it did.
    async fn settle(
        &self,
        record: &FileRecord,
        old: Option<&HashMap<String, AttributeValue>>,
    ) -> Result<Claim, LedgerError> {
        let existing = match old {
            Some(item) => Some(self.parse(item)?.0),
            None => self
                .read(&record.version)
                .await?
                .map(|(existing, _)| existing),
        };
        Ok(match existing {
            // Our own item: the SDK retried a write whose first answer was lost
            // (a timeout after the write). Another poller's claim differs at
            // least in its `discovered_at`, taken to the nanosecond.
            Some(existing) if existing == *record => Claim::Claimed,
            Some(existing) => Claim::AlreadyKnown(existing.state),
            None => Claim::AlreadyKnown(FileState::Discovered),
        })
    }

    /// Claims up to [`MAX_CLAIMS`] files in one `TransactWriteItems`: every
    /// conditional put succeeds together, or the transaction is cancelled with
    /// a reason per put. A `ConditionalCheckFailed` put met an item (another
    /// poll's claim, or ours retried) and is settled as `claim` settles it; the
    /// others were not written and go in the next transaction. What
    /// [`CLAIM_TRANSACTION_TRIES`] transactions leave unsettled (conflicts with
    /// concurrent writers) is claimed one file at a time, as is a chunk naming
    /// one version twice (a transaction refuses two writes to one item).
    async fn claim_chunk(&self, files: &[NewFile]) -> Result<Vec<Claim>, LedgerError> {
        let records: Vec<FileRecord> = files.iter().cloned().map(FileRecord::discovered).collect();
        let distinct: HashSet<(String, String)> = records
            .iter()
            .map(|r| (pk(&r.version), r.version.version_key()))
            .collect();
        let mut settled: Vec<Option<Claim>> = vec![None; records.len()];
        if distinct.len() == records.len() && records.len() > 1 {
            for _ in 0..CLAIM_TRANSACTION_TRIES {
                let pending: Vec<usize> = (0..records.len())
                    .filter(|&i| settled.get(i).is_some_and(Option::is_none))
                    .collect();
                if pending.is_empty() {
                    break;
                }
                if !self
                    .claim_transaction(&records, &pending, &mut settled)
                    .await?
                {
                    break;
                }
            }
        }
        let mut claims = Vec::with_capacity(records.len());
        for (file, claim) in files.iter().zip(settled) {
            claims.push(match claim {
                Some(claim) => claim,
                None => self.claim(file.clone()).await?,
            });
        }
        Ok(claims)
    }

    /// One transaction over `records[pending]`; fills `settled` with what it
    /// decided. Returns whether it settled anything (if not, trying again is
    /// unlikely to do better).
    async fn claim_transaction(
        &self,
        records: &[FileRecord],
        pending: &[usize],
        settled: &mut [Option<Claim>],
    ) -> Result<bool, LedgerError> {
        let mut puts = Vec::with_capacity(pending.len());
        for &i in pending {
            let Some(record) = records.get(i) else {
                continue;
            };
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(self.item(record, 1)?))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build()
                .map_err(|e| self.corrupt(format!("building a claim: {e}")))?;
            puts.push(TransactWriteItem::builder().put(put).build());
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(puts))
            .send()
            .await;
        let err = match result {
            Ok(_) => {
                for &i in pending {
                    if let Some(slot) = settled.get_mut(i) {
                        *slot = Some(Claim::Claimed);
                    }
                }
                return Ok(true);
            }
            Err(err) => err,
        };
        let reasons = match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                cancelled.cancellation_reasons().to_vec()
            }
            _ => return Err(error(&self.table, "claim", err)),
        };
        let mut any = false;
        for (&i, reason) in pending.iter().zip(&reasons) {
            if reason.code() != Some("ConditionalCheckFailed") {
                // "None": not written because another put failed; a conflict
                // or throttling: tried again.
                continue;
            }
            let Some(record) = records.get(i) else {
                continue;
            };
            let claim = self.settle(record, reason.item()).await?;
            if let Some(slot) = settled.get_mut(i) {
                *slot = Some(claim);
                any = true;
            }
        }
        Ok(any)
    }
}

impl Ledger for DynamoLedger {
    async fn claim(&self, file: NewFile) -> Result<Claim, LedgerError> {
        let record = FileRecord::discovered(file);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.item(&record, 1)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Claim::Claimed),
            Err(err) => err,
        };
        if code(&err) != "ConditionalCheckFailedException" {
            return Err(error(&self.table, "claim", err));
        }
        let old = err
            .as_service_error()
            .and_then(|e| match e {
                aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => {
                    c.item().cloned()
                }
                _ => None,
            });
        self.settle(&record, old.as_ref()).await
    }

    async fn claim_all(&self, files: Vec<NewFile>) -> Claims {
        let mut claims = Vec::with_capacity(files.len());
        for chunk in files.chunks(MAX_CLAIMS) {
            match self.claim_chunk(chunk).await {
                Ok(chunk_claims) => claims.extend(chunk_claims),
                Err(error) => {
                    return Claims {
                        claims,
                        stopped: Some(error),
                    };
                }
            }
        }
        Claims {
            claims,
            stopped: None,
        }
    }

    async fn known(&self, versions: &[FileVersion]) -> Result<HashSet<FileVersion>, LedgerError> {
        // BatchGetItem refuses duplicate keys: ask each distinct key once.
        let mut by_key: HashMap<(String, String), &FileVersion> = HashMap::new();
        for version in versions {
            by_key.insert((pk(version), version.version_key()), version);
        }
        let keys = by_key
            .keys()
            .map(|(p, k)| HashMap::from([(PK.to_owned(), s(p)), (SK.to_owned(), s(k))]))
            .collect();
        let items = self.batch_get("known", keys, &[PK, SK]).await?;
        let mut known = HashSet::new();
        for item in &items {
            let key = (
                item.get(PK).and_then(|v| v.as_s().ok()),
                item.get(SK).and_then(|v| v.as_s().ok()),
            );
            if let (Some(p), Some(k)) = key
                && let Some(version) = by_key.get(&(p.clone(), k.clone()))
            {
                known.insert((*version).clone());
            }
        }
        Ok(known)
    }

    async fn get(&self, version: &FileVersion) -> Result<Option<FileRecord>, LedgerError> {
        Ok(self.read(version).await?.map(|(record, _)| record))
    }

    async fn take_lease(
        &self,
        version: &FileVersion,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Lease, LedgerError> {
        self.transition("take lease", version, |record| {
            Ok(match record.lease(owner, lease, now) {
                Lease::Taken(next) => Step::Write(next.clone(), Lease::Taken(next)),
                answer => Step::Answer(answer),
            })
        })
        .await
    }

    async fn finish(
        &self,
        version: &FileVersion,
        owner: &str,
        outcome: Outcome,
        now: DateTime<Utc>,
    ) -> Result<FileRecord, LedgerError> {
        self.transition("finish", version, |record| {
            let next = record.finished(owner, outcome.clone(), now)?;
            Ok(Step::Write(Box::new(next.clone()), next))
        })
        .await
    }

    async fn reset(
        &self,
        version: &FileVersion,
        now: DateTime<Utc>,
    ) -> Result<FileRecord, LedgerError> {
        self.transition("reset", version, |record| {
            let next = record.reset(now)?;
            Ok(Step::Write(Box::new(next.clone()), next))
        })
        .await
    }

    async fn release(&self, version: &FileVersion) -> Result<(), LedgerError> {
        self.transition_or(
            "release",
            version,
            || Ok(()),
            |record| {
                record.release()?;
                Ok(Step::Delete(()))
            },
        )
        .await
    }

    async fn set_job_run(
        &self,
        version: &FileVersion,
        run_id: &str,
        _now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.transition("set job run", version, |record| {
            Ok(Step::Write(Box::new(record.with_job_run(run_id)?), ()))
        })
        .await
    }

    async fn by_state(
        &self,
        tenant: &str,
        state: FileState,
        limit: usize,
    ) -> Result<Vec<FileRecord>, LedgerError> {
        self.query_tenant_state(tenant, state, None, limit).await
    }

    async fn by_state_since(
        &self,
        tenant: &str,
        state: FileState,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<FileRecord>, LedgerError> {
        self.query_tenant_state(tenant, state, Some(since), limit)
            .await
    }
}
