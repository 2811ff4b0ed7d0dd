//! `dlp-worker listen --sqs` against moto (S3 bucket notifications to SQS, started by
//! tests/emulators.sh): uploads are scanned and acted on within seconds (latency printed,
//! not asserted), the same version is not scanned twice, and malformed payloads, events for
//! deleted objects and events outside the targets are acknowledged with a reason; a message
//! that keeps failing goes to the dead-letter queue. Skips without the server, except under
//! `CI`, where it fails.

use dlp_tests::{server, stores, TempDir};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn bucket(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

fn listener(home: &Path, args: &[&str]) -> Command {
    let mut c = dlp_tests::s3_cmd(home);
    c.arg("listen").args(args);
    c
}

fn finish(child: Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn uploads_are_scanned_and_quarantined_within_seconds() {
    if server("DLP_TEST_S3").is_none() {
        return;
    }
    let tmp = TempDir::new("listen-upload");
    let home = tmp.path().join("home");
    let (src, quar) = (bucket("listen-src"), bucket("listen-quar"));
    let q = stores(&["notify", "s3", &src, &bucket("listen-events")]);
    stores(&["mkbucket", "s3", &quar]);
    let queue = q["queue_url"].as_str().unwrap().to_string();
    let policy = tmp.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[quarantine]\nlocation = \"s3://{quar}/held\"\n[[rules]]\nname = \"cards\"\ncategories = [\"PCI\"]\nactions = [\"quarantine\"]\n"
        ),
    )
    .unwrap();
    let found = tmp.path().join("findings.jsonl");
    let child = listener(
        &home,
        &[
            "--sqs",
            &queue,
            "--wait",
            "1",
            "--idle-exit",
            "8",
            &format!("s3://{src}/in"),
            "--policy",
            policy.to_str().unwrap(),
            "-o",
            found.to_str().unwrap(),
        ],
    )
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let count = std::env::var("DLP_TEST_LISTEN_UPLOADS").unwrap_or_else(|_| "200".into());
    let r = stores(&["latency", "s3", &src, &count, found.to_str().unwrap()]);
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    let n: u64 = count.parse().unwrap();
    assert_eq!(r["found"].as_u64(), Some(n), "{r}\n{stderr}");
    eprintln!(
        "upload to finding over {n} uploads: median {:.3} s, p99 {:.3} s, max {:.3} s",
        r["median_s"].as_f64().unwrap(),
        r["p99_s"].as_f64().unwrap(),
        r["max_s"].as_f64().unwrap()
    );
    // Every upload was quarantined by the policy, once.
    let held = stores(&["ls", "s3", &quar]);
    assert_eq!(held.as_object().unwrap().len() as u64, n);
    assert!(stores(&["ls", "s3", &src]).as_object().unwrap().is_empty());
    let lines = std::fs::read_to_string(&found).unwrap();
    assert_eq!(lines.lines().count() as u64, n, "one finding per upload, each scanned once");
}

