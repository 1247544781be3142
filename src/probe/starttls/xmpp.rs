//! XMPP (RFC 6120 §5): open a client or server stream, read the stream features, send
//! `<starttls/>` and wait for `<proceed/>` or `<failure/>`. Substring matching on bounded
//! input; no XML parser is needed for these few fixed elements.

use tokio::io::{AsyncRead, AsyncWrite};

use super::StarttlsOptions;
use super::session::{Outcome, Session, reply_text};
use crate::report::greeting::{GreetingReport, GreetingState};
use crate::service::StarttlsProto;

const TLS_NS: &str = "urn:ietf:params:xml:ns:xmpp-tls";

/// The opening stream header for `domain`.
pub fn stream_header(proto: StarttlsProto, domain: &str) -> String {
    let (ns, extra) = if proto == StarttlsProto::XmppServer {
        ("jabber:server", " xmlns:db='jabber:server:dialback'")
    } else {
        ("jabber:client", "")
    };
    format!(
        "<?xml version='1.0'?><stream:stream to='{}' xmlns='{ns}'{extra} \
         xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
        xml_escape(domain)
    )
}

fn xml_escape(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '\'' => "&apos;".to_string(),
            '"' => "&quot;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// The server's stream header and features (or its stream error) are complete.
pub fn features_done(buf: &[u8]) -> bool {
    let s = String::from_utf8_lossy(buf);
    s.contains("</stream:features>")
        || s.contains("<stream:features/>")
        || s.contains("</stream:stream>")
        || s.contains("</stream:error>")
}

/// Names of the elements advertised in `<stream:features>` (`starttls`, `mechanisms`…).
pub fn feature_names(buf: &[u8]) -> Vec<String> {
    let s = String::from_utf8_lossy(buf);
    let Some(start) = s.find("<stream:features") else {
        return Vec::new();
    };
    let features = &s[start..];
    let features = &features[..features
        .find("</stream:features>")
        .unwrap_or(features.len())];
    features
        .split('<')
        .skip(1)
        .filter(|tag| tag.contains("xmlns="))
        .filter_map(|tag| tag.split([' ', '>', '/']).next())
        .filter(|name| !name.is_empty() && !name.starts_with("stream:"))
        .map(str::to_string)
        .take(64)
        .collect()
}

/// Runs the stream-level STARTTLS.
pub async fn negotiate<S>(
    session: &mut Session<'_, S>,
    proto: StarttlsProto,
    opts: &StarttlsOptions,
) -> (Outcome, Option<GreetingReport>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let sent = std::time::Instant::now();
    let header = stream_header(proto, &opts.domain);
    let features = match session.ask(header.as_bytes(), features_done).await {
        Ok(features) => features,
        Err(broke) => return (broke, None),
    };
    let text = String::from_utf8_lossy(&features);
    let is_xmpp =
        text.contains("<stream:stream") || text.contains("http://etherx.jabber.org/streams");
    let offered = text.contains(TLS_NS);
    let greeting = GreetingReport {
        state: GreetingState::Reply,
        protocol: is_xmpp.then(|| "xmpp".to_string()),
        text: reply_text(&features),
        banner_ms: Some(sent.elapsed().as_secs_f64() * 1000.0),
        bytes: features.len(),
        asked: Some("<stream:stream>".into()),
        capabilities: Some(feature_names(&features)),
        ..GreetingReport::default()
    };
    if !is_xmpp {
        let broke = Outcome::Broke {
            offered: false,
            why: "unexpected",
            reply: Some(reply_text(&features)),
        };
        return (broke, Some(greeting));
    }
    if text.contains("<stream:error") || (!offered && !opts.force) {
        let outcome = if offered {
            Outcome::Refused {
                offered,
                reply: reply_text(&features),
            }
        } else {
            Outcome::NotOffered { reply: None }
        };
        return (outcome, Some(greeting));
    }
    let request = format!("<starttls xmlns='{TLS_NS}'/>");
    let answer = match session
        .ask(request.as_bytes(), |b| {
            let s = String::from_utf8_lossy(b);
            s.contains("<proceed") || s.contains("<failure") || s.contains("</stream:stream>")
        })
        .await
    {
        Ok(answer) => answer,
        Err(broke) => return (broke.offered(offered), Some(greeting)),
    };
    let reply = reply_text(&answer);
    let outcome = if reply.contains("<proceed") {
        Outcome::Negotiated {
            offered,
            reply: Some(reply),
        }
    } else {
        Outcome::Refused { offered, reply }
    };
    (outcome, Some(greeting))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_for_client_and_server_streams() {
        let c = stream_header(StarttlsProto::Xmpp, "chat.example");
        assert!(c.contains("to='chat.example'") && c.contains("xmlns='jabber:client'"));
        let s = stream_header(StarttlsProto::XmppServer, "a'><x");
        assert!(s.contains("xmlns='jabber:server'") && s.contains("to='a&apos;&gt;&lt;x'"));
    }

    #[test]
    fn prosody_features() {
        let buf = b"<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xml:lang='en' id='abc' version='1.0' from='localhost' xmlns='jabber:client'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>";
        assert!(features_done(buf));
        assert_eq!(feature_names(buf), ["starttls", "mechanisms"]);
        assert!(!features_done(&buf[..buf.len() - 5]));
        assert!(feature_names(b"<junk").is_empty());
    }
}
