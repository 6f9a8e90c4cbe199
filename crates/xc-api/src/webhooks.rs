//! The webhook deliverer: posts the notifications the service queues (alarm transitions) to
//! their webhooks, a pass a second, with an HTTP client that follows no redirect and gives each
//! attempt 10 s. What is posted, its signature and the retries are the service's
//! (`xc_control::Service::deliver_webhooks`); this is the transport.

use std::sync::Arc;
use std::time::Duration;
use xc_control::{Answer, Outgoing, Service};

/// How often the deliverer looks for deliveries that are due.
const EVERY: Duration = Duration::from_secs(1);
/// One attempt's limit, connecting included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Delivers until `stop` turns true.
pub async fn run(service: Arc<Service>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let client = match reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .connect_timeout(ATTEMPT_TIMEOUT / 2)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("xconnect/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook client; webhooks are not delivered");
            return;
        }
    };
    loop {
        let c = client.clone();
        if let Err(e) = service.deliver_webhooks(move |o| post(c.clone(), o)).await {
            tracing::warn!(error = %e, "webhook delivery pass failed; retrying");
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}

/// One attempt: the receiver's status code, or why there is none.
pub async fn post(client: reqwest::Client, o: Outgoing) -> Answer {
    let mut req = client.post(&o.url).body(o.body);
    for (name, value) in o.headers {
        req = req.header(name, value);
    }
    match req.send().await {
        Ok(r) => Answer::Status(r.status().as_u16()),
        Err(e) => {
            let (timeout, connect) = (e.is_timeout(), e.is_connect());
            let e = e.without_url();
            Answer::Failed(if timeout {
                format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())
            } else if connect {
                format!("cannot connect: {e}")
            } else {
                e.to_string()
            })
        }
    }
}
