//! Policies and actions against real servers on loopback: S3 (moto), Azure Blob (Azurite),
//! PostgreSQL (tests/postgres.sh) and a webhook receiver (tests/receiver.py). Without the
//! servers these tests skip, except under `CI`, where they fail.
//!
//! What they prove: a policy quarantines objects with card numbers, tags objects with emails,
//! deletes objects with private keys under one prefix and leaves the rest untouched (bucket
//! contents, tags, metadata and the audit log asserted); `restore` puts a quarantined object
//! back; a dry run changes nothing; an object overwritten between its scan and the actions is
//! left alone; a worker killed at random points during 200 quarantines loses no object;
//! webhook alerts arrive signed, and a receiver that is down costs retries and a recorded
//! failure; no raw matched value reaches the state store, alerts, audit log or stderr.

use dlp_tests::{root, server, stores, TempDir};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const CARD: &str = "4539 1488 0343 6467";
const EMAIL: &str = "alice.smith@example.org";
const KEY_LINE: &str = "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB";

/// The raw values planted in [`write_sources`]: none may appear where quotes were not asked for.
const PLANTED: [&str; 4] = [CARD, "4539148803436467", EMAIL, KEY_LINE];

fn bucket(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

/// Writes the source files: a card, emails, a private key under `deploy/` and one under
/// `other/`, and a clean file.
fn write_sources(dir: &Path) {
    let files = [
        ("data/cards.txt", format!("customer card {CARD} paid\n")),
        ("contacts/people.txt", format!("contact {EMAIL} or bob.jones@example.net\n")),
        (
            "deploy/id_rsa",
            format!("-----BEGIN RSA PRIVATE KEY-----\n{KEY_LINE}\naFDrBz9vFqU4yvAQtJZx6bSLQ1k6t8hJqYXY7vKh2rGQxIoDB9nSHb2W8e1U0QIDAQAB\n-----END RSA PRIVATE KEY-----\n"),
        ),
        (
            "other/id_rsa",
            format!("-----BEGIN RSA PRIVATE KEY-----\n{KEY_LINE}\naFDrBz9vFqU4yvAQtJZx6bSLQ1k6t8hJqYXY7vKh2rGQxIoDB9nSHb2W8e1U0QIDAQAB\n-----END RSA PRIVATE KEY-----\n"),
        ),
        ("clean/readme.txt", "nothing to see here\n".to_string()),
    ];
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

/// The policy of these tests; `extra` holds the `[alert]` table (alerts to `/dev/null` when
/// empty).
fn policy_text(scheme: &str, src: &str, quar: &str, extra: &str) -> String {
    let extra = if extra.is_empty() { "[alert]\njsonl = \"/dev/null\"" } else { extra };
    format!(
        r#"
[quarantine]
location = "{scheme}://{quar}/held"

{extra}

[[rules]]
name = "keys-in-deploy"
scope = ["{scheme}://{src}/deploy/**"]
info_types = ["PRIVATE_KEY"]
actions = ["alert", "delete"]

[[rules]]
name = "cards"
categories = ["PCI"]
min_likelihood = "LIKELY"
classification = "RESTRICTED"
actions = ["alert", "tag", "quarantine"]

[[rules]]
name = "emails"
info_types = ["EMAIL_ADDRESS"]
actions = ["tag"]
"#
    )
}

/// The environment for one store, with nothing from the machine's own configuration.
fn env_for(store: &str) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("AWS_CONFIG_FILE", "/nonexistent/aws-config".to_string()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials".to_string()),
    ];
    match store {
        "s3" => env.extend([
            ("AWS_ENDPOINT_URL", server("DLP_TEST_S3").unwrap_or_default()),
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
        ]),
        "azure" => env.push(("AZURE_STORAGE_CONNECTION_STRING", dlp_tests::azurite_connection_string())),
        _ => unreachable!(),
    }
    env
}

/// `dlp-worker ARGS` with `env`, its state store and fingerprint key under `home`.
fn worker_cmd(home: &Path, env: &[(&str, String)], args: &[&str]) -> Command {
    let mut c = dlp_tests::cmd(home);
    for v in
        ["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"]
    {
        c.env_remove(v);
    }
    c.env_remove("AZURE_STORAGE_CONNECTION_STRING").env_remove("DLP_TEST_ACTION_GATE");
    for (k, v) in env {
        c.env(k, v);
    }
    c.args(args).stdin(Stdio::null());
    c
}

fn worker(home: &Path, env: &[(&str, String)], args: &[&str]) -> Output {
    worker_cmd(home, env, args).output().expect("dlp-worker runs")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn ls(store: &str, bucket: &str) -> Value {
    stores(&["ls", store, bucket])
}

fn keys(listing: &Value) -> BTreeSet<String> {
    listing.as_object().unwrap().keys().cloned().collect()
}

fn sha256_file(p: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

/// The audit log as JSON, with extra `dlp-worker audit` arguments.
fn audit(home: &Path, args: &[&str]) -> Vec<Value> {
    let mut a = vec!["audit", "--format", "json", "--limit", "100000"];
    a.extend_from_slice(args);
    let out = worker(home, &[], &a);
    assert!(out.status.success(), "audit failed: {}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array().unwrap().clone()
}

/// (action, status, object) of every audit row.
fn audit_summary(rows: &[Value]) -> BTreeSet<(String, String, String)> {
    rows.iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
                r["url"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn assert_no_planted(what: &str, bytes: &[u8]) {
    let hay = String::from_utf8_lossy(bytes);
    for p in PLANTED {
        assert!(!hay.contains(p), "{what} contains the raw value {p:?}");
    }
}

/// Every file under `dir` (the state store with its WAL, alert files) holds no raw value.
fn assert_no_planted_in_files(dir: &Path) {
    for e in walk(dir) {
        assert_no_planted(&e.display().to_string(), &std::fs::read(&e).unwrap());
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn set(items: &[(&str, &str, String)]) -> BTreeSet<(String, String, String)> {
    items.iter().map(|(a, s, u)| (a.to_string(), s.to_string(), u.clone())).collect()
}

#[test]
fn s3_policy_quarantines_tags_deletes_and_restores() {
    if server("DLP_TEST_S3").is_none() {
        return;
    }
    let tmp = TempDir::new("policy-s3");
    let home = tmp.path().join("home");
    let (src, quar) = (bucket("pol-s3-src"), bucket("pol-s3-quar"));
    write_sources(&tmp.path().join("src"));
    stores(&["upload", "s3", &src, tmp.path().join("src").to_str().unwrap()]);
    stores(&["mkbucket", "s3", &quar]);
    let alerts = tmp.path().join("home/alerts.jsonl");
    std::fs::create_dir_all(&home).unwrap();
    let policy = tmp.path().join("policy.toml");
    let alert = format!("[alert]\njsonl = \"{}\"", alerts.display());
    std::fs::write(&policy, policy_text("s3", &src, &quar, &alert)).unwrap();
    let env = env_for("s3");
    let target = format!("s3://{src}");
    let before = ls("s3", &src);
    let url = |k: &str| format!("s3://{src}/{k}");

    // Without --allow-delete the policy is refused before anything is read or changed.
    let out = worker(&home, &env, &["scan", &target, "--policy", policy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--allow-delete"), "{}", text(&out));

    // A dry run lists every action and takes none.
    let out = worker(
        &home,
        &env,
        &["scan", &target, "--policy", policy.to_str().unwrap(), "--dry-run", "-o", "/dev/null"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(ls("s3", &src), before, "a dry run changed the bucket");
    assert!(keys(&ls("s3", &quar)).is_empty());
    assert!(!alerts.exists() || std::fs::read(&alerts).unwrap().is_empty(), "a dry run sent alerts");
    let dry = audit(&home, &["--status", "dry_run"]);
    let expected = set(&[
        ("alert", "dry_run", url("deploy/id_rsa")),
        ("delete", "dry_run", url("deploy/id_rsa")),
        ("alert", "dry_run", url("data/cards.txt")),
        ("tag", "dry_run", url("data/cards.txt")),
        ("quarantine", "dry_run", url("data/cards.txt")),
        ("tag", "dry_run", url("contacts/people.txt")),
    ]);
    assert_eq!(audit_summary(&dry), expected);
    assert!(
        text(&out).contains(&format!("would quarantine to s3://{quar}/held/s3/{src}/data/cards.txt")),
        "{}",
        text(&out)
    );

    // The real run.
    let out = worker(
        &home,
        &env,
        &["scan", &target, "--policy", policy.to_str().unwrap(), "--allow-delete", "-o", "/dev/null"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_no_planted("scan stderr", &out.stderr);
    let after = ls("s3", &src);
    assert_eq!(
        keys(&after),
        ["clean/readme.txt", "contacts/people.txt", "other/id_rsa"].iter().map(|s| s.to_string()).collect()
    );
    // Untouched: same bytes, and only the email file tagged.
    for k in ["clean/readme.txt", "other/id_rsa", "contacts/people.txt"] {
        assert_eq!(after[k]["sha256"], before[k]["sha256"], "{k} changed");
    }
    assert_eq!(after["clean/readme.txt"]["tags"], serde_json::json!({}));
    assert_eq!(after["other/id_rsa"]["tags"], serde_json::json!({}));
    assert_eq!(
        after["contacts/people.txt"]["tags"],
        serde_json::json!({"dlp-classification": "CONFIDENTIAL", "dlp-info-types": "EMAIL_ADDRESS"})
    );
    // Quarantined: the same bytes under the quarantine prefix, with the record of why.
    let q = ls("s3", &quar);
    let qkey = format!("held/s3/{src}/data/cards.txt");
    assert_eq!(keys(&q), [qkey.clone()].into_iter().collect());
    assert_eq!(q[&qkey]["sha256"], before["data/cards.txt"]["sha256"]);
    let meta = &q[&qkey]["metadata"];
    assert_eq!(meta["dlp-source"], url("data/cards.txt"));
    assert_eq!(meta["dlp-rule"], "cards");
    assert!(meta["dlp-reason"].as_str().unwrap().contains("CREDIT_CARD_NUMBER"), "{meta}");

    // The audit log: who, what, why, version and outcome of each action.
    let done = audit(&home, &["--status", "done"]);
    let expected = set(&[
        ("alert", "done", url("deploy/id_rsa")),
        ("delete", "done", url("deploy/id_rsa")),
        ("alert", "done", url("data/cards.txt")),
        ("tag", "done", url("data/cards.txt")),
        ("quarantine", "done", url("data/cards.txt")),
        ("tag", "done", url("contacts/people.txt")),
    ]);
    assert_eq!(audit_summary(&done), expected);
    for r in &done {
        assert!(r["actor"].as_str().unwrap().contains('@'), "{r}");
        assert!(r["version"].as_str().is_some_and(|v| !v.is_empty()), "{r}");
        assert!(!r["reason"].as_str().unwrap().is_empty(), "{r}");
        assert!(r["finished_at"].as_i64().unwrap() >= r["started_at"].as_i64().unwrap());
    }
    let qrow = done.iter().find(|r| r["action"] == "quarantine").unwrap();
    assert_eq!(qrow["destination"], format!("s3://{quar}/{qkey}"));
    // Two alerts, carrying redacted values and fingerprints.
    let lines: Vec<Value> =
        std::fs::read_to_string(&alerts).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    let card_alert = lines.iter().find(|a| a["rule"] == "cards").unwrap();
    assert_eq!(card_alert["findings"][0]["redacted"], "**** **** **** 6467");
    assert_eq!(card_alert["findings"][0]["fingerprint"].as_str().unwrap().len(), 64);

    // Stored findings are queryable; no raw value anywhere in the store or the alerts.
    let out = worker(
        &home,
        &[],
        &["findings", "--target", &target, "--info-type", "CREDIT_CARD_NUMBER", "--format", "json"],
    );
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!rows.as_array().unwrap().is_empty());
    assert!(rows
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["info_type"] == "CREDIT_CARD_NUMBER" && r.get("quote").is_none()));
    let out = worker(&home, &[], &["audit", "--format", "csv"]);
    assert_no_planted("audit output", &out.stdout);
    assert_no_planted_in_files(&home);

    // Restore puts it back, byte for byte, and empties the quarantine; twice is an error.
    let out = worker(&home, &env, &["restore", &url("data/cards.txt")]);
    assert!(out.status.success(), "{}", text(&out));
    let restored = ls("s3", &src);
    assert_eq!(restored["data/cards.txt"]["sha256"], before["data/cards.txt"]["sha256"]);
    assert_eq!(
        restored["data/cards.txt"]["metadata"],
        serde_json::json!({}),
        "quarantine metadata came back"
    );
    assert!(keys(&ls("s3", &quar)).is_empty());
    let out = worker(&home, &env, &["restore", &url("data/cards.txt")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("restored already"), "{}", text(&out));
    let restores = audit(&home, &["--action", "restore"]);
    assert_eq!(audit_summary(&restores), set(&[("restore", "done", url("data/cards.txt"))]));

    // Positive control for the grep: with --include-quote the store does hold the value.
    let out =
        worker(&home, &env, &["scan", &format!("s3://{src}/data"), "--include-quote", "-o", "/dev/null"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let db = std::fs::read(home.join("dlp-worker/state.db")).unwrap();
    let wal = std::fs::read(home.join("dlp-worker/state.db-wal")).unwrap_or_default();
    let all = [db, wal].concat();
    assert!(String::from_utf8_lossy(&all).contains(CARD), "the quote was not stored with --include-quote");
}

#[test]
fn azure_policy_quarantines_and_deletes() {
    if server("DLP_TEST_AZURITE").is_none() {
        return;
    }
    let tmp = TempDir::new("policy-az");
    let home = tmp.path().join("home");
    let (src, quar) = (bucket("pol-az-src"), bucket("pol-az-quar"));
    write_sources(&tmp.path().join("src"));
    stores(&["upload", "azure", &src, tmp.path().join("src").to_str().unwrap()]);
    stores(&["mkbucket", "azure", &quar]);
    let policy = tmp.path().join("policy.toml");
    std::fs::write(&policy, policy_text("az", &src, &quar, "")).unwrap();
    let before = ls("azure", &src);
    let out = worker(
        &home,
        &env_for("azure"),
        &[
            "scan",
            &format!("az://{src}"),
            "--policy",
            policy.to_str().unwrap(),
            "--allow-delete",
            "-o",
            "/dev/null",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let after = ls("azure", &src);
    assert_eq!(
        keys(&after),
        ["clean/readme.txt", "contacts/people.txt", "other/id_rsa"].iter().map(|s| s.to_string()).collect()
    );
    assert_eq!(after["contacts/people.txt"]["tags"]["dlp-classification"], "CONFIDENTIAL");
    let q = ls("azure", &quar);
    let qkey = format!("held/az/{src}/data/cards.txt");
    assert_eq!(keys(&q), [qkey.clone()].into_iter().collect());
    assert_eq!(q[&qkey]["sha256"], before["data/cards.txt"]["sha256"]);
    assert_eq!(q[&qkey]["metadata"]["dlp_rule"], "cards");
    let url = |k: &str| format!("az://{src}/{k}");
    let expected = set(&[
        ("alert", "done", url("deploy/id_rsa")),
        ("alert", "done", url("data/cards.txt")),
        ("delete", "done", url("deploy/id_rsa")),
        ("tag", "done", url("data/cards.txt")),
        ("quarantine", "done", url("data/cards.txt")),
        ("tag", "done", url("contacts/people.txt")),
    ]);
    assert_eq!(audit_summary(&audit(&home, &[])), expected);
    let out = worker(&home, &env_for("azure"), &["restore", &url("data/cards.txt")]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(ls("azure", &src)["data/cards.txt"]["sha256"], before["data/cards.txt"]["sha256"]);
    assert!(keys(&ls("azure", &quar)).is_empty());
}

/// GCS through fake-gcs-server: tags (custom metadata) and conditional deletes. Its
/// quarantine is not tested: fake-gcs-server does not serve the XML API upload that
/// object_store uses (README, "Policies and actions").
#[test]
fn gcs_policy_tags_and_deletes() {
    let Some(gcs) = server("DLP_TEST_GCS") else { return };
    let tmp = TempDir::new("policy-gcs");
    let home = tmp.path().join("home");
    let src = bucket("pol-gcs-src");
    write_sources(&tmp.path().join("src"));
    stores(&["upload", "gcs", &src, tmp.path().join("src").to_str().unwrap()]);
    let policy = tmp.path().join("policy.toml");
    let text_ = format!(
        "[[rules]]\nname = \"keys\"\nscope = [\"gs://{src}/deploy/**\"]\ninfo_types = [\"PRIVATE_KEY\"]\nactions = [\"delete\"]\n\n[[rules]]\nname = \"pii\"\nactions = [\"tag\"]\n"
    );
    std::fs::write(&policy, text_).unwrap();
    let env = vec![("STORAGE_EMULATOR_HOST", gcs.clone())];
    let out = worker(
        &home,
        &env,
        &[
            "scan",
            &format!("gs://{src}"),
            "--policy",
            policy.to_str().unwrap(),
            "--allow-delete",
            "-o",
            "/dev/null",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let list = Command::new("curl").args(["-sf", &format!("{gcs}/storage/v1/b/{src}/o")]).output().unwrap();
    let listed: Value = serde_json::from_slice(&list.stdout).unwrap();
    let objects: std::collections::BTreeMap<String, Value> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["name"].as_str().unwrap().to_string(), o.get("metadata").cloned().unwrap_or(Value::Null)))
        .collect();
    assert_eq!(
        objects.keys().cloned().collect::<BTreeSet<_>>(),
        ["clean/readme.txt", "contacts/people.txt", "data/cards.txt", "other/id_rsa"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    assert_eq!(objects["data/cards.txt"]["dlp-info-types"], "CREDIT_CARD_NUMBER");
    assert_eq!(objects["contacts/people.txt"]["dlp-classification"], "CONFIDENTIAL");
    assert_eq!(objects["clean/readme.txt"], Value::Null);
    let url = |k: &str| format!("gs://{src}/{k}");
    assert_eq!(
        audit_summary(&audit(&home, &[])),
        set(&[
            ("delete", "done", url("deploy/id_rsa")),
            ("tag", "done", url("data/cards.txt")),
            ("tag", "done", url("contacts/people.txt")),
            ("tag", "done", url("other/id_rsa")),
        ])
    );
}

/// Waits until the state store has findings for `n` objects (their scans are recorded).
fn wait_for_findings(home: &Path, target: &str, n: usize, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = worker(home, &[], &["findings", "--target", target, "--format", "json"]);
        if out.status.success() {
            let rows: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            let objects: BTreeSet<&str> =
                rows.as_array().into_iter().flatten().filter_map(|r| r["object"].as_str()).collect();
            if objects.len() >= n {
                return;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the scan ended ({status}) before its findings were recorded");
        }
        assert!(Instant::now() < deadline, "no findings recorded within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn objects_overwritten_after_the_scan_are_left_alone() {
    if server("DLP_TEST_S3").is_none() {
        return;
    }
    let tmp = TempDir::new("policy-race");
    let home = tmp.path().join("home");
    let (src, quar) = (bucket("pol-race-src"), bucket("pol-race-quar"));
    write_sources(&tmp.path().join("src"));
    stores(&["upload", "s3", &src, tmp.path().join("src").to_str().unwrap()]);
    stores(&["mkbucket", "s3", &quar]);
    let policy = tmp.path().join("policy.toml");
    std::fs::write(&policy, policy_text("s3", &src, &quar, "")).unwrap();
    let gate = tmp.path().join("gate");
    let targets = [format!("s3://{src}/data"), format!("s3://{src}/deploy")];
    let mut cmd = worker_cmd(
        &home,
        &env_for("s3"),
        &[
            "scan",
            &targets[0],
            &targets[1],
            "--policy",
            policy.to_str().unwrap(),
            "--allow-delete",
            "-o",
            "/dev/null",
        ],
    );
    cmd.env("DLP_TEST_ACTION_GATE", &gate).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    wait_for_findings(&home, &format!("s3://{src}"), 2, &mut child);
    // Both objects were scanned; their actions wait. Overwrite them, then let the actions go.
    let new = tmp.path().join("new.txt");
    std::fs::write(&new, "rewritten by its owner\n").unwrap();
    stores(&["put", "s3", &src, "data/cards.txt", new.to_str().unwrap()]);
    stores(&["put", "s3", &src, "deploy/id_rsa", new.to_str().unwrap()]);
    std::fs::write(&gate, "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let after = ls("s3", &src);
    let new_sha = sha256_file(&new);
    assert_eq!(after["data/cards.txt"]["sha256"], new_sha.as_str());
    assert_eq!(after["deploy/id_rsa"]["sha256"], new_sha.as_str());
    assert!(keys(&ls("s3", &quar)).is_empty(), "a changed object was quarantined");
    let rows = audit(&home, &[]);
    for action in ["quarantine", "delete"] {
        let r = rows.iter().find(|r| r["action"] == action).unwrap_or_else(|| panic!("no {action} row"));
        assert_eq!(r["status"], "skipped", "{r}");
        let detail = r["detail"].as_str().unwrap();
        assert!(detail.contains("changed") || detail.contains("overwritten"), "{r}");
    }

    // A quarantined version is never replaced by a later one at the same place: the second
    // quarantine fails, and both the first copy and the new original stay.
    let v1 = tmp.path().join("v1.txt");
    std::fs::write(&v1, format!("first card {CARD}\n")).unwrap();
    stores(&["put", "s3", &src, "data/cards.txt", v1.to_str().unwrap()]);
    let scan = |home: &Path| {
        worker(
            home,
            &env_for("s3"),
            &["scan", &targets[0], "--policy", policy.to_str().unwrap(), "--allow-delete", "-o", "/dev/null"],
        )
    };
    assert_eq!(scan(&home).status.code(), Some(1));
    let qkey = format!("held/s3/{src}/data/cards.txt");
    assert_eq!(ls("s3", &quar)[&qkey]["sha256"], sha256_file(&v1).as_str());
    let v2 = tmp.path().join("v2.txt");
    std::fs::write(&v2, format!("second card {CARD}\n")).unwrap();
    stores(&["put", "s3", &src, "data/cards.txt", v2.to_str().unwrap()]);
    let out = scan(&home);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("holds another quarantined version"), "{}", text(&out));
    assert_eq!(ls("s3", &quar)[&qkey]["sha256"], sha256_file(&v1).as_str());
    assert_eq!(ls("s3", &src)["data/cards.txt"]["sha256"], sha256_file(&v2).as_str());
}

fn hmac_hex(secret: &[u8], ts: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Starts tests/receiver.py; returns it and its port.
fn receiver(out: &Path, fail_first: u32) -> (std::process::Child, u16) {
    let mut child = Command::new("python3")
        .arg(root().join("tests/receiver.py"))
        .arg(out)
        .args(["--fail-first", &fail_first.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line)
        .unwrap();
    (child, line.trim().parse().expect("receiver prints its port"))
}

#[test]
fn webhook_alerts_are_signed_retried_and_failures_recorded() {
    if server("DLP_TEST_S3").is_none() {
        return;
    }
    let tmp = TempDir::new("policy-hook");
    let home = tmp.path().join("home");
    let (src, quar) = (bucket("pol-hook-src"), bucket("pol-hook-quar"));
    write_sources(&tmp.path().join("src"));
    stores(&["upload", "s3", &src, tmp.path().join("src").to_str().unwrap()]);
    stores(&["mkbucket", "s3", &quar]);
    let got = tmp.path().join("received.jsonl");
    // The first two deliveries fail with 503: they are retried.
    let (mut rx, port) = receiver(&got, 2);
    let secret = "hook-secret-for-tests";
    let alerts = tmp.path().join("alerts.jsonl");
    let hook = |url: String| {
        format!(
            "[alert]\njsonl = \"{}\"\n[alert.webhook]\nurl = \"{url}\"\nsecret_env = \"DLP_TEST_HOOK_SECRET\"\ntimeout = 2\nretries = 3\n",
            alerts.display()
        )
    };
    let policy = tmp.path().join("policy.toml");
    std::fs::write(
        &policy,
        policy_text("s3", &src, &quar, &hook(format!("http://127.0.0.1:{port}/hooks/dlp"))),
    )
    .unwrap();
    let mut env = env_for("s3");
    env.push(("DLP_TEST_HOOK_SECRET", secret.to_string()));
    let args = [
        "scan",
        &format!("s3://{src}"),
        "--policy",
        policy.to_str().unwrap(),
        "--dry-run",
        "-o",
        "/dev/null",
    ];
    // A dry run sends nothing.
    let out = worker(&home, &env, &args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!got.exists() || std::fs::read_to_string(&got).unwrap().is_empty());
    let out = worker(
        &home,
        &env,
        &args[..args.len() - 3]
            .iter()
            .chain(&["--allow-delete", "-o", "/dev/null"])
            .copied()
            .collect::<Vec<_>>(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let _ = rx.kill();
    let _ = rx.wait();
    let received: Vec<Value> =
        std::fs::read_to_string(&got).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(received.len(), 4, "two alerts, two of the deliveries failed once: {received:?}");
    assert_eq!(received.iter().filter(|r| r["status"] == 503).count(), 2);
    let mut delivered = BTreeSet::new();
    for r in &received {
        let body = r["body"].as_str().unwrap();
        let ts = r["headers"]["x-dlp-timestamp"].as_str().unwrap();
        assert_eq!(r["headers"]["x-dlp-signature"].as_str().unwrap(), hmac_hex(secret.as_bytes(), ts, body));
        assert_eq!(r["path"], "/hooks/dlp");
        assert_no_planted("webhook body", body.as_bytes());
        if r["status"] == 200 {
            let doc: Value = serde_json::from_str(body).unwrap();
            delivered.insert(doc["object"].as_str().unwrap().to_string());
        }
    }
    let url = |k: &str| format!("s3://{src}/{k}");
    assert_eq!(delivered, [url("data/cards.txt"), url("deploy/id_rsa")].into_iter().collect());
    let hooks: Vec<Value> = audit(&home, &["--action", "alert", "--status", "done"])
        .into_iter()
        .filter(|r| r["destination"].as_str().unwrap().starts_with("webhook "))
        .collect();
    assert_eq!(hooks.len(), 2);

    // A receiver that is down: retries, then a recorded failure; the scan finishes, the other
    // sink still gets the alert, and the exit code says something failed.
    let src2 = bucket("pol-hook-src2");
    stores(&["upload", "s3", &src2, tmp.path().join("src/data").to_str().unwrap()]);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap().port();
    drop(closed);
    std::fs::write(&policy, policy_text("s3", &src2, &quar, &hook(format!("http://127.0.0.1:{dead}/x"))))
        .unwrap();
    let started = Instant::now();
    let out = worker(
        &home,
        &env,
        &[
            "scan",
            &format!("s3://{src2}"),
            "--policy",
            policy.to_str().unwrap(),
            "--allow-delete",
            "-o",
            "/dev/null",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(text(&out).contains("cannot connect"), "{}", text(&out));
    let rows = audit(&home, &["--target", &format!("s3://{src2}/"), "--action", "alert"]);
    let statuses: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["destination"].as_str().unwrap().split(' ').next().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [("jsonl".to_string(), "done".to_string()), ("webhook".to_string(), "failed".to_string())]
            .into_iter()
            .collect()
    );
    let failed = rows.iter().find(|r| r["status"] == "failed").unwrap();
    assert!(failed["detail"].as_str().unwrap().contains("4 attempts"), "{failed}");
    // The quarantine after the failed alert still happened.
    assert!(keys(&ls("s3", &quar)).contains(&format!("held/s3/{src2}/cards.txt")));
    assert_no_planted_in_files(&home);
}

#[test]
fn alerts_reach_an_sqs_queue_and_an_sns_topic() {
    if server("DLP_TEST_S3").is_none() {
        return;
    }
    let tmp = TempDir::new("policy-sqs");
    let home = tmp.path().join("home");
    let (src, quar) = (bucket("pol-sqs-src"), bucket("pol-sqs-quar"));
    write_sources(&tmp.path().join("src"));
    stores(&["upload", "s3", &src, tmp.path().join("src").to_str().unwrap()]);
    stores(&["mkbucket", "s3", &quar]);
    let q = stores(&["queue", "sqs", &bucket("pol-alerts")]);
    let (queue_url, topic) = (q["queue_url"].as_str().unwrap(), q["topic_arn"].as_str().unwrap());
    let alert = format!("[alert.sqs]\nqueue_url = \"{queue_url}\"\n[alert.sns]\ntopic_arn = \"{topic}\"\n");
    let policy = tmp.path().join("policy.toml");
    std::fs::write(&policy, policy_text("s3", &src, &quar, &alert)).unwrap();
    let out = worker(
        &home,
        &env_for("s3"),
        &[
            "scan",
            &format!("s3://{src}"),
            "--policy",
            policy.to_str().unwrap(),
            "--allow-delete",
            "--include-quote",
            "-o",
            "/dev/null",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // Two alerts (the key in deploy/, the card), each sent to the queue and to the topic,
    // which delivers to the same queue: four messages, no raw value even with quotes on.
    let bodies = stores(&["drain", "sqs", queue_url]);
    let bodies: Vec<Value> = bodies
        .as_array()
        .unwrap()
        .iter()
        .map(|b| serde_json::from_str(b.as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(bodies.len(), 4, "{bodies:?}");
    let mut objects: Vec<&str> = bodies.iter().map(|b| b["object"].as_str().unwrap()).collect();
    objects.sort();
    let url = |k: &str| format!("s3://{src}/{k}");
    assert_eq!(
        objects,
        [url("data/cards.txt"), url("data/cards.txt"), url("deploy/id_rsa"), url("deploy/id_rsa")]
    );
    for b in &bodies {
        assert_no_planted("an SQS message", b.to_string().as_bytes());
        assert!(b["findings"][0]["fingerprint"].as_str().is_some(), "{b}");
    }
    let rows = audit(&home, &["--action", "alert"]);
    let sinks: BTreeSet<String> = rows
        .iter()
        .map(|r| r["destination"].as_str().unwrap().split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(sinks, ["sns".to_string(), "sqs".to_string()].into_iter().collect());
    assert!(rows.iter().all(|r| r["status"] == "done"), "{rows:?}");
}

#[test]
fn redact_writes_masked_copies_beside_or_in_place() {
    if server("DLP_TEST_S3").is_none() {
        return;
    }
    let tmp = TempDir::new("policy-redact");
    let home = tmp.path().join("home");
    let src = bucket("pol-red-src");
    write_sources(&tmp.path().join("src"));
    stores(&["upload", "s3", &src, tmp.path().join("src").to_str().unwrap()]);
    let policy = tmp.path().join("policy.toml");
    std::fs::write(&policy, "[[rules]]\nname = \"all\"\nactions = [\"redact\"]\n").unwrap();
    let before = ls("s3", &src);
    let out = worker(
        &home,
        &env_for("s3"),
        &["scan", &format!("s3://{src}"), "--policy", policy.to_str().unwrap(), "-o", "/dev/null"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let after = ls("s3", &src);
    // Originals untouched; a copy beside each object with findings, clean ones without.
    for (k, v) in before.as_object().unwrap() {
        assert_eq!(after[k]["sha256"], v["sha256"], "{k} changed");
    }
    let copies: BTreeSet<String> = keys(&after).into_iter().filter(|k| k.ends_with(".redacted")).collect();
    let want: BTreeSet<String> = ["data/cards.txt", "contacts/people.txt", "deploy/id_rsa", "other/id_rsa"]
        .iter()
        .map(|k| format!("{k}.redacted"))
        .collect();
    assert_eq!(copies, want);
    let get = |k: &str| {
        let f = tmp.path().join("got");
        let o = Command::new("python3")
            .arg("-c")
            .arg("import boto3,sys,os; c=boto3.client('s3',endpoint_url=os.environ['DLP_TEST_S3'],region_name='us-east-1',aws_access_key_id='t',aws_secret_access_key='t'); open(sys.argv[3],'wb').write(c.get_object(Bucket=sys.argv[1],Key=sys.argv[2])['Body'].read())")
            .args([&src, k, f.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(o.success());
        std::fs::read_to_string(f).unwrap()
    };
    assert_eq!(get("data/cards.txt.redacted"), "customer card [CREDIT_CARD_NUMBER] paid\n");
    assert_eq!(get("contacts/people.txt.redacted"), "contact [EMAIL_ADDRESS] or [EMAIL_ADDRESS]\n");
    // A second scan finds nothing in the copies.
    let out = worker(
        &home,
        &env_for("s3"),
        &["scan", &format!("s3://{src}"), "--include", "*.redacted", "-o", "/dev/null"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // In place on a local folder; an archive member cannot be rewritten and is skipped.
    let dir = tmp.path().join("local");
    write_sources(&dir);
    let zipped = Command::new("python3")
        .args(["-c", "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],'w'); z.writestr('in.txt', sys.argv[2]); z.close()"])
        .arg(dir.join("bundle.zip"))
        .arg(format!("card {CARD}\n"))
        .status()
        .unwrap();
    assert!(zipped.success());
    let zip_before = std::fs::read(dir.join("bundle.zip")).unwrap();
    std::fs::write(
        &policy,
        "[redact]\nmode = \"replace\"\n[[rules]]\nname = \"all\"\nactions = [\"redact\"]\n",
    )
    .unwrap();
    let out = worker(
        &home,
        &[],
        &["scan", dir.to_str().unwrap(), "--policy", policy.to_str().unwrap(), "-o", "/dev/null"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(dir.join("data/cards.txt")).unwrap(),
        "customer card [CREDIT_CARD_NUMBER] paid\n"
    );
    assert_eq!(std::fs::read_to_string(dir.join("clean/readme.txt")).unwrap(), "nothing to see here\n");
    assert_eq!(std::fs::read(dir.join("bundle.zip")).unwrap(), zip_before);
    let skipped = audit(&home, &["--action", "redact", "--status", "skipped"]);
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0]["url"].as_str().unwrap().ends_with("bundle.zip"));
    assert!(skipped[0]["detail"].as_str().unwrap().contains("archive members"), "{skipped:?}");
    let out = worker(&home, &[], &["scan", dir.to_str().unwrap(), "--exclude", "*.zip", "-o", "/dev/null"]);
    assert_eq!(out.status.code(), Some(0), "the redacted files still hold findings: {}", text(&out));
}

/// A small deterministic generator (xorshift) for the kill times.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn sigkill_during_quarantines_loses_no_object() {
    if server("DLP_TEST_S3").is_none() {
        return;
    }
    let tmp = TempDir::new("policy-kill");
    let dir = tmp.path().join("src");
    std::fs::create_dir_all(&dir).unwrap();
    let mut want = BTreeSet::new();
    for i in 0..200 {
        std::fs::write(dir.join(format!("obj-{i:03}.txt")), format!("row {i}: card {CARD} on file\n"))
            .unwrap();
        want.insert(format!("obj-{i:03}.txt"));
    }
    let env = env_for("s3");
    let seeds: Vec<u64> = match std::env::var("DLP_TEST_KILL_SEEDS") {
        Ok(v) => v.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
        Err(_) => vec![1, 2, 3, 4, 5],
    };
    let mut recovered_total = 0;
    for seed in seeds {
        let home = tmp.path().join(format!("home-{seed}"));
        let (src, quar) = (bucket(&format!("pol-kill{seed}-src")), bucket(&format!("pol-kill{seed}-quar")));
        stores(&["upload", "s3", &src, dir.to_str().unwrap()]);
        stores(&["mkbucket", "s3", &quar]);
        let policy = tmp.path().join(format!("policy-{seed}.toml"));
        std::fs::write(&policy, policy_text("s3", &src, &quar, "")).unwrap();
        let args = [
            "scan",
            &format!("s3://{src}"),
            "--policy",
            policy.to_str().unwrap(),
            "--allow-delete",
            "-o",
            "/dev/null",
            "-q",
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
        // Two kills at random points, then a run to the end.
        let mut kills = Vec::new();
        for _ in 0..2 {
            let delay = Duration::from_millis(200 + rng.next() % 2500);
            let mut child =
                worker_cmd(&home, &env, &args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
            std::thread::sleep(delay);
            let finished = child.try_wait().unwrap().is_some();
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
            kills.push((delay, finished));
        }
        let out = worker(&home, &env, &args);
        // 1 when objects were left to quarantine, 0 when the killed runs had done them all.
        assert!(matches!(out.status.code(), Some(0 | 1)), "seed {seed}, kills {kills:?}: {}", text(&out));
        // Every object in exactly one place: all in quarantine, none left, none lost.
        let left = keys(&ls("s3", &src));
        let q = ls("s3", &quar);
        let held: BTreeSet<String> = keys(&q)
            .iter()
            .map(|k| k.strip_prefix(&format!("held/s3/{src}/")).unwrap().to_string())
            .collect();
        assert!(left.is_empty(), "seed {seed}: still in the source: {left:?}");
        assert_eq!(held, want, "seed {seed}: quarantine holds other objects");
        for (k, v) in q.as_object().unwrap() {
            let name = k.rsplit('/').next().unwrap();
            assert_eq!(
                v["sha256"].as_str().unwrap(),
                sha256_file(&dir.join(name)),
                "seed {seed}: {k} differs"
            );
        }
        // The audit log agrees: one finished quarantine per object, nothing left pending.
        let rows = audit(&home, &["--action", "quarantine"]);
        assert!(
            rows.iter().all(|r| r["status"] == "done"),
            "seed {seed}: {:?}",
            rows.iter().filter(|r| r["status"] != "done").collect::<Vec<_>>()
        );
        let urls: Vec<&str> = rows.iter().map(|r| r["url"].as_str().unwrap()).collect();
        let unique: BTreeSet<&str> = urls.iter().copied().collect();
        assert_eq!(urls.len(), 200, "seed {seed}: {} quarantine rows", urls.len());
        assert_eq!(unique.len(), 200);
        let recovered =
            rows.iter().filter(|r| r["detail"].as_str().unwrap_or("").contains("restart")).count();
        let in_killed_runs = rows.iter().filter(|r| r["run_id"] != rows.last().unwrap()["run_id"]).count();
        eprintln!(
            "seed {seed}: kills {kills:?}: 200 objects quarantined once each; {in_killed_runs} by the killed runs, {recovered} of them finished on restart"
        );
        recovered_total += recovered;
    }
    // The kills landed inside quarantines (between the audit record and its outcome) at least
    // once, so the restart path was exercised.
    assert!(recovered_total > 0, "no kill landed inside a quarantine; change the seeds");
}

#[test]
fn postgres_state_store_records_findings_and_actions() {
    let (Some(pg), Some(_)) = (server("DLP_TEST_POSTGRES"), server("DLP_TEST_S3")) else { return };
    let tmp = TempDir::new("policy-pg");
    let home = tmp.path().join("home");
    let (src, quar) = (bucket("pol-pg-src"), bucket("pol-pg-quar"));
    write_sources(&tmp.path().join("src"));
    stores(&["upload", "s3", &src, tmp.path().join("src").to_str().unwrap()]);
    stores(&["mkbucket", "s3", &quar]);
    let policy = tmp.path().join("policy.toml");
    std::fs::write(&policy, policy_text("s3", &src, &quar, "")).unwrap();
    let target = format!("s3://{src}");
    let out = worker(
        &home,
        &env_for("s3"),
        &[
            "scan",
            &target,
            "--state",
            &pg,
            "--policy",
            policy.to_str().unwrap(),
            "--allow-delete",
            "-o",
            "/dev/null",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // Nothing went to the default SQLite file.
    assert!(!home.join("dlp-worker/state.db").exists());
    let out = worker(&home, &[], &["findings", "--state", &pg, "--target", &target, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let types: BTreeSet<&str> =
        rows.as_array().unwrap().iter().map(|r| r["info_type"].as_str().unwrap()).collect();
    assert!(
        types.contains("CREDIT_CARD_NUMBER")
            && types.contains("EMAIL_ADDRESS")
            && types.contains("PRIVATE_KEY"),
        "{types:?}"
    );
    let out =
        worker(&home, &[], &["audit", "--state", &pg, "--target", &format!("{target}/"), "--format", "json"]);
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let summary = audit_summary(rows.as_array().unwrap());
    assert!(
        summary.contains(&("quarantine".into(), "done".into(), format!("{target}/data/cards.txt"))),
        "{summary:?}"
    );
    assert!(
        summary.contains(&("delete".into(), "done".into(), format!("{target}/deploy/id_rsa"))),
        "{summary:?}"
    );
    // No raw value in any table.
    let dump = Command::new("pg_dump").arg(&pg).arg("--data-only").output().expect("pg_dump runs");
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    assert!(String::from_utf8_lossy(&dump.stdout).contains(&src), "the dump holds the run");
    assert_no_planted("the PostgreSQL dump", &dump.stdout);
    // A wrong password is a clear error, exit 2, without the password.
    let bad = pg.replacen("dlp:dlp@", "dlp:wrong-pass@", 1);
    let out = worker(&home, &[], &["findings", "--state", &bad]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("password authentication failed") && !text(&out).contains("wrong-pass"),
        "{}",
        text(&out)
    );
}

#[test]
fn malformed_policies_are_rejected_before_any_object_is_touched() {
    if server("DLP_TEST_S3").is_none() {
        return;
    }
    let tmp = TempDir::new("policy-bad");
    let home = tmp.path().join("home");
    let src = bucket("pol-bad-src");
    write_sources(&tmp.path().join("src"));
    stores(&["upload", "s3", &src, tmp.path().join("src").to_str().unwrap()]);
    let before = ls("s3", &src);
    let policy = tmp.path().join("policy.toml");
    let cases = [
        ("[[rules]]\nname = \"a\"\nactions = [\"tag\"]\n\n[[rules]]\nname = \"b\"\ninfo_types = [\"NO_SUCH_TYPE\"]\nactions = [\"tag\"]\n", "line 5"),
        ("[[rules]]\nname = \"a\"\nactions = [\"tag\", \"shred\"]\n", "unknown action \"shred\""),
        ("[[rules]]\nname = \"a\"\nactions = [\"tag\"\n", "line 3"),
        ("[[rules]]\nname = \"a\"\nactions = [\"quarantine\"]\n", "[quarantine]"),
        (&format!("[quarantine]\nlocation = \"s3://{src}/q\"\n[[rules]]\nname = \"a\"\nactions = [\"quarantine\"]\n"), "inside the target"),
    ];
    for (text_, want) in cases {
        std::fs::write(&policy, text_).unwrap();
        let out = worker(
            &home,
            &env_for("s3"),
            &["scan", &format!("s3://{src}"), "--policy", policy.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(want), "want {want:?} in: {}", text(&out));
        assert!(text(&out).contains("policy.toml") || want == "inside the target", "{}", text(&out));
    }
    assert_eq!(ls("s3", &src), before);
}