#[test]
fn bad_events_are_acknowledged_and_failures_go_to_the_dead_letter_queue() {
    if server("DLP_TEST_S3").is_none() {
        return;
    }
    let tmp = TempDir::new("listen-bad");
    let home = tmp.path().join("home");
    let src = bucket("listen-bad-src");
    let q = stores(&["notify", "s3", &src, &bucket("listen-bad-events")]);
    let queue = q["queue_url"].as_str().unwrap().to_string();
    let dlq = stores(&["queue", "sqs", &bucket("listen-bad-dlq")])["queue_url"].as_str().unwrap().to_string();
    let event = |bucket: &str, key: &str| {
        serde_json::json!({"Records": [{"eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": bucket}, "object": {"key": key, "eTag": "x"}}}]})
        .to_string()
    };
    let good = tmp.path().join("good.txt");
    std::fs::write(&good, "card 4539 1488 0343 6467\n").unwrap();
    let bodies = [
        "this is not json".to_string(),
        r#"{"hello": "world"}"#.to_string(),
        event("some-other-bucket", "x.txt"),
        event(&src, "deleted/never-was.txt"),
        r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#.to_string(),
        // In scope, but the bucket does not exist: the scan fails every time.
        event("no-such-bucket-dlp-test", "x.txt"),
    ];
    for b in &bodies {
        stores(&["send", "sqs", &queue, b]);
    }
    // One good upload among them (its notification comes from moto itself).
    stores(&["put", "s3", &src, "ok/good.txt", good.to_str().unwrap()]);
    let found = tmp.path().join("findings.jsonl");
    let child = listener(
        &home,
        &[
            "--sqs",
            &queue,
            "--wait",
            "1",
            "--idle-exit",
            "6",
            "--visibility-timeout",
            "1",
            "--max-receives",
            "2",
            "--dead-letter-queue",
            &dlq,
            &format!("s3://{src}"),
            "s3://no-such-bucket-dlp-test",
            "-o",
            found.to_str().unwrap(),
        ],
    )
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "the listener must not crash: {stderr}");
    assert!(stderr.contains("not JSON"), "{stderr}");
    assert!(
        stderr.contains("not an S3, SNS, EventBridge, Event Grid, CloudEvents or Pub/Sub event"),
        "{stderr}"
    );
    assert!(stderr.contains("s3://some-other-bucket/x.txt: outside the targets"), "{stderr}");
    assert!(stderr.contains("deleted after the event"), "{stderr}");
    assert!(stderr.contains("moved to"), "{stderr}");
    // The good upload was scanned; the queue is empty; the failing event is in the DLQ.
    let lines = std::fs::read_to_string(&found).unwrap();
    assert!(lines.contains(&format!("s3://{src}/ok/good.txt")), "{lines}");
    let left = stores(&["drain", "sqs", &queue]);
    assert_eq!(left.as_array().unwrap().len(), 0, "unacknowledged: {left}");
    let dead = stores(&["drain", "sqs", &dlq]);
    let dead: Vec<Value> =
        dead.as_array().unwrap().iter().map(|b| serde_json::from_str(b.as_str().unwrap()).unwrap()).collect();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["Records"][0]["s3"]["bucket"]["name"], "no-such-bucket-dlp-test");
}

#[test]
fn messages_stay_hidden_while_a_long_scan_runs() {
    if server("DLP_TEST_S3").is_none() {
        return;
    }
    let tmp = TempDir::new("listen-hidden");
    let home = tmp.path().join("home");
    let src = bucket("listen-hidden-src");
    let q = stores(&["notify", "s3", &src, &bucket("listen-hidden-events")]);
    let queue = q["queue_url"].as_str().unwrap().to_string();
    let policy = tmp.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[alert]\njsonl = \"/dev/null\"\n[[rules]]\nname = \"all\"\nactions = [\"alert\"]\n",
    )
    .unwrap();
    let gate = tmp.path().join("gate");
    let found = tmp.path().join("findings.jsonl");
    let f = tmp.path().join("c.txt");
    std::fs::write(&f, "card 4539 1488 0343 6467\n").unwrap();
    let child = listener(
        &home,
        &[
            "--sqs",
            &queue,
            "--wait",
            "1",
            "--idle-exit",
            "3",
            "--visibility-timeout",
            "1",
            &format!("s3://{src}"),
            "--policy",
            policy.to_str().unwrap(),
            "-o",
            found.to_str().unwrap(),
        ],
    )
    .env("DLP_TEST_ACTION_GATE", &gate)
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    stores(&["put", "s3", &src, "slow.txt", f.to_str().unwrap()]);
    // The scan is held for 4 s, four visibility timeouts: another consumer sees nothing.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // Recorded in the state store (findings reach --output when the batch ends).
    loop {
        let out = dlp_tests::cmd(&home).args(["findings", "--format", "json"]).output().unwrap();
        if String::from_utf8_lossy(&out.stdout).contains("slow.txt") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the upload was not scanned");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let t0 = std::time::Instant::now();
    let seen = stores(&["drain", "sqs", &queue]);
    assert!(seen.as_array().unwrap().is_empty(), "the message became visible during the scan: {seen}");
    std::thread::sleep(std::time::Duration::from_secs(4).saturating_sub(t0.elapsed()));
    std::fs::write(&gate, "").unwrap();
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    let lines = std::fs::read_to_string(&found).unwrap();
    assert_eq!(lines.lines().count(), 1, "scanned once: {lines}");
    assert!(stores(&["drain", "sqs", &queue]).as_array().unwrap().is_empty());
}
