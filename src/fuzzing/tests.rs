//! The fuzz drivers under `cargo test`: the script format, the scripted server, and every seed
//! (`fuzz/seeds/`) and every input that once crashed a driver (`fuzz/regressions/`) replayed.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

#[test]
fn scripts_split_into_steps_and_connections() {
    let scripts = parse_scripts(b"220 hi\r\n\xff\x77250 ok\xff\xff\xffp\x03\xffn\xffr\xffz");
    assert_eq!(
        scripts,
        vec![
            vec![
                Step::Data(b"220 hi\r\n".to_vec()),
                Step::WaitWrite,
                Step::Data(b"250 ok\xff".to_vec()),
                Step::Pause(Duration::from_millis(300)),
            ],
            vec![Step::Reset, Step::Close],
        ]
    );
    // A command byte cut off at the end is dropped, not a panic.
    assert_eq!(
        parse_scripts(b"a\xff"),
        vec![vec![Step::Data(b"a".to_vec())]]
    );
    assert_eq!(parse_scripts(b""), vec![Vec::<Step>::new()]);
}

#[test]
fn the_scripted_server_waits_for_the_client_and_pauses_in_virtual_time() {
    let steps = parse_scripts(b"hello\xffwworld\xffp\x32\xffr").remove(0);
    run_paused("script", async {
        let mut server = Scripted::new(steps, AtEnd::Stall);
        let mut buf = [0u8; 16];
        let n = server.read(&mut buf).await.expect("data");
        assert_eq!(&buf[..n], b"hello");
        // Nothing more until the client writes.
        let waiting = tokio::time::timeout(Duration::from_secs(1), server.read(&mut buf)).await;
        assert!(waiting.is_err());
        server.write_all(b"EHLO").await.expect("write");
        let n = server.read(&mut buf).await.expect("data");
        assert_eq!(&buf[..n], b"world");
        let before = tokio::time::Instant::now();
        let err = server.read(&mut buf).await.expect_err("reset");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(before.elapsed(), Duration::from_secs(5));
        assert_eq!(server.written(), b"EHLO");
        // The script ran out: silence, until a deadline.
        let silent = tokio::time::timeout(Duration::from_secs(60), server.read(&mut buf)).await;
        assert!(silent.is_err());
    });
}

#[test]
#[should_panic(expected = "did not finish")]
fn a_wait_without_deadline_is_caught_as_a_hang() {
    run_paused("a read without deadline", async {
        let mut server = Scripted::new(Vec::new(), AtEnd::Stall);
        let _ = server.read(&mut [0u8; 4]).await;
    });
}

/// A fuzz driver.
type Driver = fn(&[u8]);

/// Every file in `fuzz/<dir>/<target>/` through `driver`.
fn replay(target: &str, driver: Driver) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let data = std::fs::read(&path).expect("read a seed");
            let outcome = std::panic::catch_unwind(|| driver(&data));
            assert!(outcome.is_ok(), "{} panicked", path.display());
            count += 1;
        }
    }
    count
}

#[test]
fn every_seed_and_regression_runs_clean() {
    let drivers: [(&str, Driver); 7] = [
        ("starttls_dialogue", starttls_dialogue),
        ("greeting_read", greeting_read),
        ("preamble", preamble),
        ("tls_probe", tls_probe),
        ("chain_judge", chain_judge),
        ("input_reader", input_reader),
        ("revocation_answers", revocation_answers),
    ];
    for (target, driver) in drivers {
        // Also the empty input and a few odd ones, whatever the seed directories hold.
        for data in [
            &b""[..],
            b"\x00",
            b"\xff",
            b"\x07\x01\xffs",
            b"\x03\x00\xffr",
        ] {
            driver(data);
        }
        replay(target, driver);
    }
}
