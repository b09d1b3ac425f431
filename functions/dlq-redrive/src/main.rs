//! The dlq-redrive bootstrap: JSON logs, adapters from the environment, then
//! the Lambda runtime loop handing each invocation to
//! [`tributary_dlq_redrive::Redriver`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use tributary::lambda::{Env, cold_start, init_logs, sdk_config};
use tributary_dlq_redrive::deadline;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logs();
    let sdk = sdk_config().await;
    let redriver = cold_start(tributary_dlq_redrive::aws::from_env(&Env::process(), &sdk))?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let redriver = Arc::clone(&redriver);
        // Type-erased, as in the other functions: the handler's future is deep
        // enough that nesting its concrete type in the runtime's overflows the
        // compiler's layout depth.
        let invocation: Pin<Box<dyn Future<Output = Result<Value, Error>> + Send>> =
            Box::pin(async move {
                let until = deadline(event.context.deadline, redriver.config.time_reserve);
                redriver
                    .handle(event.payload, until)
                    .await
                    .map_err(Error::from)
            });
        invocation
    }))
    .await
}
