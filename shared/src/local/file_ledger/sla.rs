//! The SLA store on the embedded ledger: checkpoints and breaches in the same
//! JSON file, each change under the ledger's mutex and written atomically, so
//! the conditional transitions of the port hold within the one process that
//! owns the directory.

use chrono::{DateTime, Utc};

use super::FileLedger;
use crate::ports::sla_store::{
    Breach, BreachOpening, NoticeKind, Recovery, Resolution, SlaStore, SlaStoreError,
};

impl FileLedger {
    fn not_found(rule: &str, deadline: DateTime<Utc>) -> SlaStoreError {
        SlaStoreError::NotFound {
            rule: rule.to_owned(),
            deadline,
        }
    }

    fn breach(&self, rule: &str, deadline: DateTime<Utc>) -> Option<Breach> {
        self.lock()
            .sla_breaches
            .get(&(rule.to_owned(), deadline))
            .cloned()
    }
}

impl SlaStore for FileLedger {
    async fn checkpoint(&self, rule: &str) -> Result<Option<DateTime<Utc>>, SlaStoreError> {
        Ok(self.lock().sla_checkpoints.get(rule).copied())
    }

    async fn advance_checkpoint(
        &self,
        rule: &str,
        to: DateTime<Utc>,
    ) -> Result<bool, SlaStoreError> {
        let behind = |current: Option<&DateTime<Utc>>| current.is_none_or(|c| *c < to);
        if !behind(self.lock().sla_checkpoints.get(rule)) {
            return Ok(false);
        }
        self.update("advance checkpoint", |state| {
            if !behind(state.sla_checkpoints.get(rule)) {
                return Ok::<_, SlaStoreError>(false);
            }
            state.sla_checkpoints.insert(rule.to_owned(), to);
            Ok(true)
        })
    }

    async fn open_breach(&self, breach: &Breach) -> Result<BreachOpening, SlaStoreError> {
        // The same breach again is this caller's own write, repeated.
        let answer = |existing: &Breach| {
            if existing == breach {
                BreachOpening::Opened
            } else {
                BreachOpening::AlreadyOpen(Box::new(existing.clone()))
            }
        };
        if let Some(existing) = self.breach(&breach.rule, breach.deadline) {
            return Ok(answer(&existing));
        }
        self.update("open breach", |state| {
            let key = (breach.rule.clone(), breach.deadline);
            if let Some(existing) = state.sla_breaches.get(&key) {
                return Ok::<_, SlaStoreError>(answer(existing));
            }
            state.sla_breaches.insert(key, breach.clone());
            Ok(BreachOpening::Opened)
        })
    }

    async fn active_breaches(
        &self,
        tenant: &str,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Breach>, SlaStoreError> {
        let mut found: Vec<Breach> = self
            .lock()
            .sla_breaches
            .values()
            .filter(|b| b.tenant == tenant && b.deadline >= since && b.is_active())
            .cloned()
            .collect();
        found.sort_by(|a, b| {
            b.deadline
                .cmp(&a.deadline)
                .then_with(|| a.rule.cmp(&b.rule))
        });
        found.truncate(limit);
        Ok(found)
    }

    async fn resolve(
        &self,
        rule: &str,
        deadline: DateTime<Utc>,
        recovery: &Recovery,
    ) -> Result<Resolution, SlaStoreError> {
        let existing = self
            .breach(rule, deadline)
            .ok_or_else(|| Self::not_found(rule, deadline))?;
        if existing.resolved(recovery).is_none() {
            return Ok(Resolution::AlreadyResolved(Box::new(existing)));
        }
        self.update("resolve breach", |state| {
            let stored = state
                .sla_breaches
                .get_mut(&(rule.to_owned(), deadline))
                .ok_or_else(|| Self::not_found(rule, deadline))?;
            Ok(match stored.resolved(recovery) {
                Some(next) => {
                    *stored = next.clone();
                    Resolution::Resolved(Box::new(next))
                }
                None => Resolution::AlreadyResolved(Box::new(stored.clone())),
            })
        })
    }

    async fn notice_sent(
        &self,
        rule: &str,
        deadline: DateTime<Utc>,
        kind: NoticeKind,
    ) -> Result<Breach, SlaStoreError> {
        let existing = self
            .breach(rule, deadline)
            .ok_or_else(|| Self::not_found(rule, deadline))?;
        if existing.with_notice_sent(kind).is_none() {
            return Ok(existing);
        }
        self.update("mark notice sent", |state| {
            let stored = state
                .sla_breaches
                .get_mut(&(rule.to_owned(), deadline))
                .ok_or_else(|| Self::not_found(rule, deadline))?;
            if let Some(next) = stored.with_notice_sent(kind) {
                *stored = next;
            }
            Ok(stored.clone())
        })
    }
}
