//! The poller's bootstrap: JSON logs, adapters from the environment, then the
//! Lambda runtime loop handing each event to [`tributary_poller::Poller`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use tributary::lambda::{Env, cold_start, init_logs, sdk_config};
use tributary_poller::deadline;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logs();
    let sdk = sdk_config().await;
    let poller = cold_start(tributary_poller::aws::from_env(&Env::process(), &sdk))?;
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
