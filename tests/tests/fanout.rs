//! Fan-out sweeps against moto (S3 + SQS) and PostgreSQL (tests/emulators.sh,
//! tests/postgres.sh): `sweep --enqueue-sqs` sends the objects of a bucket as work items,
//! three `listen --sqs` worker processes share one PostgreSQL state store, and one of them is
//! killed with SIGKILL midway. Every object must be recorded exactly once (asserted in the
//! database), no claim may be left unfinished, and a second sweep enqueues nothing. The same
//! through an Azure Storage queue (Azurite) with two workers. Skips without the servers,
//! except under `CI`, where it fails.

use dlp_tests::{server, stores, TempDir};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bucket(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

/// A new, empty database on the test server; returns its URL.
fn fresh_database(pg: &str, name: &str) -> String {
    let db = format!("{name}_{}", std::process::id());
    for sql in [format!("DROP DATABASE IF EXISTS {db}"), format!("CREATE DATABASE {db}")] {
        let out = Command::new("psql")
            .args([pg, "-v", "ON_ERROR_STOP=1", "-qc", &sql])
            .output()
            .expect("psql runs");
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let (base, _) = pg.rsplit_once('/').expect("a database URL");
    format!("{base}/{db}")
}

/// The rows of a query, each a list of its fields.
fn psql(db: &str, sql: &str) -> Vec<Vec<String>> {
    let out =
        Command::new("psql").args([db, "-AtF", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql]).output().unwrap();
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| l.split('\t').map(String::from).collect()).collect()
}

fn count(db: &str, sql: &str) -> u64 {
    psql(db, sql)[0][0].parse().unwrap()
}

fn sweep(home: &Path, args: &[&str]) -> (Option<i32>, Value, String) {
    let out: Output =
        dlp_tests::s3_cmd(home).arg("sweep").args(args).args(["--format", "json"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {stderr}"));
    (out.status.code(), doc["coverage"].clone(), stderr)
}

fn worker(home: &Path, queue: &str, db: &str, target: &str, i: usize) -> Child {
    let dir = home.join(format!("worker-{i}"));
    std::fs::create_dir_all(&dir).unwrap();
    dlp_tests::s3_cmd(&dir)
        .arg("listen")
        .args(["--sqs", queue, "--state", db, "--wait", "1", "--visibility-timeout", "10"])
        .args(["--idle-exit", "20", "-o"])
        .arg(dir.join("findings.jsonl"))
        .arg(target)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
        .spawn()
        .unwrap()
}

fn log(home: &Path, i: usize) -> String {
    std::fs::read_to_string(home.join(format!("worker-{i}/stderr.log"))).unwrap_or_default()
}

#[test]
fn a_fan_out_sweep_scans_each_object_once_across_workers_one_killed() {
    let (Some(pg), Some(_)) = (server("DLP_TEST_POSTGRES"), server("DLP_TEST_S3")) else { return };
    let tmp = TempDir::new("fanout");
    let home = tmp.path().join("home");
    let n: u64 = 5000;
    let b = bucket("fanout");
    let made = stores(&["many", "s3", &b, &n.to_string(), "--seed", "9"]);
    let queue = stores(&["queue", "s3", &bucket("fanout-work")])["queue_url"].as_str().unwrap().to_string();
    let db = fresh_database(&pg, "fanout");
    let target = format!("s3://{b}");

    let started = Instant::now();
    let (code, cov, err) =
        sweep(&home, &[&target, "--state", &db, "--enqueue-sqs", &queue, "--enqueue-batch", "50"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(cov["objects_enqueued"].as_u64(), Some(n), "{err}");
    assert_eq!(cov["messages_enqueued"].as_u64(), Some(n / 50), "{err}");
    assert_eq!(cov["objects_scanned"].as_u64(), Some(0), "the sweep itself scans nothing: {err}");
    assert!(err.contains(&format!("{n} enqueued in {} work items", n / 50)), "{err}");

    let mut workers: Vec<Child> = (0..3).map(|i| worker(&home, &queue, &db, &target, i)).collect();
    let recorded = || count(&db, "SELECT COUNT(*) FROM objects");
    // SIGKILL one worker once a fifth of the objects are recorded, and it has recorded some.
    let first = format!(
        "SELECT COUNT(*) FROM object_claims WHERE worker LIKE '%/{}-%' AND done_at IS NOT NULL",
        workers[0].id()
    );
    let deadline = Instant::now() + Duration::from_secs(240);
    while recorded() < n / 5 || count(&db, &first) == 0 {
        assert!(Instant::now() < deadline, "no progress: {}", log(&home, 0));
        std::thread::sleep(Duration::from_millis(100));
    }
    workers[0].kill().unwrap();
    workers[0].wait().unwrap();
    let at_kill = recorded();
    // Throughput: from the sweep's start to the last object recorded.
    while recorded() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let elapsed = started.elapsed().as_secs_f64();
    for (i, w) in workers.iter_mut().enumerate().skip(1) {
        loop {
            if let Some(status) = w.try_wait().unwrap() {
                assert_eq!(status.code(), Some(0), "worker {i}: {}", log(&home, i));
                break;
            }
            if Instant::now() > deadline {
                let _ = w.kill();
                panic!("worker {i} did not finish: {}", log(&home, i));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    // Every object recorded exactly once, at its current version, with the card numbers.
    let rows = psql(&db, "SELECT COUNT(*), COUNT(DISTINCT key) FROM objects WHERE outcome <> 'error'");
    assert_eq!(rows[0], vec![n.to_string(), n.to_string()], "recorded, distinct keys");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM objects WHERE outcome = 'error'"), 0);
    let cards = made["cards"].as_u64().unwrap();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM objects WHERE outcome = 'findings'"), cards);
    assert_eq!(
        count(&db, "SELECT COUNT(DISTINCT object_id) FROM findings WHERE info_type = 'CREDIT_CARD_NUMBER'"),
        cards
    );
    // Each claim done once; none left to a dead worker.
    assert_eq!(count(&db, "SELECT COUNT(*) FROM object_claims WHERE done_at IS NOT NULL"), n);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM object_claims WHERE done_at IS NULL"), 0);
    // The work was shared: every worker, the killed one too, recorded objects.
    let per_worker = psql(&db, "SELECT worker, COUNT(*) FROM object_claims GROUP BY worker ORDER BY worker");
    assert_eq!(per_worker.len(), 3, "{per_worker:?}");
    // What the killed worker had claimed came back to the others after the visibility timeout.
    assert!(at_kill < n, "the kill came after the end");
    eprintln!(
        "fan-out: {n} objects, 3 workers (one killed at {at_kill} recorded), {elapsed:.1} s from the sweep's start to the last record: {:.0} objects/s; per worker: {per_worker:?}",
        n as f64 / elapsed
    );

    // The queue is empty, and an incremental sweep enqueues nothing: all is unchanged.
    assert_eq!(stores(&["drain", "s3", &queue]).as_array().unwrap().len(), 0);
    let (code, cov, err) = sweep(&home, &[&target, "--state", &db, "--enqueue-sqs", &queue]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(cov["objects_unchanged"].as_u64(), Some(n), "{err}");
    assert!(cov["objects_enqueued"].is_null(), "{err}");
}

#[test]
fn fan_out_refuses_local_targets_and_empty_batches() {
    let tmp = TempDir::new("fanout-args");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(tmp.path().join("dir")).unwrap();
    let local = tmp.path().join("dir");
    let out = dlp_tests::cmd(&home)
        .args(["sweep", local.to_str().unwrap(), "--enqueue-sqs", "http://127.0.0.1:1/1/q"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("give s3://, gs:// or az:// targets"));
    let out = dlp_tests::cmd(&home)
        .args(["sweep", "s3://b", "--enqueue-sqs", "http://127.0.0.1:1/1/q", "--enqueue-batch", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--enqueue-batch must be at least 1"));
}

#[test]
fn a_fan_out_sweep_through_an_azure_storage_queue() {
    let (Some(pg), Some(_), Some(_)) =
        (server("DLP_TEST_POSTGRES"), server("DLP_TEST_AZURITE"), server("DLP_TEST_AZURE_QUEUE"))
    else {
        return;
    };
    let tmp = TempDir::new("fanout-az");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let container = bucket("fanout-az");
    let made = stores(&["many", "azure", &container, "300", "--seed", "4"]);
    let queue =
        stores(&["queue", "azqueue", &bucket("fanout-az-work")])["queue_url"].as_str().unwrap().to_string();
    let db = fresh_database(&pg, "fanout_az");
    let target = format!("az://{container}");
    let azure = |args: &[&str]| {
        let mut c = dlp_tests::cmd(&home);
        c.env("AZURE_STORAGE_CONNECTION_STRING", dlp_tests::azurite_connection_string()).args(args);
        c
    };
    let out =
        azure(&["sweep", &target, "--state", &db, "--enqueue-azure-queue", &queue, "--enqueue-batch", "25"])
            .args(["--format", "json"])
            .output()
            .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let cov: Value = serde_json::from_slice::<Value>(&out.stdout).unwrap()["coverage"].clone();
    assert_eq!(
        (cov["objects_enqueued"].as_u64(), cov["messages_enqueued"].as_u64()),
        (Some(300), Some(12)),
        "{err}"
    );
    // Two workers on the queue.
    let workers: Vec<Child> = (0..2)
        .map(|i| {
            azure(&[
                "listen",
                "--azure-queue",
                &queue,
                "--state",
                &db,
                "--wait",
                "1",
                "--idle-exit",
                "8",
                "-o",
            ])
            .arg(home.join(format!("findings-{i}.jsonl")))
            .arg(&target)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for w in workers {
        let out = w.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let rows = psql(&db, "SELECT COUNT(*), COUNT(DISTINCT key) FROM objects WHERE outcome <> 'error'");
    assert_eq!(rows[0], vec!["300".to_string(), "300".to_string()], "recorded, distinct keys");
    let cards = made["cards"].as_u64().unwrap();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM objects WHERE outcome = 'findings'"), cards);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM object_claims WHERE done_at IS NULL"), 0);
    let findings: usize = (0..2)
        .map(|i| {
            std::fs::read_to_string(home.join(format!("findings-{i}.jsonl")))
                .unwrap_or_default()
                .lines()
                .count()
        })
        .sum();
    assert_eq!(findings as u64, cards, "each card found once, by one worker");
}
