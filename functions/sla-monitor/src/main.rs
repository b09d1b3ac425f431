//! The SLA monitor's bootstrap: JSON logs, adapters from the environment, then
//! the Lambda runtime loop handing each scheduled event to
//! [`tributary_sla_monitor::SlaMonitor`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use tributary::lambda::{Env, cold_start, init_logs, sdk_config};
use tributary::sla::SlaReport;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logs();
    let sdk = sdk_config().await;
    let monitor = cold_start(tributary_sla_monitor::aws::from_env(&Env::process(), &sdk))?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let monitor = Arc::clone(&monitor);
        // Type-erased: the handler's future is deep enough that nesting its
        // concrete type in the runtime's overflows the compiler's layout depth.
        let invocation: Pin<Box<dyn Future<Output = Result<SlaReport, Error>> + Send>> =
            Box::pin(async move {
                monitor
                    .handle(event.payload, &event.context.request_id)
                    .await
                    .map_err(Error::from)
            });
        invocation
    }))
    .await
}
