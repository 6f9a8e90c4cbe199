//! The webhook deliverer: posts the notifications the service queues (alarm transitions) to
//! their webhooks, a pass a second, with an HTTP client that follows no redirect and gives each
//! attempt 10 s. What is posted, its signature and the retries are the service's
//! (`xc_control::Service::deliver_webhooks`); this is the transport. It connects only to public
//! addresses and the networks the operator allows (`xc_control::destinations`): an address in
//! the URL is checked before anything is sent, a name's addresses by the client's resolver, so a
//! name cannot lead the server into its own networks however it resolves.

use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use xc_control::destinations::refused_destination;
use xc_control::{Answer, Outgoing, Service};

/// A destination refused: what the delivery's attempt says.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

fn refusal(host: &str, ip: IpAddr, why: &str) -> Refused {
    Refused(format!(
        "refused: {host} is {ip}, {why}; webhooks go to public addresses (the operator allows other networks with `xconnect server --webhook-allow-network`)"
    ))
}

/// Resolves names as the system does, keeping only the addresses webhooks may go to.
struct Guarded {
    allow: Arc<Vec<IpNet>>,
}

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (kept, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = all
                .into_iter()
                .partition(|a| refused_destination(a.ip(), &allow).is_none());
            match (kept.is_empty(), refused.first()) {
                (true, Some(a)) => {
                    let why = refused_destination(a.ip(), &allow).unwrap_or_default();
                    Err(Box::new(refusal(&host, a.ip(), why)) as Box<_>)
                }
                _ => Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

/// The client deliveries go through: no redirects, bounded in time, names resolved to allowed
/// addresses only.
pub fn client(allow: &[IpNet]) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .connect_timeout(ATTEMPT_TIMEOUT / 2)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(Guarded {
            allow: Arc::new(allow.to_vec()),
        }))
        .user_agent(concat!("xconnect/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// How often the deliverer looks for deliveries that are due.
const EVERY: Duration = Duration::from_secs(1);
/// One attempt's limit, connecting included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Delivers until `stop` turns true.
pub async fn run(service: Arc<Service>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let allow: Arc<Vec<IpNet>> = Arc::new(service.webhook_allow().to_vec());
    let client = match client(&allow) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook client; webhooks are not delivered");
            return;
        }
    };
    loop {
        let c = client.clone();
        let a = allow.clone();
        // The leader delivers (its lease's replica), so a notification goes out once.
        if service.is_leading()
            && let Err(e) = service
                .deliver_webhooks(move |o| post(c.clone(), a.clone(), o))
                .await
        {
            tracing::warn!(error = %e, "webhook delivery pass failed; retrying");
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}

/// One attempt: the receiver's status code, or why there is none.
pub async fn post(client: reqwest::Client, allow: Arc<Vec<IpNet>>, o: Outgoing) -> Answer {
    // An address in the URL is not resolved, so it is checked here.
    let literal = match reqwest::Url::parse(&o.url).map(|u| u.host().map(|h| h.to_owned())) {
        Ok(Some(url::Host::Ipv4(a))) => Some(IpAddr::V4(a)),
        Ok(Some(url::Host::Ipv6(a))) => Some(IpAddr::V6(a)),
        Ok(_) => None,
        Err(e) => return Answer::Failed(format!("not a URL: {e}")),
    };
    if let Some(ip) = literal
        && let Some(why) = refused_destination(ip, &allow)
    {
        return Answer::Failed(refusal(&ip.to_string(), ip, why).to_string());
    }
    let mut req = client.post(&o.url).body(o.body);
    for (name, value) in o.headers {
        req = req.header(name, value);
    }
    match req.send().await {
        Ok(r) => Answer::Status(r.status().as_u16()),
        Err(e) => {
            // A refusal of the resolver's, found in the error's causes.
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(c) = cause {
                if let Some(r) = c.downcast_ref::<Refused>() {
                    return Answer::Failed(r.to_string());
                }
                cause = c.source();
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A receiver on loopback that answers 204 to anything.
    async fn receiver() -> u16 {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = l.local_addr().expect("addr").port();
        let app = axum::Router::new().fallback(|| async { axum::http::StatusCode::NO_CONTENT });
        tokio::spawn(async move { axum::serve(l, app).await });
        port
    }

    fn to(url: String) -> Outgoing {
        Outgoing {
            url,
            headers: Vec::new(),
            body: "{}".into(),
        }
    }

    /// Loopback is refused however it is written (an address, a number, a name that resolves
    /// to it) and nothing is sent; the operator's allowed network lets it through.
    #[tokio::test]
    async fn only_allowed_destinations_are_posted_to() {
        let port = receiver().await;
        let send = |allow: Vec<IpNet>, url: String| async move {
            let c = client(&allow).expect("client");
            post(c, Arc::new(allow), to(url)).await
        };
        for url in [
            format!("http://127.0.0.1:{port}/hook"),
            format!("http://2130706433:{port}/hook"),
            format!("http://localhost:{port}/hook"),
        ] {
            match send(Vec::new(), url.clone()).await {
                Answer::Failed(why) => assert!(
                    why.starts_with("refused: ") && why.contains("a loopback address"),
                    "{url}: {why}"
                ),
                a => panic!("{url}: {a:?}"),
            }
        }
        let loopback: Vec<IpNet> = vec![
            "127.0.0.0/8".parse().expect("net"),
            "::1/128".parse().expect("net"),
        ];
        for url in [
            format!("http://127.0.0.1:{port}/hook"),
            format!("http://localhost:{port}/hook"),
        ] {
            assert_eq!(
                send(loopback.clone(), url.clone()).await,
                Answer::Status(204),
                "{url}"
            );
        }
    }
}
