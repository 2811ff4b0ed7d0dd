//! `serve`'s HTTP API over real HTTP: health and readiness, token authentication (missing,
//! wrong), findings with filters and pages from a state store filled by a real scan, clear
//! 400s for bad parameters and bodies, a scan started with `POST /scans` followed to its end
//! with `GET /scans/{id}`, `/metrics` parsed with the Prometheus client library's OpenMetrics
//! parser, and schemathesis checking the served responses against the OpenAPI document.
//! Needs python3 with `prometheus_client` and `schemathesis` (tests/run.sh installs them).

use dlp_tests::{http_request, TempDir};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "test-token-7f3a9c2e5b1d4f60";

/// Starts `serve --config` with an API on a free port; returns the child and the address.
fn start(home: &Path, config: &str) -> (Child, String, std::sync::mpsc::Receiver<String>) {
    let path = home.join("serve.toml");
    std::fs::write(&path, config).unwrap();
    let mut child = dlp_tests::cmd(home)
        // The file's `listen` is replaced from the environment.
        .env("DLP_CONFIG__API__LISTEN", "127.0.0.1:0")
        .args(["serve", "--config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen: Vec<String> = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if let Some(addr) = line.split("API on http://").nth(1) {
                assert!(seen.iter().any(|l| l.contains("from the environment: api.listen")), "{seen:?}");
                return (child, addr.trim().to_string(), rx);
            }
            seen.push(line);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the API did not start: {seen:?}");
}

fn get(addr: &str, path: &str, token: Option<&str>) -> (u16, String, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    http_request(addr, "GET", path, &headers, "")
}

fn post(addr: &str, path: &str, body: &str) -> (u16, String, String) {
    let auth = format!("Bearer {TOKEN}");
    http_request(addr, "POST", path, &[("Authorization", &auth), ("Content-Type", "application/json")], body)
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// The error text of a 4xx answer (JSON `{"error": …}`).
fn error_of(answer: &(u16, String, String)) -> String {
    json(&answer.2)["error"].as_str().unwrap_or_else(|| panic!("no error text: {answer:?}")).to_string()
}

/// Every finding the API gives for `query`, page by page.
fn all_findings(addr: &str, query: &str) -> (Vec<Value>, usize) {
    let (mut out, mut pages, mut token) = (Vec::new(), 0, None::<String>);
    loop {
        let mut path = format!("/findings?limit=40{query}");
        if let Some(t) = &token {
            path.push_str(&format!("&page_token={t}"));
        }
        let (status, _, body) = get(addr, &path, Some(TOKEN));
        assert_eq!(status, 200, "{path}: {body}");
        let page = json(&body);
        pages += 1;
        out.extend(page["findings"].as_array().unwrap().iter().cloned());
        match page["next_page_token"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => return (out, pages),
        }
    }
}

/// Metric families by name, parsed by prometheus_client's OpenMetrics parser:
/// {name: {"type": …, "samples": [[sample name, labels, value], …]}}.
fn parse_metrics(text: &str) -> Value {
    let script = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    out[f.name] = {"type": f.type, "samples": [[s.name, s.labels, s.value] for s in f.samples]}
print(json.dumps(out))
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the parser refused the metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn sample(m: &Value, family: &str, sample: &str, label: Option<(&str, &str)>) -> f64 {
    m[family]["samples"]
        .as_array()
        .unwrap_or_else(|| panic!("no family {family}: {m}"))
        .iter()
        .filter(|s| s[0] == sample && label.is_none_or(|(k, v)| s[1][k] == v))
        .map(|s| s[2].as_f64().unwrap())
        .sum()
}

#[test]
fn the_api_over_http() {
    let tmp = TempDir::new("api");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let db = home.join("state.db");
    let demo = dlp_tests::root().join("corpora/demo");
    // Findings to read: one scan of the demo folder into the store.
    let out = dlp_tests::cmd(&home)
        .args(["scan", demo.to_str().unwrap(), "--state", db.to_str().unwrap(), "-o", "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let token_file = home.join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let config = format!(
        "[defaults]\nstate = {db:?}\n\n[api]\nlisten = \"set-from-the-environment\"\ntoken-file = {token_file:?}\nmax-running-scans = 1\nallow-local-targets = true\n"
    );
    let (mut child, addr, lines) = start(&home, &config);

    // Health, readiness and the document need no token.
    let (status, _, body) = get(&addr, "/healthz", None);
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, _, body) = get(&addr, "/readyz", None);
        if status == 200 {
            assert_eq!(json(&body)["status"], "ready");
            break;
        }
        assert!(Instant::now() < deadline, "never ready: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, head, body) = get(&addr, "/openapi.json", None);
    assert_eq!(status, 200);
    assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{head}");
    let served = json(&body);
    let kept: Value = serde_json::from_str(
        &std::fs::read_to_string(dlp_tests::root().join("dlp-worker/openapi.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(served, kept, "the served document is the one in the repository");

    // Authentication: none, wrong, and a Basic scheme are refused on every other endpoint.
    for path in ["/metrics", "/findings", "/scans/x"] {
        for token in [None, Some("wrong-token-0000000000")] {
            let a = get(&addr, path, token);
            assert_eq!(a.0, 401, "{path} with {token:?}: {a:?}");
            assert!(error_of(&a).contains("token"), "{a:?}");
        }
    }
    let a = http_request(&addr, "GET", "/findings", &[("Authorization", &format!("Basic {TOKEN}"))], "");
    assert_eq!(a.0, 401);
    let a = http_request(
        &addr,
        "POST",
        "/scans",
        &[("Content-Type", "application/json")],
        "{\"targets\":[\"s3://b\"]}",
    );
    assert_eq!(a.0, 401, "{a:?}");

    // Findings: every one of the demo scan's, once, across pages, newest first.
    let (all, pages) = all_findings(&addr, "");
    assert!(all.len() > 100, "{} findings", all.len());
    assert_eq!(pages, all.len().div_ceil(40), "no empty last page");
    let keys: BTreeSet<String> = all
        .iter()
        .map(|f| format!("{} {} {} {}", f["object"], f["path"], f["byte_start"], f["info_type"]))
        .collect();
    assert_eq!(keys.len(), all.len(), "a finding came twice across pages");
    assert!(all.iter().all(|f| f.get("quote").is_none()), "no raw values");
    let (emails, _) = all_findings(&addr, "&info_type=EMAIL_ADDRESS");
    assert!(!emails.is_empty() && emails.iter().all(|f| f["info_type"] == "EMAIL_ADDRESS"));
    let (likely, _) = all_findings(&addr, "&min_likelihood=LIKELY");
    assert!(likely.iter().all(|f| matches!(f["likelihood"].as_str(), Some("LIKELY" | "VERY_LIKELY"))));
    assert!(likely.len() < all.len());
    let (none, _) = all_findings(&addr, "&since=2999-01-01T00:00:00Z");
    assert!(none.is_empty());

    // Bad parameters and bodies: 400 with what is wrong.
    for (path, why) in [
        ("/findings?limit=0", "limit"),
        ("/findings?limit=ten", "limit"),
        ("/findings?since=yesterday", "RFC 3339"),
        ("/findings?min_likelihood=sure", "likelihood"),
        ("/findings?info_type=card%20numbers", "info_type"),
        ("/findings?page_token=abc", "page_token"),
        ("/findings?colour=red", "unknown parameter"),
        ("/findings?target=s3://", "target"),
    ] {
        let a = get(&addr, path, Some(TOKEN));
        assert_eq!(a.0, 400, "{path}: {a:?}");
        assert!(error_of(&a).contains(why), "{path}: {a:?}");
    }
    for (body, why) in [
        ("not json", "not a scan request"),
        ("{}", "targets"),
        ("{\"targets\": []}", "targets"),
        ("{\"targets\": [\"s3://bucket\"], \"colour\": 1}", "colour"),
        ("{\"targets\": [\"s3://bucket\"], \"sample_percent\": 0}", "sample-percent"),
        ("{\"targets\": [\"s3://b\"]}", "not a valid bucket name"),
        ("{\"targets\": [\"-rf\"]}", "targets"),
    ] {
        let a = post(&addr, "/scans", body);
        assert_eq!(a.0, 400, "{body}: {a:?}");
        assert!(error_of(&a).contains(why), "{body}: {a:?}");
    }
    let a = get(&addr, "/scans/0123456789abcdef", Some(TOKEN));
    assert_eq!(a.0, 404, "{a:?}");
    let a = get(&addr, "/no/such/path", Some(TOKEN));
    assert_eq!(a.0, 404, "{a:?}");
    let a = http_request(&addr, "DELETE", "/findings", &[("Authorization", &format!("bearer {TOKEN}"))], "");
    assert_eq!(a.0, 405, "{a:?}");
    assert!(error_of(&a).contains("method"), "{a:?}");

    // A scan started over the API, followed to its end.
    let a =
        post(&addr, "/scans", &format!("{{\"targets\": [{:?}], \"full\": true}}", demo.to_str().unwrap()));
    assert_eq!(a.0, 202, "{a:?}");
    let started = json(&a.2);
    let id = started["id"].as_str().unwrap().to_string();
    assert!(a.1.contains(&format!("/scans/{id}")), "Location: {}", a.1);
    // One at a time (max-running-scans = 1): a second is refused while it runs, or starts.
    let second = post(&addr, "/scans", &format!("{{\"targets\": [{:?}]}}", demo.to_str().unwrap()));
    assert!(matches!(second.0, 429 | 202), "{second:?}");
    let deadline = Instant::now() + Duration::from_secs(120);
    let done = loop {
        let (status, _, body) = get(&addr, &format!("/scans/{id}"), Some(TOKEN));
        assert_eq!(status, 200, "{body}");
        let s = json(&body);
        if s["status"] != "running" {
            break s;
        }
        assert!(Instant::now() < deadline, "the scan did not end: {s}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["exit_code"], 1, "findings reported: {done}");
    assert!(done["objects_scanned"].as_u64().unwrap() > 5, "{done}");
    assert!(done["findings"].as_u64().unwrap() > 100, "{done}");
    let run = done["run_id"].as_str().unwrap();
    let (of_run, _) = all_findings(&addr, &format!("&run={run}"));
    assert_eq!(
        of_run.len() as u64,
        done["findings"].as_u64().unwrap(),
        "the run's findings are in the store"
    );

    // Metrics: parsed by the Prometheus client library; the API scan counted.
    let (status, head, text) = get(&addr, "/metrics", Some(TOKEN));
    assert_eq!(status, 200);
    assert!(head.contains("application/openmetrics-text"), "{head}");
    let m = parse_metrics(&text);
    assert_eq!(m["dlp_objects_scanned"]["type"], "counter", "{m}");
    assert!(
        sample(&m, "dlp_objects_scanned", "dlp_objects_scanned_total", None)
            >= done["objects_scanned"].as_f64().unwrap()
    );
    assert!(sample(&m, "dlp_findings", "dlp_findings_total", Some(("info_type", "EMAIL_ADDRESS"))) > 0.0);
    assert!(sample(&m, "dlp_runs", "dlp_runs_total", Some(("command", "sweep"))) >= 1.0);
    assert_eq!(m["dlp_object_scan_duration_seconds"]["type"], "histogram");
    assert!(
        sample(&m, "dlp_object_scan_duration_seconds", "dlp_object_scan_duration_seconds_count", None) > 5.0
    );
    assert_eq!(m["dlp_queue_lag_seconds"]["type"], "histogram");

    // schemathesis: generated requests against the document, responses checked against it.
    let st = Command::new("python3")
        .args(["-m", "schemathesis.cli", "run", &format!("http://{addr}/openapi.json")])
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,ignored_auth"])
        .args(["--max-examples", "25", "--seed", "7", "--phases", "examples,coverage,fuzzing", "--workers", "1"])
        .args(["--exclude-path", "/scans"])
        .env("SCHEMATHESIS_HOOKS", "")
        .current_dir(&home)
        .output()
        .unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&st.stdout), String::from_utf8_lossy(&st.stderr));
    assert!(st.status.success(), "schemathesis failed:\n{report}");
    let summary: Vec<&str> = report.lines().filter(|l| l.contains("passed") || l.contains("cases")).collect();
    eprintln!("schemathesis: {summary:?}");

    // SIGTERM: the service stops, exit 0.
    unsafe_sigterm(child.id());
    let status = child.wait().unwrap();
    let rest: Vec<String> = lines.try_iter().collect();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("serve: stopped")), "{rest:?}");
}

fn unsafe_sigterm(pid: u32) {
    let ok = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(ok.success());
}
