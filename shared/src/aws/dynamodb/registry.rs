//! The registry store in the ledger's DynamoDB table.
//!
//! Item layout, all under `pk` = `registry`:
//! - `sk` = `v#` + the version zero-padded to ten digits: one item per version,
//!   never changed once written: `version`, `syntax` (`yaml`/`json`), `text`
//!   (as pushed) and `stored_at` (RFC 3339);
//! - `sk` = `current`: the pointer to the newest version (`version`).
//!
//! A push reads the pointer (strongly consistent) and writes the new version
//! item and the moved pointer in one transaction, on condition that the
//! pointer still holds the version read (or is absent for the first push) and
//! the version item does not exist. Of two concurrent pushes one commits, the
//! other is cancelled and reported as `Conflict`. A text above
//! [`MAX_DYNAMO_REGISTRY_BYTES`] is refused: an item holds at most 400 KB.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chrono::{DateTime, SecondsFormat, Utc};

use super::{Item, PK, SK, s};
use crate::aws::{ErrorClass, classify, code, describe};
use crate::ports::registry_store::{RegistryStore, RegistryStoreError, StoredRegistry, check_push};
use crate::registry::Syntax;

/// The largest registry text stored: DynamoDB's 400 KB item limit less 8 KiB
/// for the key and the other attributes.
pub const MAX_DYNAMO_REGISTRY_BYTES: u64 = 400 * 1024 - 8 * 1024;

const PARTITION: &str = "registry";
const CURRENT: &str = "current";
const VERSION: &str = "version";
const SYNTAX: &str = "syntax";
const TEXT: &str = "text";
const STORED_AT: &str = "stored_at";

/// Registry versions in the ledger's table.
#[derive(Debug, Clone)]
pub struct DynamoRegistryStore {
    client: Client,
    table: String,
}

fn key(sk: String) -> Item {
    HashMap::from([(PK.to_owned(), s(PARTITION)), (SK.to_owned(), s(sk))])
}

