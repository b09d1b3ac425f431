//! The dlq-redrive bootstrap: JSON logs, adapters from the environment, then
//! the Lambda runtime loop handing each invocation to
//! [`tributary_dlq_redrive::Redriver`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use tracing_subscriber::EnvFilter;
use tributary::lambda::{Env, sdk_config};
use tributary_dlq_redrive::deadline;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_target(false)
        .with_current_span(false)
        .init();
    let sdk = sdk_config().await;
    let redriver = match tributary_dlq_redrive::aws::from_env(&Env::process(), &sdk) {
        Ok(redriver) => Arc::new(redriver),
        Err(error) => {
            // Said once, readably, then the cold start fails.
            tracing::error!(%error, "Bad configuration; the function cannot start.");
            return Err(Error::from(error.to_string()));
        }
    };
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
