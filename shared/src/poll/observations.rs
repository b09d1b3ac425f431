//! The small state port behind "unchanged since the previous poll": what each
//! poll saw of each path, kept until the next one. The ledger implements it on
//! DynamoDB; [`MemoryObservations`] serves the CLI, the demo and tests.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Mutex;

use super::select::Observation;

/// Where observations are kept between polls.
pub trait ObservationStore {
    type Error: std::error::Error + Send + Sync + 'static;

    /// What the previous poll saw of `paths` of `source` (paths never seen are absent).
    fn load(
        &self,
        source: &str,
        paths: &[String],
    ) -> impl Future<Output = Result<HashMap<String, Observation>, Self::Error>> + Send;

    /// Remembers this poll's observations, replacing older ones.
    fn save(
        &self,
        source: &str,
        observations: &[(String, Observation)],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Observations in memory.
#[derive(Debug, Default)]
pub struct MemoryObservations {
    seen: Mutex<HashMap<(String, String), Observation>>,
}

impl ObservationStore for MemoryObservations {
    type Error = Infallible;

    async fn load(
        &self,
        source: &str,
        paths: &[String],
    ) -> Result<HashMap<String, Observation>, Infallible> {
        let seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(paths
            .iter()
            .filter_map(|path| {
                seen.get(&(source.to_owned(), path.clone()))
                    .map(|o| (path.clone(), *o))
            })
            .collect())
    }

    async fn save(
        &self,
        source: &str,
        observations: &[(String, Observation)],
    ) -> Result<(), Infallible> {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (path, observation) in observations {
            seen.insert((source.to_owned(), path.clone()), *observation);
        }
        Ok(())
    }
}
