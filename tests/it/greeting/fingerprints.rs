//! `--fingerprints DIR`: Recog XML databases (here `testdata/recog/`, made-up products written
//! for these tests) name what the built-in table does not, through the binary.

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::support::{json_lines, reach};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/recog");

/// Serves `greeting` to every connection on an unhinted loopback port.
async fn banner_server(greeting: &'static [u8]) -> (u16, tokio::task::JoinHandle<()>) {
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        if !super::unhinted(port) {
            continue;
        }
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let _ = stream.write_all(greeting).await;
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                });
            }
        });
        return (port, task);
    }
}

async fn run(args: Vec<String>) -> serde_json::Value {
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        reach(&args)
    })
    .await
    .expect("reach ran");
    json_lines(&out)
        .into_iter()
        .next()
        .expect("one JSON report")
}

#[tokio::test]
async fn recog_databases_name_what_the_table_does_not() {
    let (ftp, ftp_task) = banner_server(b"220 Frobnicator FTPd v2.5 ready.\r\n").await;
    let (ssh, ssh_task) = banner_server(b"SSH-2.0-QuuxSSH_1.4.2\r\n").await;
    let target = |port: u16| format!("127.0.0.1:{port}");
    let common = ["--json", "--no-tls", "--greeting-timeout", "500ms"];

    let mut args: Vec<String> = common.iter().map(|s| s.to_string()).collect();
    args.push(target(ftp));
    let plain = run(args.clone()).await;
    assert_eq!(plain["greeting"]["identification"], "not_identified");
    assert!(plain["greeting"]["product"].is_null());

    args.extend(["--fingerprints".to_string(), DIR.to_string()]);
    let with = run(args).await;
    let g = &with["greeting"];
    assert_eq!(g["protocol"], "ftp");
    assert_eq!(g["product"], "Frobnicator FTPd");
    assert_eq!(g["vendor"], "Example Widgets & Co");
    assert_eq!(g["version"], "2.5");
    assert_eq!(
        g["cpe"],
        "cpe:2.3:a:example:frobnicator_ftpd:2.5:*:*:*:*:*:*:*"
    );
    assert_eq!(g["identification"], "fingerprints");

    let mut args: Vec<String> = common.iter().map(|s| s.to_string()).collect();
    args.extend([target(ssh), "--fingerprints".into(), DIR.into()]);
    let quux = run(args).await;
    assert_eq!(quux["greeting"]["product"], "QuuxSSH");
    assert_eq!(quux["greeting"]["version"], "1.4.2");

    // The built-in table comes first: OpenSSH is named by the table even with a database.
    let (openssh, openssh_task) = banner_server(b"SSH-2.0-OpenSSH_9.2p1\r\n").await;
    let mut args: Vec<String> = common.iter().map(|s| s.to_string()).collect();
    args.extend([target(openssh), "--fingerprints".into(), DIR.into()]);
    let table = run(args).await;
    assert_eq!(table["greeting"]["identification"], "table");
    for task in [ftp_task, ssh_task, openssh_task] {
        task.abort();
    }
}

#[test]
fn an_unusable_fingerprint_directory_is_a_usage_error() {
    let empty = crate::support::TempDir::new("recog-empty");
    for dir in [empty.path().to_str().expect("utf-8"), "/nonexistent/recog"] {
        let out = reach(&["127.0.0.1:9", "--fingerprints", dir]);
        assert_eq!(out.status.code(), Some(64), "{dir}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--fingerprints"), "{err}");
    }
}
