//! `dlp-worker serve --config FILE`: sweeps on cron schedules and a listener in one process.
//! A scheduled sweep scans a folder, the next one only what changed; the push listener
//! scans what it is told about; SIGTERM stops both gracefully (exit 0). A SIGTERM while a
//! sweep's actions are in flight leaves no pending action, and the next sweep finishes the
//! rest: every object alerted on exactly once. Bad configs are refused before any job starts.
//! The listener part needs Azurite (skipped without it, except under `CI`).

use dlp_tests::{server, stores, TempDir};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn serve(home: &Path, config: &Path) -> Command {
    let mut c = dlp_tests::cmd(home);
    c.env("AZURE_STORAGE_CONNECTION_STRING", dlp_tests::azurite_connection_string())
        .args(["serve", "--config", config.to_str().unwrap()])
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sigterm(pid: u32) {
    assert!(Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap().success());
}

#[test]
fn scheduled_sweeps_and_a_listener_stop_gracefully() {
    if server("DLP_TEST_AZURITE").is_none() {
        return;
    }
    let tmp = TempDir::new("serve");
    let home = tmp.path().join("home");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    for i in 0..3 {
        std::fs::write(data.join(format!("f{i}.txt")), "card 4539 1488 0343 6467\n").unwrap();
    }
    let container = format!("serve-{}", std::process::id());
    let card = tmp.path().join("c.txt");
    std::fs::write(&card, "card 4539 1488 0343 6467\n").unwrap();
    stores(&["mkbucket", "azure", &container]);
    stores(&["put", "azure", &container, "a.txt", card.to_str().unwrap()]);
    let (swept, pushed) = (tmp.path().join("swept.jsonl"), tmp.path().join("pushed.jsonl"));
    let config = tmp.path().join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "[defaults]\nformat = \"jsonl\"\n\n[[sweep]]\nname = \"folder\"\nschedule = \"*/2 * * * * *\"\ntargets = [\"{}\"]\noutput = \"{}\"\n\n[[listen]]\nname = \"push\"\nhttp = \"127.0.0.1:0\"\ntargets = [\"az://{container}\"]\noutput = \"{}\"\n",
            data.display(),
            swept.display(),
            pushed.display()
        ),
    )
    .unwrap();
    let mut child = serve(&home, &config).spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    // Read stderr on a thread, keeping every line.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let mut line = String::new();
        while err.read_line(&mut line).unwrap_or(0) > 0 {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            line.clear();
        }
        all
    });
    let addr = loop {
        let line = rx.recv_timeout(Duration::from_secs(60)).expect("serve printed no listener address");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // The first scheduled sweep scans the three files; the next one only the new one.
    wait_for("the first sweep", || lines(&swept).len() == 3);
    std::fs::write(data.join("new.txt"), "card 4539 1488 0343 6467\n").unwrap();
    wait_for("the new file", || lines(&swept).len() >= 4);
    std::thread::sleep(Duration::from_secs(3));
    let objects: Vec<String> =
        lines(&swept).iter().map(|f| f["object"].as_str().unwrap().to_string()).collect();
    assert_eq!(objects.len(), 4, "each file scanned once: {objects:?}");
    assert!(objects[3].ends_with("new.txt"), "{objects:?}");
    // The listener in the same process.
    let event = serde_json::json!([{"topic": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
        "subject": format!("/blobServices/default/containers/{container}/blobs/a.txt"),
        "eventType": "Microsoft.Storage.BlobCreated", "id": "1", "eventTime": "2026-11-30T10:00:00Z",
        "data": {"api": "PutBlob", "url": format!("https://devstoreaccount1.blob.core.windows.net/{container}/a.txt")},
        "dataVersion": "", "metadataVersion": "1"}]);
    let (status, _, answer) = dlp_tests::http_request(&addr, "POST", "/", &[], &event.to_string());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(lines(&pushed).len(), 1);
    sigterm(child.id());
    let status = child.wait().unwrap();
    let stderr = reader.join().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("sweep: 4 objects listed, 1 scanned, 3 unchanged"), "{stderr}");
    assert!(stderr.contains("serve: stopped"), "{stderr}");
}

