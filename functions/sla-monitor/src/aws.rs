//! The SLA monitor on AWS: its adapters built from the environment and one
//! SDK configuration, once per container.

use aws_config::SdkConfig;
use tributary::aws::Aws;
use tributary::lambda::{Common, Env, EnvError};
use tributary::ports::SystemClock;

use crate::{SlaMonitor, SlaMonitorConfig};

/// The SLA monitor with the AWS adapters: the DynamoDB ledger is both the
/// evidence and the SLA store.
pub type AwsSlaMonitor = SlaMonitor<Aws>;

/// Builds the SLA monitor from `env` (see `docs/functions/sla-monitor.md`)
/// and `sdk`.
pub fn from_env(env: &Env, sdk: &SdkConfig) -> Result<AwsSlaMonitor, EnvError> {
    let config = SlaMonitorConfig::from_env(env)?;
    let common = Common::from_env(env, sdk, config.registry_ttl)?;
    Ok(SlaMonitor {
        ledger: common.ledger,
        registry: common.registry,
        notifier: common.notifier,
        clock: SystemClock,
        config,
    })
}
