//! The SLA store in the ledger's DynamoDB table: per rule, the monitor's
//! checkpoint and one item per breached window.
//!
//! Item layout, all under `pk` = `sla#` + the rule id:
//! - `sk` = `checkpoint`: [`CHECKPOINT`], the instant up to which the rule's
//!   deadlines were evaluated (fixed-width UTC text, so it compares as text).
//!   Moved with `attribute_not_exists(pk) OR checkpoint < :to`: never back.
//! - `sk` = `breach#` + the deadline (fixed-width UTC): `record`, the
//!   [`Breach`] as JSON (the item's truth), and `rev`, a revision number every
//!   write increments. While the breach is active (open, or its recovered
//!   notice pending) it also has `tenant_state` = `sla_active#TENANT` and
//!   `updated` = its deadline, the keys of the `by_tenant_state` GSI: a tenant's active
//!   breaches are one Query on that GSI (`updated >= since`, newest first),
//!   whatever rules they belong to, including rules since removed from the
//!   registry. Once nothing is left to do the two attributes are removed and
//!   the item drops out of the index (a sparse use of the ledger's GSI, whose
//!   file partitions `STATE#TENANT` never start with `sla_`; no GSI is added).
//!
//! `open_breach` puts with `attribute_not_exists(pk)`; `resolve` and
//! `notice_sent` read the item (strongly consistent), decide in Rust exactly
//! as the port documents, and put the result on condition that `rev` is still
//! the one read, reading again if another run got there first. The GSI is
//! eventually consistent, so the list may lag a write by a moment; the
//! conditional transitions keep a stale entry from doing anything twice.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};

use super::{
    BY_TENANT_STATE, DynamoLedger, Item, PK, SK, TENANT_STATE, UPDATED, WRITE_RACES, error,
    lost_race, s, updated,
};
use crate::aws::code;
use crate::ports::sla_store::{
    Breach, BreachOpening, NoticeKind, Recovery, Resolution, SlaStore, SlaStoreError,
};

/// The checkpoint attribute.
pub const CHECKPOINT: &str = "checkpoint";
const RECORD: &str = "record";
const REV: &str = "rev";
/// The GSI partition of a tenant's active breaches: `sla_active#TENANT`.
const ACTIVE: &str = "sla_active";

fn pk(rule: &str) -> String {
    format!("sla#{rule}")
}

fn breach_sk(deadline: DateTime<Utc>) -> String {
    format!("breach#{}", updated(deadline))
}

fn key(rule: &str, sk: String) -> Item {
    HashMap::from([(PK.to_owned(), s(pk(rule))), (SK.to_owned(), s(sk))])
}

fn active_partition(tenant: &str) -> String {
    format!("{ACTIVE}#{tenant}")
}

impl DynamoLedger {
    fn sla_corrupt(&self, reason: String) -> SlaStoreError {
        self.corrupt(reason).into()
    }

    fn breach_item(&self, breach: &Breach, rev: u64) -> Result<Item, SlaStoreError> {
        let json = serde_json::to_string(breach).map_err(|e| self.sla_corrupt(e.to_string()))?;
        let mut item = key(&breach.rule, breach_sk(breach.deadline));
        item.insert(RECORD.to_owned(), s(json));
        item.insert(REV.to_owned(), AttributeValue::N(rev.to_string()));
        if breach.is_active() {
            item.insert(TENANT_STATE.to_owned(), s(active_partition(&breach.tenant)));
            item.insert(UPDATED.to_owned(), s(updated(breach.deadline)));
        }
        Ok(item)
    }

    fn parse_breach(&self, item: &Item) -> Result<(Breach, u64), SlaStoreError> {
        let json = item
            .get(RECORD)
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| self.sla_corrupt(format!("a breach item has no `{RECORD}` string")))?;
        let breach: Breach = serde_json::from_str(json).map_err(|e| {
            self.sla_corrupt(format!("a breach item's `{RECORD}` does not parse: {e}"))
        })?;
        let rev = item
            .get(REV)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| self.sla_corrupt(format!("a breach item has no numeric `{REV}`")))?;
        Ok((breach, rev))
    }

    async fn read_breach(
        &self,
        rule: &str,
        deadline: DateTime<Utc>,
    ) -> Result<Option<(Breach, u64)>, SlaStoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(rule, breach_sk(deadline))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| error(&self.table, "get breach", e))?;
        out.item().map(|item| self.parse_breach(item)).transpose()
    }

    /// Reads the breach, lets `decide` choose (`Some`: write it), and writes
    /// on condition that no one else wrote in between (else reads again).
    /// Returns the breach as stored and whether this call wrote it.
    async fn breach_transition(
        &self,
        op: &'static str,
        rule: &str,
        deadline: DateTime<Utc>,
        decide: impl Fn(&Breach) -> Option<Breach>,
    ) -> Result<(Breach, bool), SlaStoreError> {
        for _ in 0..WRITE_RACES {
            let Some((current, rev)) = self.read_breach(rule, deadline).await? else {
                return Err(SlaStoreError::NotFound {
                    rule: rule.to_owned(),
                    deadline,
                });
            };
            let Some(next) = decide(&current) else {
                return Ok((current, false));
            };
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(self.breach_item(&next, rev + 1)?))
                .condition_expression("#rev = :rev")
                .expression_attribute_names("#rev", REV)
                .expression_attribute_values(":rev", AttributeValue::N(rev.to_string()))
                .send()
                .await;
            if !lost_race(&self.table, op, result)? {
                return Ok((next, true));
            }
        }
        Err(SlaStoreError::Unavailable {
            op,
            source: format!(
                "the breach of rule {rule} at {deadline} changed under {WRITE_RACES} attempts in a row"
            )
            .into(),
        })
    }
}

