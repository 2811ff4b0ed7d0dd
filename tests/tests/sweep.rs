//! `dlp-worker sweep` against moto S3 (tests/emulators.sh): incremental by ETag and detector
//! set, sampling, `--max-objects`, and a sweep killed at random points. Skips without the
//! server, except under `CI`, where it fails.

use dlp_tests::{server, stores, TempDir};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn bucket(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

fn sweep_cmd(home: &Path, args: &[&str]) -> Command {
    let mut c = dlp_tests::s3_cmd(home);
    c.arg("sweep").args(args);
    c
}

/// Runs a sweep with `--format json`; returns the exit code and the coverage document.
fn sweep(home: &Path, args: &[&str]) -> (Option<i32>, Value, String) {
    let out: Output = sweep_cmd(home, &[args, &["--format", "json"]].concat()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {stderr}"));
    (out.status.code(), doc["coverage"].clone(), stderr)
}

/// Rows of the SQLite state store under `home`, through Python's sqlite3.
fn query(home: &Path, sql: &str) -> Vec<Value> {
    let db = home.join("dlp-worker/state.db");
    let out = Command::new("python3")
        .args([
            "-c",
            "import json,sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(json.dumps([list(r) for r in c.execute(sys.argv[2])]))",
        ])
        .arg(&db)
        .arg(sql)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

/// The keys the latest run recorded, sorted.
fn last_run_keys(home: &Path) -> Vec<String> {
    let run = query(home, "SELECT id FROM runs ORDER BY started_at DESC LIMIT 1");
    let run = run[0][0].as_str().unwrap().to_string();
    let mut keys: Vec<String> = query(home, &format!("SELECT key FROM objects WHERE run_id = '{run}'"))
        .iter()
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect();
    keys.sort();
    keys
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn second_sweep_scans_only_changed_objects() {
    if server("DLP_TEST_S3").is_none() {
        return;
    }
    let tmp = TempDir::new("sweep-10k");
    let home = tmp.path().join("home");
    let b = bucket("sweep-10k");
    let planted = stores(&["many", "s3", &b, "10000", "--seed", "11"]);
    let target = format!("s3://{b}");
    let (code, cov, err) = sweep(&home, &[&target]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(n(&cov["objects_scanned"]), 10_000, "{err}");
    assert_eq!(n(&cov["findings_by_info_type"]["CREDIT_CARD_NUMBER"]), n(&planted["cards"]));
    assert!(err.contains("sweep: 10000 objects listed, 10000 scanned, 0 unchanged"), "{err}");

    // Unchanged: listed, nothing scanned.
    let (code, cov, err) = sweep(&home, &[&target]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(n(&cov["objects_scanned"]), 0, "{err}");
    assert_eq!(n(&cov["objects_unchanged"]), 10_000, "{err}");

    // Ten objects rewritten (each now holding a card): exactly those are scanned.
    let changed: Vec<String> = (0..10).map(|i| format!("{:03}/obj-{:05}.txt", i, i * 1000 + 7)).collect();
    let f = tmp.path().join("new.txt");
    std::fs::write(&f, "rewritten: card 4539 1488 0343 6467\n").unwrap();
    for k in &changed {
        stores(&["put", "s3", &b, k, f.to_str().unwrap()]);
    }
    let (code, cov, err) = sweep(&home, &[&target]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(n(&cov["objects_scanned"]), 10, "{err}");
    assert_eq!(n(&cov["objects_unchanged"]), 9_990, "{err}");
    let scanned = last_run_keys(&home);
    assert_eq!(scanned, changed);

    // --full scans again whatever changed; --max-objects stops the listing.
    let (_, cov, err) = sweep(&home, &[&target, "--full", "--max-objects", "25"]);
    assert_eq!(n(&cov["objects_scanned"]), 25, "{err}");
    assert_eq!(cov["stopped_at_max_objects"], true);
    let mut keys: Vec<String> = query(&home, "SELECT DISTINCT key FROM objects")
        .iter()
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect();
    keys.sort();
    // The next sweep like it resumes the listing after the 25th key: the next 25 objects.
    let (_, cov, err) = sweep(&home, &[&target, "--full", "--max-objects", "25"]);
    assert!(err.contains(&format!("resuming {target} after {}", keys[24])), "{err}");
    assert_eq!(n(&cov["objects_scanned"]), 25, "{err}");
    let scanned = last_run_keys(&home);
    assert_eq!(scanned, keys[25..50].to_vec());
    // Then to the end of the bucket, which clears the checkpoint.
    let (_, cov, err) = sweep(&home, &[&target, "--full"]);
    assert!(err.contains(&format!("resuming {target} after {}", keys[49])), "{err}");
    assert_eq!(n(&cov["objects_scanned"]), 9_950, "{err}");
    assert_eq!(query(&home, "SELECT COUNT(*) FROM sweep_checkpoints")[0][0], 0);
}

#[test]
fn samples_are_deterministic() {
    if server("DLP_TEST_S3").is_none() {
        return;
    }
    let tmp = TempDir::new("sweep-sample");
    let home = tmp.path().join("home");
    let b = bucket("sweep-sample");
    stores(&["many", "s3", &b, "600", "--seed", "12"]);
    let target = format!("s3://{b}");
    let mut sets = Vec::new();
    for _ in 0..2 {
        let (_, cov, err) = sweep(&home, &[&target, "--full", "--sample-percent", "20"]);
        let scanned = n(&cov["objects_scanned"]);
        assert_eq!(scanned + n(&cov["objects_not_sampled"]), 600, "{err}");
        assert!((80..=160).contains(&scanned), "a 20 % sample of 600 scanned {scanned}");
        let keys = last_run_keys(&home);
        sets.push(keys);
    }
    assert_eq!(sets[0], sets[1], "the same sample both times");
}

#[test]
fn a_sweep_killed_at_random_points_scans_each_object_once() {
    if server("DLP_TEST_S3").is_none() {
        return;
    }
    let tmp = TempDir::new("sweep-kill");
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut resumes = 0;
    for seed in 1..=3u64 {
        let home = tmp.path().join(format!("home-{seed}"));
        let b = bucket(&format!("sweep-kill{seed}"));
        stores(&["many", "s3", &b, "800", "--seed", &seed.to_string()]);
        let target = format!("s3://{b}");
        std::fs::create_dir_all(&home).unwrap();
        let mut kills = Vec::new();
        for _ in 0..2 {
            let delay = Duration::from_millis(300 + rand() % 2500);
            let mut child = sweep_cmd(&home, &[&target, "-q", "-o", "/dev/null"])
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(home.join("killed.log")).unwrap())
                .spawn()
                .unwrap();
            std::thread::sleep(delay);
            let finished = child.try_wait().unwrap().is_some();
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(home.join("killed.log")).unwrap_or_default();
            resumes += u64::from(log.contains("resuming"));
            kills.push((delay, finished));
        }
        let (code, cov, err) = sweep(&home, &[&target]);
        assert!(matches!(code, Some(0 | 1)), "seed {seed}: {err}");
        let resumed = err.contains("resuming");
        resumes += u64::from(resumed);
        // Every object recorded exactly once, at its current version, across all the runs.
        let rows = query(&home, "SELECT key, COUNT(*) FROM objects WHERE outcome <> 'error' GROUP BY key");
        let counts: BTreeMap<String, u64> =
            rows.iter().map(|r| (r[0].as_str().unwrap().to_string(), n(&r[1]))).collect();
        assert_eq!(counts.len(), 800, "seed {seed}, kills {kills:?}: {} objects recorded", counts.len());
        let twice: Vec<_> = counts.iter().filter(|(_, c)| **c != 1).collect();
        assert!(twice.is_empty(), "seed {seed}, kills {kills:?}: recorded more than once: {twice:?}");
        let before = n(&cov["objects_unchanged"]);
        eprintln!(
            "seed {seed}: kills {kills:?}: the last run found {before} unchanged and scanned {}",
            n(&cov["objects_scanned"])
        );
        // A resumed sweep lists only what comes after the checkpoint.
        let listed = before + n(&cov["objects_scanned"]);
        if resumed {
            assert!(listed < 800, "seed {seed}: resumed, yet listed {listed}: {err}");
        } else {
            assert_eq!(listed, 800, "seed {seed}: {err}");
        }
        assert_eq!(query(&home, "SELECT COUNT(*) FROM sweep_checkpoints")[0][0], 0, "seed {seed}");
    }
    eprintln!("{resumes} of 9 runs resumed from a checkpoint");
    assert!(resumes > 0, "no run resumed from a checkpoint: the kills came too early");
}
