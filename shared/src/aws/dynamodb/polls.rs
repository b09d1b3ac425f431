//! The poll log ([`PollLog`]: each source's last poll) in the ledger's table.
//!
//! Item layout: `pk` = `poll#` + the JSON array `[source]`, `sk` = `last`;
//! `poll`: the [`PollRecord`] as JSON. One item per source, overwritten by
//! every poll; `last_polls` is `BatchGetItem` through the ledger's helper.

use std::collections::{HashMap, HashSet};

use super::{DynamoLedger, Item, PK, SK, s};
use crate::ports::ledger::LedgerError;
use crate::ports::poll_log::{PollLog, PollRecord};

const POLL: &str = "poll";
const LAST: &str = "last";

fn key(source: &str) -> Item {
    HashMap::from([
        (
            PK.to_owned(),
            s(format!("poll#{}", serde_json::json!([source]))),
        ),
        (SK.to_owned(), s(LAST)),
    ])
}

impl PollLog for DynamoLedger {
    async fn record_poll(&self, record: &PollRecord) -> Result<(), LedgerError> {
        let json = serde_json::to_string(record).map_err(|e| self.corrupt(e.to_string()))?;
        let mut item = key(&record.source);
        item.insert(POLL.to_owned(), s(json));
        self.batch_put("record poll", vec![item]).await
    }

    async fn last_polls(&self, sources: &[String]) -> Result<Vec<PollRecord>, LedgerError> {
        let distinct: HashSet<&String> = sources.iter().collect();
        let keys = distinct.into_iter().map(|source| key(source)).collect();
        let items = self.batch_get("last polls", keys, &[POLL]).await?;
        items
            .iter()
            .map(|item| {
                let json = item
                    .get(POLL)
                    .and_then(|v| v.as_s().ok())
                    .ok_or_else(|| self.corrupt(format!("a poll item has no `{POLL}` string")))?;
                serde_json::from_str(json)
                    .map_err(|e| self.corrupt(format!("a poll item does not parse: {e}")))
            })
            .collect()
    }
}