impl SlaStore for DynamoLedger {
    async fn checkpoint(&self, rule: &str) -> Result<Option<DateTime<Utc>>, SlaStoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(rule, CHECKPOINT.to_owned())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| error(&self.table, "get checkpoint", e))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let text = item
            .get(CHECKPOINT)
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| {
                self.sla_corrupt(format!(
                    "the checkpoint of rule {rule} has no `{CHECKPOINT}` string"
                ))
            })?;
        let at = DateTime::parse_from_rfc3339(text).map_err(|e| {
            self.sla_corrupt(format!(
                "the checkpoint of rule {rule} ({text:?}) does not parse: {e}"
            ))
        })?;
        Ok(Some(at.with_timezone(&Utc)))
    }

    async fn advance_checkpoint(
        &self,
        rule: &str,
        to: DateTime<Utc>,
    ) -> Result<bool, SlaStoreError> {
        let mut item = key(rule, CHECKPOINT.to_owned());
        item.insert(CHECKPOINT.to_owned(), s(updated(to)));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #cp < :to")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#cp", CHECKPOINT)
            .expression_attribute_values(":to", s(updated(to)))
            .send()
            .await;
        Ok(!lost_race(&self.table, "advance checkpoint", result)?)
    }

    async fn open_breach(&self, breach: &Breach) -> Result<BreachOpening, SlaStoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.breach_item(breach, 1)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(BreachOpening::Opened),
            Err(err) => err,
        };
        if code(&err) != "ConditionalCheckFailedException" {
            return Err(error(&self.table, "open breach", err).into());
        }
        let old = err.as_service_error().and_then(|e| match e {
            PutItemError::ConditionalCheckFailedException(c) => c.item().cloned(),
            _ => None,
        });
        let existing = match old {
            Some(item) => Some(self.parse_breach(&item)?.0),
            None => self
                .read_breach(&breach.rule, breach.deadline)
                .await?
                .map(|(existing, _)| existing),
        };
        Ok(match existing {
            // Our own item: the SDK retried a put whose first answer was lost.
            Some(existing) if existing == *breach => BreachOpening::Opened,
            Some(existing) => BreachOpening::AlreadyOpen(Box::new(existing)),
            // Deleted in between (by hand): not ours to recreate.
            None => BreachOpening::AlreadyOpen(Box::new(breach.clone())),
        })
    }

    async fn active_breaches(
        &self,
        tenant: &str,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Breach>, SlaStoreError> {
        let mut breaches = Vec::new();
        let mut start: Option<Item> = None;
        while breaches.len() < limit {
            let page = i32::try_from(limit - breaches.len()).unwrap_or(i32::MAX);
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_TENANT_STATE)
                .key_condition_expression("#ts = :ts AND #u >= :since")
                .expression_attribute_names("#ts", TENANT_STATE)
                .expression_attribute_names("#u", UPDATED)
                .expression_attribute_values(":ts", s(active_partition(tenant)))
                .expression_attribute_values(":since", s(updated(since)))
                .scan_index_forward(false)
                .limit(page)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| error(&self.table, "active breaches", e))?;
            for item in out.items() {
                let (breach, _) = self.parse_breach(item)?;
                // The index may lag a write that finished the breach.
                if breach.is_active() {
                    breaches.push(breach);
                }
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        breaches.truncate(limit);
        Ok(breaches)
    }

    async fn resolve(
        &self,
        rule: &str,
        deadline: DateTime<Utc>,
        recovery: &Recovery,
    ) -> Result<Resolution, SlaStoreError> {
        let (breach, wrote) = self
            .breach_transition("resolve breach", rule, deadline, |b| b.resolved(recovery))
            .await?;
        Ok(if wrote {
            Resolution::Resolved(Box::new(breach))
        } else {
            Resolution::AlreadyResolved(Box::new(breach))
        })
    }

    async fn notice_sent(
        &self,
        rule: &str,
        deadline: DateTime<Utc>,
        kind: NoticeKind,
    ) -> Result<Breach, SlaStoreError> {
        let (breach, _) = self
            .breach_transition("mark notice sent", rule, deadline, |b| {
                b.with_notice_sent(kind)
            })
            .await?;
        Ok(breach)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_deadline_as_text() {
        let early = breach_sk("2026-03-08T07:00:00Z".parse().unwrap());
        let late = breach_sk("2026-11-01T05:30:00.5Z".parse().unwrap());
        assert_eq!(early, "breach#2026-03-08T07:00:00.000000Z");
        assert!(early < late);
        assert_eq!(pk("orders"), "sla#orders");
        assert_eq!(active_partition("acme"), "sla_active#acme");
    }
}
