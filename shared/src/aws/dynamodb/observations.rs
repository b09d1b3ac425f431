//! The poller's observations (what each poll saw of each path) in the ledger's
//! table, so that "unchanged since the previous poll" works across Lambda
//! invocations.
//!
//! Item layout: `pk` = `obs#` + the JSON array `[source]`, `sk` = the path;
//! `observation`: the [`Observation`] as JSON; [`EXPIRES_AT`]: seven days after
//! the poll that saw the path, so the table's TTL removes paths that vanished
//! from the server (a path still listed is written again at every poll).
//! A path longer than a sort key takes (1024 bytes) is keyed by its SHA-256
//! instead (`#sha256:HEX`) and keeps the path itself in `path`, which `load`
//! checks.
//!
//! `load` is `BatchGetItem` in chunks of 100 keys and `save` `BatchWriteItem`
//! in chunks of 25 items, both retrying what DynamoDB left unprocessed, through
//! the ledger's batch helpers.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Duration;
use sha2::{Digest, Sha256};

use super::{DynamoLedger, EXPIRES_AT, Item, PK, SK, s};
use crate::poll::observations::ObservationStore;
use crate::poll::select::Observation;
use crate::ports::ledger::LedgerError;

const OBSERVATION: &str = "observation";
const PATH: &str = "path";
/// How long an observation outlives the poll that made it.
const KEEP_DAYS: i64 = 7;
/// The longest sort key DynamoDB takes, in bytes.
const MAX_SORT_KEY_BYTES: usize = 1024;

fn pk(source: &str) -> String {
    format!("obs#{}", serde_json::json!([source]))
}

/// The sort key of `path`: the path itself, or its hash when it does not fit.
fn sk(path: &str) -> String {
    if !path.is_empty() && path.len() <= MAX_SORT_KEY_BYTES {
        path.to_owned()
    } else {
        format!("#sha256:{}", hex::encode(Sha256::digest(path.as_bytes())))
    }
}

impl DynamoLedger {
    fn observation_item(
        &self,
        source: &str,
        path: &str,
        observation: &Observation,
    ) -> Result<Item, LedgerError> {
        let json = serde_json::to_string(observation).map_err(|e| self.corrupt(e.to_string()))?;
        let key = sk(path);
        let expires_at = (observation.seen_at + Duration::days(KEEP_DAYS)).timestamp();
        let mut item = HashMap::from([
            (PK.to_owned(), s(pk(source))),
            (OBSERVATION.to_owned(), s(json)),
            (
                EXPIRES_AT.to_owned(),
                AttributeValue::N(expires_at.to_string()),
            ),
        ]);
        if key != path {
            item.insert(PATH.to_owned(), s(path));
        }
        item.insert(SK.to_owned(), s(key));
        Ok(item)
    }
}

impl ObservationStore for DynamoLedger {
    type Error = LedgerError;

    async fn load(
        &self,
        source: &str,
        paths: &[String],
    ) -> Result<HashMap<String, Observation>, LedgerError> {
        // One key per distinct path: BatchGetItem refuses duplicates.
        let by_sk: HashMap<String, &String> = paths.iter().map(|p| (sk(p), p)).collect();
        let partition = pk(source);
        let keys = by_sk
            .keys()
            .map(|k| HashMap::from([(PK.to_owned(), s(&partition)), (SK.to_owned(), s(k))]))
            .collect();
        let items = self
            .batch_get("load observations", keys, &[SK, OBSERVATION, PATH])
            .await?;
        let mut found = HashMap::new();
        for item in &items {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
            let Some(path) = text(SK).and_then(|k| by_sk.get(k)) else {
                continue;
            };
            if text(PATH).is_some_and(|stored| stored != *path) {
                // Another path with the same hash: not this one's observation.
                continue;
            }
            let json = text(OBSERVATION).ok_or_else(|| {
                self.corrupt(format!(
                    "the observation item of {source}:{path} has no `{OBSERVATION}` string"
                ))
            })?;
            let observation: Observation = serde_json::from_str(json).map_err(|e| {
                self.corrupt(format!(
                    "the observation of {source}:{path} does not parse: {e}"
                ))
            })?;
            found.insert((*path).clone(), observation);
        }
        Ok(found)
    }

    async fn save(
        &self,
        source: &str,
        observations: &[(String, Observation)],
    ) -> Result<(), LedgerError> {
        // One item per distinct path (BatchWriteItem refuses duplicate keys);
        // the last observation of a path wins, as it would one put at a time.
        let mut by_sk: HashMap<String, Item> = HashMap::new();
        for (path, observation) in observations {
            by_sk.insert(sk(path), self.observation_item(source, path, observation)?);
        }
        self.batch_put("save observations", by_sk.into_values().collect())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_fit_are_their_own_sort_key_and_longer_ones_are_hashed() {
        assert_eq!(sk("/out/a.csv"), "/out/a.csv");
        let long = format!("/{}", "x".repeat(MAX_SORT_KEY_BYTES));
        let hashed = sk(&long);
        assert!(hashed.starts_with("#sha256:"), "{hashed}");
        assert_eq!(hashed.len(), "#sha256:".len() + 64);
        assert_ne!(sk(&format!("{long}y")), hashed);
        assert_eq!(pk("acme-ftp"), r#"obs#["acme-ftp"]"#);
    }
}
