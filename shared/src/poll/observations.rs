//! The small state port behind "unchanged since the previous poll": what each
//! poll saw of each path, kept until the next one. The ledger implements it on
//! DynamoDB and in its local file (`crate::local::FileLedger`).

use std::collections::HashMap;
use std::future::Future;

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
