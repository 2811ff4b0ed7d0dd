//! Bucket targets against real servers on loopback: S3 (moto), Azure Blob (Azurite) and GCS
//! (fake-gcs-server), started by `tests/emulators.sh` (tests/run.sh does it and exports
//! their endpoints). Without the servers these tests skip, except under `CI`, where they fail.
//!
//! What they prove: a corpus uploaded to each store gives exactly the findings and coverage
//! of the same files scanned from a local folder; many small objects and one large object
//! are scanned within a fixed memory bound; a proxy that fails a fifth of the requests loses
//! no object; and bad input (bad URL, unknown bucket, wrong credentials, endpoint down, one
//! unreadable object) gets a clear error and exit code 2.

use dlp_tests::{root, server, stores, TempDir};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A bucket name unique to this test and process.
fn bucket(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

/// The environment that points dlp-worker at one store, as a user would set it, with no
/// credentials or profile from the machine's own configuration.
fn store_env(store: &str) -> Vec<(&'static str, String)> {
    if store == "s3" {
        return s3_env(&server("DLP_TEST_S3").unwrap_or_default(), "test", "test");
    }
    let mut env = no_aws_files();
    match store {
        "azure" => env.push(("AZURE_STORAGE_CONNECTION_STRING", dlp_tests::azurite_connection_string())),
        "gcs" => env.push(("STORAGE_EMULATOR_HOST", server("DLP_TEST_GCS").unwrap_or_default())),
        _ => unreachable!(),
    }
    env
}

/// An S3 endpoint (a server, or a proxy in front of one) with these keys in the environment.
fn s3_env(endpoint: &str, id: &str, secret: &str) -> Vec<(&'static str, String)> {
    let mut env = no_aws_files();
    env.extend([
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_ACCESS_KEY_ID", id.to_string()),
        ("AWS_SECRET_ACCESS_KEY", secret.to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
    ]);
    env
}

/// No AWS profile from the machine's own files.
fn no_aws_files() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_CONFIG_FILE", "/nonexistent/aws-config".to_string()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials".to_string()),
    ]
}

const STORE_VARS: [&str; 12] = [
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_ACCOUNT",
    "AZURE_STORAGE_KEY",
    "STORAGE_EMULATOR_HOST",
    "GOOGLE_APPLICATION_CREDENTIALS",
];

/// `dlp-worker scan --format json ARGS` with `env`, under `/usr/bin/time` for the peak RSS.
/// Returns (exit code, document, stderr, peak RSS in KiB).
fn scan(home: &Path, env: &[(&str, String)], args: &[&str]) -> (Option<i32>, Value, String, u64) {
    dlp_tests::timed_scan_json(home, |c| {
        c.args(args);
        for v in STORE_VARS {
            c.env_remove(v);
        }
        for (k, v) in env {
            c.env(k, v);
        }
    })
}

/// The formats corpus and the demo corpus in one folder.
fn corpus(dir: &Path) {
    let status = Command::new("python3")
        .arg(root().join("corpora/formats.py"))
        .arg(dir.join("formats"))
        .status()
        .expect("python3 runs");
    assert!(status.success(), "corpora/formats.py failed");
    let status = Command::new("cp").arg("-r").arg(root().join("corpora/demo")).arg(dir.join("demo")).status();
    assert!(status.expect("cp runs").success());
}

/// Findings and coverage notes with `object` made relative to `base` and `version` checked
/// and dropped, sorted: what must be equal between a folder and a bucket.
fn normalise(doc: &Value, base: &str, want_version: bool) -> (Vec<Value>, Vec<Value>) {
    let rel = |v: &Value| -> String {
        let o = v["object"].as_str().expect("object is a string");
        o.strip_prefix(base).unwrap_or_else(|| panic!("{o} is not under {base}")).to_string()
    };
    let mut findings: Vec<Value> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            assert_eq!(f["version"].is_string(), want_version, "version of {f}");
            let mut f = f.clone();
            f["object"] = Value::String(rel(&f));
            f["version"] = Value::Null;
            f
        })
        .collect();
    let mut notes: Vec<Value> = doc["coverage"]["skipped"]
        .as_array()
        .expect("coverage.skipped")
        .iter()
        .map(|n| {
            let mut n = n.clone();
            n["object"] = Value::String(rel(&n));
            n
        })
        .collect();
    let key = |v: &Value| v.to_string();
    findings.sort_by_key(key);
    notes.sort_by_key(key);
    (findings, notes)
}

