//! The catalog trigger's bootstrap: JSON logs, adapters from the environment,
//! then the Lambda runtime loop handing each catalog-queue batch to
//! [`tributary_catalog_trigger::CatalogTrigger`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use tributary::lambda::{Env, cold_start, init_logs, sdk_config};
use tributary_catalog_trigger::deadline;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logs();
    let sdk = sdk_config().await;
    let trigger = cold_start(tributary_catalog_trigger::aws::from_env(
        &Env::process(),
        &sdk,
    ))?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let trigger = Arc::clone(&trigger);
        // Type-erased: the handler's future is deep enough that nesting its
        // concrete type in the runtime's overflows the compiler's layout depth.
        let invocation: Pin<Box<dyn Future<Output = Result<SqsBatchResponse, Error>> + Send>> =
            Box::pin(async move {
                let until = deadline(event.context.deadline, trigger.config.reserve);
                Ok(trigger.handle(event.payload, until).await)
            });
        invocation
    }))
    .await
}
