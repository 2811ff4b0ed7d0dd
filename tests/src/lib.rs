//! Helpers for the end-to-end tests in `tests/tests/`: run the real `dlp-worker` binary.
//!
//! The binary is taken from `DLP_WORKER_BIN`, else `target/debug/dlp-worker` of this
//! workspace; build it first (`cargo build -p dlp-worker`), as the README's test command does.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Path of the binary under test; panics with what to do when it is missing.
pub fn bin() -> PathBuf {
    let p = std::env::var_os("DLP_WORKER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/debug/dlp-worker"));
    assert!(p.exists(), "{} is missing: run `cargo build -p dlp-worker` first", p.display());
    p
}

/// A command for the binary with a private fingerprint-key location and state store
/// (`<config_home>/dlp-worker/state.db`).
pub fn cmd(config_home: &Path) -> Command {
    let mut c = Command::new(bin());
    c.env("XDG_CONFIG_HOME", config_home)
        .env("XDG_DATA_HOME", config_home)
        .env_remove("DLP_FINGERPRINT_KEY_FILE")
        .env_remove("DLP_STATE")
        .current_dir(root());
    c
}

/// [`cmd`] pointed at the local S3 server (moto, `DLP_TEST_S3`) with test keys, and no AWS
/// profile or session token from the machine's own configuration.
pub fn s3_cmd(config_home: &Path) -> Command {
    let mut c = cmd(config_home);
    c.env("AWS_ENDPOINT_URL", std::env::var("DLP_TEST_S3").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null());
    c
}

/// Runs `dlp-worker ARGS` in the workspace root, with `stdin` as standard input.
pub fn run(config_home: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = cmd(config_home)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dlp-worker");
    let mut input = child.stdin.take().expect("piped stdin");
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait for dlp-worker");
    feeder.join().expect("stdin feeder");
    out
}

/// Runs `dlp-worker scan --format json` under `/usr/bin/time`, with arguments and
/// environment added by `configure`. Returns the exit code, the JSON document, stderr and the
/// peak resident memory in KiB.
pub fn timed_scan_json(
    config_home: &Path,
    configure: impl FnOnce(&mut Command),
) -> (Option<i32>, serde_json::Value, String, u64) {
    let mut c = Command::new("/usr/bin/time");
    c.args(["-f", "peak-rss-kib %M"]).arg(bin()).args(["scan", "--format", "json"]);
    c.env("XDG_CONFIG_HOME", config_home)
        .env("XDG_DATA_HOME", config_home)
        .env_remove("DLP_FINGERPRINT_KEY_FILE")
        .env_remove("DLP_STATE")
        .current_dir(root());
    configure(&mut c);
    let out = c.output().expect("/usr/bin/time runs (apt package time)");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}); {stderr}"));
    let rss = stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("peak-rss-kib "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no /usr/bin/time output in {stderr}"));
    (out.status.code(), doc, stderr, rss)
}

/// Parses JSON Lines output.
pub fn jsonl(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// A fresh temporary directory under the target directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let p = root().join("target").join("e2e-tmp").join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The variable that enables the PDF sandbox's self-test inputs (crash, hang, allocation) in
/// the child processes `dlp-worker` starts; see `dlp_core::extract::sandbox::SELFTEST_ENV`.
pub const SANDBOX_SELFTEST_ENV: &str = "DLP_SANDBOX_SELFTEST";

/// The endpoint in `var`, or None (skip) when the servers are not running outside CI.
pub fn server(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{var} is not set under CI: tests/run.sh must start the servers (bash tests/emulators.sh start)")
        }
        _ => {
            eprintln!(
                "skipping: {var} is not set; run `bash tests/emulators.sh start` and source tests/.run/env"
            );
            None
        }
    }
}

/// Runs `python3 tests/stores.py ARGS`; returns its last stdout line parsed as JSON (or Null).
pub fn stores(args: &[&str]) -> serde_json::Value {
    let out = Command::new("python3")
        .arg(root().join("tests/stores.py"))
        .args(args)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stores.py {args:?} failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .last()
        .map_or(serde_json::Value::Null, |l| serde_json::from_str(l).unwrap_or(serde_json::Value::Null))
}

/// `AZURE_STORAGE_CONNECTION_STRING` for Azurite's well-known development account at
/// `DLP_TEST_AZURITE` (empty endpoint when the server is not configured).
pub fn azurite_connection_string() -> String {
    format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={};BlobEndpoint={};",
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
        server("DLP_TEST_AZURITE").unwrap_or_default()
    )
}

/// One HTTP/1.1 request to `addr` (`127.0.0.1:PORT`); the answer's status, head and body.
pub fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("send");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, head.to_string(), body.to_string())
}