fn same_as_local(store: &str, env_var: &str) {
    if server(env_var).is_none() {
        return;
    }
    let home = TempDir::new(&format!("bucket-{store}"));
    let dir = home.path().join("corpus");
    corpus(&dir);
    let (code, local, stderr, _) = scan(home.path(), &[], &["--threads", "2", dir.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stderr}");
    let local_base = format!("{}/", dir.display());
    let (want_findings, want_notes) = normalise(&local, &local_base, false);
    assert!(want_findings.len() > 100, "the corpus has findings: {}", want_findings.len());

    let b = bucket(&format!("corpus-{store}"));
    stores(&["upload", store, &b, dir.to_str().unwrap(), "--prefix", "scan/"]);
    let scheme = match store {
        "s3" => "s3",
        "azure" => "az",
        _ => "gs",
    };
    let url = format!("{scheme}://{b}/scan");
    let (code, remote, stderr, _) = scan(home.path(), &store_env(store), &["--threads", "2", &url]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(remote["coverage"]["errors"], Value::Array(vec![]), "{stderr}");
    assert_eq!(remote["coverage"]["objects_scanned"], local["coverage"]["objects_scanned"], "{stderr}");
    assert_eq!(remote["coverage"]["bytes_scanned"], local["coverage"]["bytes_scanned"]);
    let (findings, notes) = normalise(&remote, &format!("{url}/"), true);
    let diff = |a: &[Value], b: &[Value]| -> Vec<String> {
        let set_b: std::collections::HashSet<String> = b.iter().map(Value::to_string).collect();
        a.iter().map(Value::to_string).filter(|x| !set_b.contains(x)).take(5).collect()
    };
    assert!(
        findings == want_findings,
        "{store}: {} findings vs {} local; only in bucket: {:?}; only local: {:?}",
        findings.len(),
        want_findings.len(),
        diff(&findings, &want_findings),
        diff(&want_findings, &findings)
    );
    assert_eq!(notes, want_notes, "{store}: coverage notes differ");
}

#[test]
fn s3_findings_equal_local_folder() {
    same_as_local("s3", "DLP_TEST_S3");
}

#[test]
fn azure_findings_equal_local_folder() {
    same_as_local("azure", "DLP_TEST_AZURITE");
}

#[test]
fn gcs_findings_equal_local_folder() {
    same_as_local("gcs", "DLP_TEST_GCS");
}

/// A finding's version is the object's: the ETag from moto, the generation from GCS.
#[test]
fn findings_name_object_url_and_version() {
    let Some(_) = server("DLP_TEST_S3") else { return };
    let home = TempDir::new("bucket-version");
    let file = home.path().join("card.txt");
    std::fs::write(&file, "customer card 4539 1488 0343 6467, expiry 09/29\n").unwrap();
    let b = bucket("version");
    stores(&["mkbucket", "s3", &b]);
    stores(&["put", "s3", &b, "dir/with space/card.txt", file.to_str().unwrap()]);
    let (code, doc, stderr, _) =
        scan(home.path(), &store_env("s3"), &[&format!("s3://{b}/dir/with space/card.txt")]);
    assert_eq!(code, Some(1), "{stderr}");
    let f = &doc["findings"][0];
    assert_eq!(f["object"], format!("s3://{b}/dir/with space/card.txt"));
    assert_eq!(f["location"]["path"], "card.txt");
    assert_eq!(f["info_type"], "CREDIT_CARD_NUMBER");
    // moto's ETag of a single PUT is the MD5 of the content.
    let md5 = Command::new("md5sum").arg(&file).output().unwrap();
    let md5 = String::from_utf8_lossy(&md5.stdout).split_whitespace().next().unwrap().to_string();
    assert_eq!(f["version"], md5.as_str());
}

/// Consoles' "folder" markers (empty `dir/` keys) and empty objects are scanned as empty,
/// not reported as errors.
#[test]
fn folder_markers_and_empty_objects() {
    let Some(_) = server("DLP_TEST_S3") else { return };
    let home = TempDir::new("bucket-folders");
    let (empty, card) = (home.path().join("empty"), home.path().join("card.txt"));
    std::fs::write(&empty, "").unwrap();
    std::fs::write(&card, "card 4539 1488 0343 6467\n").unwrap();
    let b = bucket("folders");
    stores(&["mkbucket", "s3", &b]);
    stores(&["put", "s3", &b, "docs/", empty.to_str().unwrap()]);
    stores(&["put", "s3", &b, "docs/empty.txt", empty.to_str().unwrap()]);
    stores(&["put", "s3", &b, "docs/card.txt", card.to_str().unwrap()]);
    for url in [format!("s3://{b}"), format!("s3://{b}/docs/")] {
        let (code, doc, stderr, _) = scan(home.path(), &store_env("s3"), &[&url]);
        assert_eq!(code, Some(1), "{url}: {stderr}");
        assert_eq!(doc["coverage"]["errors"], Value::Array(vec![]), "{url}: {stderr}");
        assert_eq!(doc["findings"].as_array().unwrap().len(), 1, "{url}");
    }
}

/// The filters apply to bucket listings: globs on the key below the prefix, and sizes.
#[test]
fn include_exclude_and_size_filters() {
    let Some(_) = server("DLP_TEST_S3") else { return };
    let home = TempDir::new("bucket-filter");
    let b = bucket("filter");
    let dir = home.path().join("d");
    for (name, body) in [
        ("a/keep.txt", "card 4539 1488 0343 6467\n".to_string()),
        ("a/skip.log", "card 4539 1488 0343 6467\n".to_string()),
        ("b/big.txt", format!("card 4539 1488 0343 6467\n{}", "x".repeat(5000))),
    ] {
        std::fs::create_dir_all(dir.join(name).parent().unwrap()).unwrap();
        std::fs::write(dir.join(name), body).unwrap();
    }
    stores(&["upload", "s3", &b, dir.to_str().unwrap()]);
    let url = format!("s3://{b}");
    let objects = |doc: &Value| -> Vec<String> {
        let mut v: Vec<String> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["object"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let (_, doc, stderr, _) = scan(home.path(), &store_env("s3"), &["--include", "*.txt", &url]);
    assert_eq!(objects(&doc), [format!("{url}/a/keep.txt"), format!("{url}/b/big.txt")], "{stderr}");
    assert_eq!(doc["coverage"]["objects_filtered"], 1);
    let (_, doc, _, _) =
        scan(home.path(), &store_env("s3"), &["--exclude", "b/**", "--max-size", "1K", &url]);
    assert_eq!(objects(&doc), [format!("{url}/a/keep.txt"), format!("{url}/a/skip.log")]);
    let (_, doc, _, _) =
        scan(home.path(), &store_env("s3"), &["--modified-since", "1h", &format!("{url}/b")]);
    assert_eq!(objects(&doc), [format!("{url}/b/big.txt")]);
    let (_, doc, _, _) = scan(home.path(), &store_env("s3"), &["--modified-since", "2999-01-01", &url]);
    assert_eq!(doc["coverage"]["objects_filtered"], 3);
}

fn peak_limit_kib() -> u64 {
    300 * 1024
}

#[test]
fn many_small_objects_in_bounded_memory() {
    let Some(_) = server("DLP_TEST_S3") else { return };
    let count: u64 =
        std::env::var("DLP_TEST_MANY_OBJECTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let home = TempDir::new("bucket-many");
    let b = bucket("many");
    let planted = stores(&["many", "s3", &b, &count.to_string()]);
    let (code, doc, stderr, rss) =
        scan(home.path(), &store_env("s3"), &["--concurrency", "32", "--threads", "2", &format!("s3://{b}")]);
    assert_eq!(code, Some(1), "{stderr}");
    let cov = &doc["coverage"];
    assert_eq!(cov["objects_scanned"], count, "{stderr}");
    assert_eq!(cov["bytes_scanned"], planted["bytes"]);
    assert_eq!(cov["errors"], Value::Array(vec![]));
    let cards =
        doc["findings"].as_array().unwrap().iter().filter(|f| f["info_type"] == "CREDIT_CARD_NUMBER").count();
    assert_eq!(cards as u64, planted["cards"].as_u64().unwrap());
    assert!(rss < peak_limit_kib(), "peak RSS {rss} KiB for {count} objects");
}

#[test]
fn large_object_in_bounded_memory() {
    let Some(_) = server("DLP_TEST_S3") else { return };
    let size: u64 =
        std::env::var("DLP_TEST_BIG_OBJECT_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(1 << 30);
    let home = TempDir::new("bucket-big");
    let b = bucket("big");
    let planted = stores(&["big", "s3", &b, "logs/huge.log", &size.to_string()]);
    // The time limit is not under test: a slow machine must not cut the object short.
    let url = format!("s3://{b}/logs/huge.log");
    let (code, doc, stderr, rss) =
        scan(home.path(), &store_env("s3"), &["--threads", "2", "--timeout", "3600", &url]);
    assert_eq!(code, Some(1), "{stderr}");
    let cov = &doc["coverage"];
    assert_eq!(cov["objects_scanned"], 1, "{stderr}");
    assert_eq!(cov["bytes_scanned"], size);
    let cards: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["info_type"] == "CREDIT_CARD_NUMBER")
        .collect();
    assert_eq!(cards.len() as u64, planted["cards"].as_u64().unwrap(), "{stderr}");
    // A multipart upload's ETag ends in -PARTS; every finding names that one version.
    assert!(cards.iter().all(|f| f["version"].as_str().is_some_and(|v| v.contains('-'))), "{:?}", cards[0]);
    assert!(rss < peak_limit_kib(), "peak RSS {rss} KiB for a {size}-byte object");
}

/// `tests/faultproxy.py` between the worker and moto.
struct FaultProxy {
    child: Child,
    url: String,
}

impl FaultProxy {
    fn start(upstream: &str, args: &[&str]) -> FaultProxy {
        let up = upstream.trim_start_matches("http://").trim_end_matches('/');
        let mut child = Command::new("python3")
            .arg(root().join("tests/faultproxy.py"))
            .args(["--listen", "127.0.0.1:0", "--upstream", up])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port: u16 = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|p| p.parse().ok())
            .find(|p| *p > 1024 && *p != upstream_port(up))
            .unwrap_or_else(|| panic!("no port in faultproxy's first line {line:?}"));
        FaultProxy { child, url: format!("http://127.0.0.1:{port}") }
    }

    fn stats(&self) -> Value {
        let out =
            Command::new("curl").args(["-s", &format!("{}/__faultproxy/stats", self.url)]).output().unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }
}

fn upstream_port(hostport: &str) -> u16 {
    hostport.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0)
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_fifth_of_requests_failing_loses_no_object() {
    let Some(s3) = server("DLP_TEST_S3") else { return };
    let home = TempDir::new("bucket-faults");
    let b = bucket("faults");
    let count = 300u64;
    let planted = stores(&["many", "s3", &b, &count.to_string(), "--seed", "5"]);
    // Objects above the part size are read in ranged parts: faults hit those too.
    let big = stores(&["big", "s3", &b, "big/huge.log", &(40u64 << 20).to_string()]);
    let proxy =
        FaultProxy::start(&s3, &["--fail-rate", "0.2", "--seed", "11", "--kinds", "503,drop,reset,truncate"]);
    let env = s3_env(&proxy.url, "test", "test");
    let (code, doc, stderr, _) = scan(
        home.path(),
        &env,
        &["--concurrency", "8", "--part-size", "8M", "--request-timeout", "10", &format!("s3://{b}")],
    );
    let stats = proxy.stats();
    assert_eq!(code, Some(1), "{stderr}\n{stats}");
    let cov = &doc["coverage"];
    assert_eq!(cov["errors"], Value::Array(vec![]), "{stderr}");
    assert_eq!(cov["objects_scanned"], count + 1, "{stderr}");
    let by_type = doc["findings"].as_array().unwrap().iter().fold(BTreeMap::new(), |mut m, f| {
        *m.entry(f["info_type"].as_str().unwrap().to_string()).or_insert(0u64) += 1;
        m
    });
    let want = planted["cards"].as_u64().unwrap() + big["cards"].as_u64().unwrap();
    assert_eq!(by_type.get("CREDIT_CARD_NUMBER"), Some(&want), "{by_type:?}");
    let injected: u64 =
        stats["injected"].as_object().map_or(0, |m| m.values().filter_map(Value::as_u64).sum());
    let requests = stats["requests"].as_u64().unwrap_or(0);
    assert!(injected * 10 >= requests, "the proxy failed {injected} of {requests} requests: {stats}");
}

/// `--timeout` bounds the work on an object, not the wait for a slow download: four parts
/// behind a proxy that holds each request 0.7 s take 3 s to arrive, yet a one-second timeout
/// is not hit.
#[test]
fn slow_download_is_not_a_timeout() {
    let Some(s3) = server("DLP_TEST_S3") else { return };
    let home = TempDir::new("bucket-slow");
    let b = bucket("slow");
    let planted = stores(&["big", "s3", &b, "slow.log", &(4u64 << 20).to_string()]);
    let proxy = FaultProxy::start(&s3, &["--delay-ms", "700"]);
    let env = s3_env(&proxy.url, "test", "test");
    let started = std::time::Instant::now();
    let (code, doc, stderr, _) =
        scan(home.path(), &env, &["--timeout", "1", "--part-size", "1M", &format!("s3://{b}/slow.log")]);
    assert!(started.elapsed().as_secs_f64() > 2.8, "the proxy slowed the download: {stderr}");
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(doc["coverage"]["skipped"], Value::Array(vec![]), "no limit:time: {stderr}");
    assert_eq!(doc["coverage"]["bytes_scanned"], 4u64 << 20);
    assert_eq!(doc["findings"].as_array().unwrap().len() as u64, planted["cards"].as_u64().unwrap());
}

/// Runs a scan expected to fail; returns its stderr and JSON document.
fn scan_fails(home: &Path, env: &[(&str, String)], args: &[&str]) -> (String, Value) {
    let (code, doc, stderr, _) = scan(home, env, args);
    assert_eq!(code, Some(2), "{stderr}");
    (stderr, doc)
}

#[test]
fn bad_targets_get_clear_errors() {
    let Some(_) = server("DLP_TEST_S3") else { return };
    let home = TempDir::new("bucket-errors");
    let fast = ["--retries", "1", "--retry-timeout", "2", "--request-timeout", "2"];
    let with = |extra: &[&'static str], target: &'static str| -> Vec<&'static str> {
        let mut v: Vec<&str> = fast.to_vec();
        v.extend_from_slice(extra);
        v.push(target);
        v
    };
    let (stderr, _) = scan_fails(home.path(), &store_env("s3"), &with(&[], "s3://Not_A_Bucket/x"));
    assert!(stderr.contains("not a valid bucket name"), "{stderr}");
    let (stderr, _) = scan_fails(home.path(), &store_env("s3"), &with(&[], "s3://no-such-bucket-dlp/x"));
    assert!(stderr.contains("does not exist"), "{stderr}");
    let (stderr, _) = scan_fails(home.path(), &store_env("s3"), &with(&[], "s3:///x"));
    assert!(stderr.contains("needs a bucket name"), "{stderr}");

    let down = s3_env("http://127.0.0.1:9", "test", "test");
    let (stderr, _) = scan_fails(home.path(), &down, &with(&[], "s3://any-bucket"));
    assert!(stderr.contains("cannot connect to the store at http://127.0.0.1:9"), "{stderr}");

    let mut profile = store_env("s3");
    profile.push(("AWS_PROFILE", "nobody".into()));
    profile.retain(|(k, _)| *k != "AWS_ACCESS_KEY_ID");
    let (stderr, _) = scan_fails(home.path(), &profile, &with(&[], "s3://any-bucket"));
    assert!(stderr.contains("AWS profile \"nobody\""), "{stderr}");
    // No secret is echoed back in an error.
    assert!(!stderr.contains("Eby8vdM02"), "{stderr}");
}

#[test]
fn azure_wrong_key_is_refused_clearly() {
    let Some(az) = server("DLP_TEST_AZURITE") else { return };
    let home = TempDir::new("bucket-azkey");
    let b = bucket("azkey");
    stores(&["mkbucket", "azure", &b]);
    let wrong = format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={};BlobEndpoint={az};",
        "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ=="
    );
    let (stderr, _) = scan_fails(
        home.path(),
        &[("AZURE_STORAGE_CONNECTION_STRING", wrong)],
        &["--retries", "1", "--retry-timeout", "2", &format!("az://{b}")],
    );
    assert!(stderr.contains("credentials were refused"), "{stderr}");
    assert!(!stderr.contains("d3Jvbmcta2V5"), "the key is not echoed: {stderr}");
}

/// moto with authentication (set up by tests/emulators.sh: a user who may read all of a
/// bucket but one key): an unknown access key and a wrong secret are refused clearly, and
/// the denied object is reported alone while the rest is scanned.
#[test]
fn s3_credentials_and_permissions() {
    let Some(auth) = server("DLP_TEST_S3_AUTH") else { return };
    let var = |v: &str| std::env::var(v).unwrap_or_else(|_| panic!("{v} is set with DLP_TEST_S3_AUTH"));
    let (id, secret, b) = (
        var("DLP_TEST_S3_AUTH_ACCESS_KEY_ID"),
        var("DLP_TEST_S3_AUTH_SECRET_ACCESS_KEY"),
        var("DLP_TEST_S3_AUTH_BUCKET"),
    );
    let denied = var("DLP_TEST_S3_AUTH_DENIED_KEY");
    let home = TempDir::new("bucket-auth");
    let env = |id: &str, secret: &str| s3_env(&auth, id, secret);
    let url = format!("s3://{b}");
    let args = ["--retries", "1", "--retry-timeout", "2", url.as_str()];
    let (stderr, _) = scan_fails(home.path(), &env("AKIAUNKNOWNUNKNOWN00", "x"), &args);
    assert!(stderr.contains("access key id is not known"), "{stderr}");
    let (stderr, _) = scan_fails(home.path(), &env(&id, "wrong-secret"), &args);
    assert!(stderr.contains("credentials were refused"), "{stderr}");
    assert!(!stderr.contains("wrong-secret"), "the secret is not echoed: {stderr}");

    let only_denied = |stderr: &str, doc: &Value| {
        let errors = doc["coverage"]["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert_eq!(errors[0]["object"], format!("{url}/{denied}"));
        assert!(errors[0]["error"].as_str().unwrap().contains("permission denied"), "{stderr}");
        assert!(doc["coverage"]["objects_scanned"].as_u64().unwrap() >= 1, "{stderr}");
        assert!(!stderr.contains(&secret), "the secret is not echoed");
    };
    let (stderr, doc) = scan_fails(home.path(), &env(&id, &secret), &args);
    only_denied(&stderr, &doc);

    // The same keys from a named profile in a credentials file, as the AWS CLI reads them; a
    // stray session token in the environment belongs to no key in use and is ignored.
    let creds = home.path().join("aws-credentials");
    let profile = format!("[other]\naws_access_key_id = x\n\n[scanner]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n");
    std::fs::write(&creds, profile).unwrap();
    let mut from_profile = env("", "");
    from_profile.retain(|(k, _)| {
        !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET") && *k != "AWS_SHARED_CREDENTIALS_FILE"
    });
    from_profile.extend([
        ("AWS_SHARED_CREDENTIALS_FILE", creds.display().to_string()),
        ("AWS_PROFILE", "scanner".to_string()),
        ("AWS_SESSION_TOKEN", "stale-token-from-another-login".to_string()),
    ]);
    let (stderr, doc) = scan_fails(home.path(), &from_profile, &args);
    only_denied(&stderr, &doc);
}
