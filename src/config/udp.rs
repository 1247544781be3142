//! The UDP flags (`-u`, `--udp-probe`, `--query`, `--snmp-community`, `--udp-payload`) turned
//! into the UDP probe's own options.

use std::time::Duration;

use super::ConfigError;
use crate::cli::UdpArgs;
use crate::probe::udp::{self, DnsQuery, UdpOptions};

/// Most datagrams one probe may send: retries are spread over one deadline, and a port must
/// not be flooded.
const MAX_RETRIES: u32 = 20;

/// Checks the UDP flags; `timeout` is `--timeout`, the whole deadline of one UDP probe.
pub(super) fn options(args: &UdpArgs, timeout: Duration) -> Result<UdpOptions, ConfigError> {
    let flag = |flag: &'static str, value: &str, problem: String| ConfigError::Flag {
        flag,
        value: value.to_string(),
        problem,
    };
    if args.udp_retries > MAX_RETRIES {
        return Err(flag(
            "--udp-retries",
            &args.udp_retries.to_string(),
            format!("at most {MAX_RETRIES} re-sent datagrams per probe"),
        ));
    }
    let probe = args
        .udp_probe
        .as_deref()
        .map(|name| {
            udp::probe_by_name(name).ok_or_else(|| {
                flag(
                    "--udp-probe",
                    name,
                    "one of dns, ntp, snmp, netbios, cldap, stun, empty".into(),
                )
            })
        })
        .transpose()?;
    let query = match &args.query {
        Some(q) => DnsQuery::parse(q).map_err(|p| flag("--query", q, p))?,
        None => DnsQuery::default(),
    };
    let payload = args
        .udp_payload
        .as_deref()
        .map(|hex| {
            let bytes = udp::wire::parse_hex(hex).map_err(|p| flag("--udp-payload", hex, p))?;
            if bytes.len() > 1400 {
                return Err(flag(
                    "--udp-payload",
                    hex,
                    "at most 1400 bytes (one datagram that no path fragments)".into(),
                ));
            }
            Ok(bytes)
        })
        .transpose()?;
    if let Some(c) = &args.snmp_community
        && (c.is_empty() || c.len() > 255)
    {
        return Err(flag(
            "--snmp-community",
            "(not shown)",
            "1 to 255 characters".into(),
        ));
    }
    Ok(UdpOptions {
        all: args.udp,
        timeout,
        retries: args.udp_retries,
        probe,
        query,
        snmp_community: args.snmp_community.clone(),
        payload,
    })
}
