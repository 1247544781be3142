//! The greeting layer: what a service says first, or answers to what the probe sends.

mod corpus;
mod daemons;
mod fingerprints;
mod http_redis;
mod unhinted;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use reach::probe::plan::PlanOptions;
use reach::probe::tls::{TlsContext, TlsOptions};
use reach::probe::{Context, ProbeOptions, ProbeSpec};
use reach::report::Report;

/// A probe context with this greeting deadline and plan options, default trust.
fn context(greeting_timeout: Duration, plan: PlanOptions) -> Arc<Context> {
    let options = ProbeOptions {
        plan,
        greeting_timeout,
        connect: reach::probe::timing::Policy {
            explicit: Some(Duration::from_secs(2)),
            timeout: Duration::from_secs(2),
            ..Default::default()
        },
        ..ProbeOptions::default()
    };
    let tls = TlsContext::load(&TlsOptions::default()).expect("tls context");
    Arc::new(Context {
        options,
        tls: Arc::new(tls),
        open_ports: Default::default(),
        rtts: Default::default(),
    })
}

/// The whole probe of 127.0.0.1:`port`, as `reach 127.0.0.1:PORT` runs it.
async fn probe(port: u16, ctx: &Context) -> Report {
    let target = reach::target::parse(&format!("127.0.0.1:{port}")).expect("target");
    let spec = ProbeSpec {
        target: Arc::new(target),
        address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port,
        dns: None,
        sni: None,
        other_sni: None,
        sweep: false,
        transport: Default::default(),
    };
    reach::probe::run(&spec, ctx, None, &reach::cancel::Cancel::never()).await
}

/// No service table knows `port`: neither its name nor its TLS mode nor a first request hints.
fn unhinted(port: u16) -> bool {
    use reach::service;
    service::expected_protocol(port).is_none()
        && service::greeting_ask(port) == service::Ask::Listen
        && service::tls_mode(port) == service::TlsMode::Plain
}