#[test]
fn sigterm_during_a_sweeps_actions_leaves_none_half_done() {
    let tmp = TempDir::new("serve-term");
    let home = tmp.path().join("home");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // More objects than the pipeline holds while actions wait: listing is mid-way at SIGTERM.
    let n = 6000;
    for i in 0..n {
        std::fs::write(data.join(format!("f{i:03}.txt")), format!("row {i}: card 4539 1488 0343 6467\n"))
            .unwrap();
    }
    let (alerts, gate) = (tmp.path().join("alerts.jsonl"), tmp.path().join("gate"));
    let policy = tmp.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!("[alert]\njsonl = \"{}\"\n[[rules]]\nname = \"cards\"\ncategories = [\"PCI\"]\nactions = [\"alert\"]\n", alerts.display()),
    )
    .unwrap();
    let config = tmp.path().join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "[[sweep]]\nname = \"folder\"\nschedule = \"* * * * * *\"\ntargets = [\"{}\"]\npolicy = \"{}\"\noutput = \"/dev/null\"\n",
            data.display(),
            policy.display()
        ),
    )
    .unwrap();
    // Actions wait for the gate file: the sweep is mid-way when SIGTERM comes.
    let mut child = serve(&home, &config).env("DLP_TEST_ACTION_GATE", &gate).spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("sweeping") {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "serve exited before sweeping");
    }
    std::thread::sleep(Duration::from_millis(500));
    sigterm(child.id());
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&gate, "").unwrap();
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0), "{rest}");
    assert!(rest.contains("SIGTERM: finishing the work in flight"), "{rest}");
    assert!(rest.contains("(interrupted: the next sweep goes on from here)"), "{rest}");
    let audit = |home: &Path| {
        let out =
            dlp_tests::cmd(home).args(["audit", "--format", "json", "--limit", "100000"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap().as_array().unwrap().clone()
    };
    let rows = audit(&home);
    assert!(rows.iter().all(|r| r["status"] == "done"), "an action left half done: {rows:?}");
    let first = lines(&alerts).len();
    assert_eq!(first, rows.len(), "one alert per done action");
    assert!(first > 0 && first < n, "{first} of {n} acted on: the sweep was not interrupted mid-way");
    // The next sweep alerts on the rest, and on nothing twice.
    let out = dlp_tests::cmd(&home)
        .args(["sweep", data.to_str().unwrap(), "--policy", policy.to_str().unwrap(), "-o", "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let mut objects: Vec<String> =
        lines(&alerts).iter().map(|a| a["object"].as_str().unwrap().to_string()).collect();
    assert_eq!(objects.len(), n, "{first} alerted before SIGTERM");
    objects.sort();
    objects.dedup();
    assert_eq!(objects.len(), n);
    assert!(audit(&home).iter().all(|r| r["status"] == "done"));
    eprintln!("{first} of {n} objects acted on before SIGTERM stopped the sweep");
}

#[test]
fn bad_configs_are_refused_before_any_job_starts() {
    let tmp = TempDir::new("serve-bad");
    let home = tmp.path().join("home");
    for (text, want) in [
        ("[[sweep]]\nname = \"n\"\ntargets = [\"d\"]\n", "[[sweep]] \"n\": `schedule`"),
        (
            "[[sweep]]\nname = \"n\"\nschedule = \"61 * * * *\"\ntargets = [\"d\"]\n",
            "`schedule` \"61 * * * *\"",
        ),
        (
            "[[sweep]]\nname = \"n\"\nschedule = \"* * * * *\"\ntargets = [\"d\"]\nsample-pct = 5\n",
            "--sample-pct",
        ),
        ("[[listen]]\nname = \"l\"\ntargets = [\"s3://bucket\"]\n", "[[listen]] \"l\""),
        ("[[sweeps]]\nname = \"n\"\n", "unknown `sweeps`"),
        ("", "no [[sweep]] or [[listen]] jobs"),
        (
            "[defaults]\nsample-pct = 5\n[api]\nlisten = \"127.0.0.1:0\"\n",
            "[defaults], for scans started over the API",
        ),
    ] {
        let config = tmp.path().join("bad.toml");
        std::fs::write(&config, text).unwrap();
        let out =
            dlp_tests::cmd(&home).args(["serve", "--config", config.to_str().unwrap()]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {stderr}");
        assert!(stderr.contains(want), "{text}: want {want:?} in {stderr}");
        assert!(!stderr.contains("starting"), "{stderr}");
    }
}
