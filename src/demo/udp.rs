//! The UDP part of `reach demo`: a tiny in-process DNS responder on loopback (it answers the
//! `.` SOA question reach asks by default, from a fixed record, and never forwards anything),
//! and a UDP port nothing listens on. Kept apart from the TCP and QUIC steps.

use std::net::{Ipv4Addr, UdpSocket};

use super::Step;
use crate::exit::ExitCode;

/// The demo zone's SOA, as the responder answers it.
const SOA: (&str, &str, [u32; 5]) = (
    "ns.demo.example",
    "hostmaster.demo.example",
    [2026120101, 1800, 900, 604_800, 86_400],
);

/// The running UDP servers of the demo.
pub(super) struct UdpDemo {
    task: tokio::task::JoinHandle<()>,
    dns_port: u16,
    closed_port: u16,
}

impl UdpDemo {
    pub(super) async fn start() -> std::io::Result<UdpDemo> {
        let socket = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let dns_port = socket.local_addr()?.port();
        let task = tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                if let Some(reply) = answer(&buf[..n]) {
                    let _ = socket.send_to(&reply, from).await;
                }
            }
        });
        // Bound, then released: the kernel answers ICMP port unreachable for it.
        let closed_port = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        Ok(UdpDemo {
            task,
            dns_port,
            closed_port,
        })
    }

    pub(super) fn steps(&self) -> Vec<Step> {
        vec![
            Step {
                title: "UDP: a DNS server answers (only an answer proves a UDP listener)",
                args: vec![
                    "--udp-probe".into(),
                    "dns".into(),
                    format!("udp://127.0.0.1:{}", self.dns_port),
                ],
                expect: ExitCode::Ok,
            },
            Step {
                title: "UDP closed (ICMP port unreachable from the host itself)",
                args: vec!["-u".into(), format!("127.0.0.1:{}", self.closed_port)],
                expect: ExitCode::NotListening,
            },
        ]
    }
}

impl Drop for UdpDemo {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn name(out: &mut Vec<u8>, dotted: &str) {
    for label in dotted.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

/// The answer to a query: the question echoed; for `.` SOA the demo SOA, for anything else
/// no records (NOERROR, NODATA). Not a query, or not one question: no answer at all.
fn answer(query: &[u8]) -> Option<Vec<u8>> {
    let header = query.get(..12)?;
    if header[2] & 0x80 != 0 || header[4..6] != [0, 1] {
        return None;
    }
    // The question: labels up to the root (bounded by the datagram), type, class.
    let mut end = 12;
    loop {
        let len = usize::from(*query.get(end)?);
        end += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        end += len;
    }
    let question = query.get(12..end + 4)?;
    let root_soa = question == [0, 0, 6, 0, 1];
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(&header[..2]);
    // QR, AA, the query's RD; NOERROR.
    out.extend_from_slice(&[0x84 | (header[2] & 0x01), 0x00, 0, 1, 0, u8::from(root_soa)]);
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(question);
    if root_soa {
        let mut rdata = Vec::new();
        name(&mut rdata, SOA.0);
        name(&mut rdata, SOA.1);
        for v in SOA.2 {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&[0xc0, 12, 0, 6, 0, 1]);
        out.extend_from_slice(&3600u32.to_be_bytes());
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::udp::dns;

    #[test]
    fn the_responder_answers_reachs_query_and_ignores_garbage() {
        let q = dns::query(&dns::DnsQuery::default(), 0x4242);
        let a = answer(&q).expect("an answer");
        let p = dns::parse(&a, 0x4242).expect("parses");
        assert!(
            p.summary
                .contains("SOA ns.demo.example. hostmaster.demo.example. 2026120101"),
            "{}",
            p.summary
        );
        assert!(answer(&a).is_none(), "an answer is not answered");
        assert!(answer(&[0; 11]).is_none());
        assert!(answer(&q[..q.len() - 1]).is_none());
    }
}
