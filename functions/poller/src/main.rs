//! The poller's bootstrap: JSON logs, adapters from the environment, then the
//! Lambda runtime loop handing each event to [`tributary_poller::Poller`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use tracing_subscriber::EnvFilter;
use tributary::lambda::{Env, sdk_config};
use tributary_poller::deadline;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_target(false)
        .with_current_span(false)
        .init();
    let sdk = sdk_config().await;
    let poller = match tributary_poller::aws::from_env(&Env::process(), &sdk) {
        Ok(poller) => Arc::new(poller),
        Err(error) => {
            // Said once, readably, then the cold start fails.
            tracing::error!(%error, "Bad configuration; the function cannot start.");
            return Err(Error::from(error.to_string()));
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let poller = Arc::clone(&poller);
        // Type-erased: the handler's future is deep enough that nesting its
        // concrete type in the runtime's overflows the compiler's layout depth.
        let invocation: Pin<Box<dyn Future<Output = Result<Value, Error>> + Send>> =
            Box::pin(async move {
                let until = deadline(event.context.deadline, poller.config.time_reserve);
                poller
                    .handle(event.payload, until)
                    .await
                    .map_err(Error::from)
            });
        invocation
    }))
    .await
}
