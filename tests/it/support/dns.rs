//! A tiny authoritative DNS responder on loopback UDP for tests: answers from a fixed table so
//! DNS verdicts are tested against real packets without ever querying a real resolver.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How the server answers one name.
#[derive(Clone, Debug)]
pub enum Answer {
    /// These addresses (A for v4, AAAA for v6; a query of the other type gets NOERROR, empty).
    Addresses(Vec<IpAddr>),
    /// NXDOMAIN.
    NxDomain,
    /// Never answer (the resolver must time out).
    Silent,
}

/// A running responder; stops when dropped.
pub struct DnsServer {
    pub addr: SocketAddr,
    queries: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DnsServer {
    pub fn start(table: &[(&str, Answer)]) -> DnsServer {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind dns");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let table: HashMap<String, Answer> = table
            .iter()
            .map(|(n, a)| (n.trim_end_matches('.').to_ascii_lowercase(), a.clone()))
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let queries = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&queries);
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !stop2.load(Ordering::Relaxed) {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                counted.fetch_add(1, Ordering::Relaxed);
                if let Some(reply) = respond(&buf[..n], &table) {
                    let _ = socket.send_to(&reply, peer);
                }
            }
        });
        DnsServer {
            addr,
            queries,
            stop,
            thread: Some(thread),
        }
    }

    /// How many queries arrived so far.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::Relaxed)
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn respond(query: &[u8], table: &HashMap<String, Answer>) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    // Question: labels from offset 12, then QTYPE and QCLASS.
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = *query.get(pos)? as usize;
        pos += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(pos..pos + len)?).to_ascii_lowercase());
        pos += len;
    }
    let qtype = u16::from_be_bytes([*query.get(pos)?, *query.get(pos + 1)?]);
    let question_end = pos + 4;
    let name = labels.join(".");
    let answer = table.get(&name).cloned().unwrap_or(Answer::NxDomain);
    let (rcode, records): (u8, Vec<IpAddr>) = match answer {
        Answer::Silent => return None,
        Answer::NxDomain => (3, vec![]),
        Answer::Addresses(ips) => (
            0,
            ips.into_iter()
                .filter(|ip| (qtype == 1 && ip.is_ipv4()) || (qtype == 28 && ip.is_ipv6()))
                .collect(),
        ),
    };
    let mut out = Vec::new();
    out.extend_from_slice(&query[0..2]); // ID
    out.extend_from_slice(&[0x84 | (query[2] & 0x01), 0x80 | rcode]); // QR AA (RD) RA rcode
    out.extend_from_slice(&[0, 1]);
    out.extend_from_slice(&(records.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(query.get(12..question_end)?);
    for ip in records {
        out.extend_from_slice(&[0xc0, 12]);
        match ip {
            IpAddr::V4(v4) => {
                out.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
                out.extend_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                out.extend_from_slice(&[0, 28, 0, 1, 0, 0, 0, 60, 0, 16]);
                out.extend_from_slice(&v6.octets());
            }
        }
    }
    Some(out)
}