fn version_sk(version: u64) -> String {
    format!("v#{version:010}")
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

impl DynamoRegistryStore {
    /// The store on `table` (the ledger's), through `client` (built once per
    /// container).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoRegistryStore {
            client,
            table: table.into(),
        }
    }

    fn corrupt(&self, reason: String) -> RegistryStoreError {
        RegistryStoreError::Corrupt {
            location: format!("table {}", self.table),
            reason,
        }
    }

    /// Maps an SDK error: transient trouble is `Unavailable`; a missing table
    /// or no permission is a broken deployment, reported as `Corrupt`.
    fn error<E>(
        &self,
        op: &'static str,
        err: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    ) -> RegistryStoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match classify(&err) {
            ErrorClass::Transient => RegistryStoreError::Unavailable {
                op,
                source: Box::new(err),
            },
            ErrorClass::Denied | ErrorClass::Refused => {
                self.corrupt(format!("{op}: {}", describe(&err)))
            }
        }
    }

    async fn read(&self, sk: String, op: &'static str) -> Result<Option<Item>, RegistryStoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error(op, e))?;
        Ok(out.item)
    }

    fn number(&self, item: &Item, what: &str) -> Result<u64, RegistryStoreError> {
        item.get(VERSION)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| self.corrupt(format!("the {what} item has no numeric `{VERSION}`")))
    }

    /// The version the pointer names, 0 when nothing was pushed.
    async fn current_version(&self) -> Result<u64, RegistryStoreError> {
        match self.read(CURRENT.to_owned(), "read current").await? {
            Some(item) => self.number(&item, "current"),
            None => Ok(0),
        }
    }

    fn parse(&self, version: u64, item: &Item) -> Result<StoredRegistry, RegistryStoreError> {
        let what = format!("registry version {version}");
        let text = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .ok_or_else(|| self.corrupt(format!("the {what} item has no `{name}` string")))
        };
        let stored = self.number(item, &what)?;
        if stored != version {
            return Err(self.corrupt(format!("the {what} item says version {stored}")));
        }
        let tag = text(SYNTAX)?;
        let syntax = Syntax::from_extension(tag)
            .ok_or_else(|| self.corrupt(format!("the {what} item has syntax {tag:?}")))?;
        let stored_at = DateTime::parse_from_rfc3339(text(STORED_AT)?)
            .map_err(|e| self.corrupt(format!("the {what} item's `{STORED_AT}`: {e}")))?
            .with_timezone(&Utc);
        Ok(StoredRegistry {
            version,
            syntax,
            text: text(TEXT)?.to_owned(),
            stored_at,
        })
    }

    /// A put of `item` in a transaction: if the item is absent when `after`
    /// is 0, else if its `version` is still `after`.
    fn put(&self, item: Item, after: u64) -> Result<TransactWriteItem, RegistryStoreError> {
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        // DynamoDB refuses attribute names an expression does not use.
        let put = if after == 0 {
            put.condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
        } else {
            put.condition_expression("#version = :after")
                .expression_attribute_names("#version", VERSION)
                .expression_attribute_values(":after", n(after))
        };
        let put = put.build().map_err(|e| self.corrupt(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Whether a failed transaction lost to a concurrent write (as opposed to
    /// failing for another reason).
    fn lost_race(
        err: &SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
    ) -> bool {
        if code(err) == "TransactionConflictException" {
            return true;
        }
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            err.as_service_error()
        else {
            return false;
        };
        cancelled.cancellation_reasons().iter().any(|reason| {
            matches!(
                reason.code(),
                Some("ConditionalCheckFailed" | "TransactionConflict")
            )
        })
    }
}

impl RegistryStore for DynamoRegistryStore {
    async fn current(&self) -> Result<Option<StoredRegistry>, RegistryStoreError> {
        let version = self.current_version().await?;
        if version == 0 {
            return Ok(None);
        }
        match self.get(version).await? {
            Some(stored) => Ok(Some(stored)),
            None => Err(self.corrupt(format!(
                "`{CURRENT}` names version {version}, which has no item"
            ))),
        }
    }

    async fn push(
        &self,
        syntax: Syntax,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, RegistryStoreError> {
        check_push(
            syntax,
            text,
            MAX_DYNAMO_REGISTRY_BYTES,
            "a DynamoDB item holds at most 400 KB",
        )?;
        let current = self.current_version().await?;
        let version = current + 1;

        let mut item = key(version_sk(version));
        item.insert(VERSION.to_owned(), n(version));
        item.insert(SYNTAX.to_owned(), s(syntax.extension()));
        item.insert(TEXT.to_owned(), s(text));
        item.insert(
            STORED_AT.to_owned(),
            s(now.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        );
        // A version item is written once; the pointer moves from `current`.
        let new_version = self.put(item, 0)?;
        let mut pointer = key(CURRENT.to_owned());
        pointer.insert(VERSION.to_owned(), n(version));
        let moved_pointer = self.put(pointer, current)?;

        let result = self
            .client
            .transact_write_items()
            .transact_items(new_version)
            .transact_items(moved_pointer)
            .send()
            .await;
        match result {
            Ok(_) => Ok(version),
            Err(e) if Self::lost_race(&e) => Err(RegistryStoreError::Conflict { version }),
            Err(e) => Err(self.error("push", e)),
        }
    }

    async fn get(&self, version: u64) -> Result<Option<StoredRegistry>, RegistryStoreError> {
        self.read(version_sk(version), "read version")
            .await?
            .map(|item| self.parse(version, &item))
            .transpose()
    }
}

impl super::DynamoLedger {
    /// The registry store in this ledger's table, on the same client.
    pub fn registry_store(&self) -> DynamoRegistryStore {
        DynamoRegistryStore::new(self.client.clone(), self.table.clone())
    }
}
