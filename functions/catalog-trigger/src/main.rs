//! The catalog trigger's bootstrap: JSON logs, adapters from the environment,
//! then the Lambda runtime loop handing each catalog-queue batch to
//! [`tributary_catalog_trigger::CatalogTrigger`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use tracing_subscriber::EnvFilter;
use tributary::lambda::{Env, sdk_config};
use tributary_catalog_trigger::deadline;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_target(false)
        .with_current_span(false)
        .init();
    let sdk = sdk_config().await;
    let trigger = match tributary_catalog_trigger::aws::from_env(&Env::process(), &sdk) {
        Ok(trigger) => Arc::new(trigger),
        Err(error) => {
            // Said once, readably, then the cold start fails.
            tracing::error!(%error, "Bad configuration; the function cannot start.");
            return Err(Error::from(error.to_string()));
        }
    };
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
