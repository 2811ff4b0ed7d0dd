//! `serve`'s HTTP API, from the config's `[api]` table:
//!
//! - `GET /healthz`: the process runs (no token needed);
//! - `GET /readyz`: every job started and the state store answers (no token needed);
//! - `GET /openapi.json`: this API's OpenAPI 3.0 document (`dlp-worker/openapi.json`);
//! - `GET /metrics`: Prometheus metrics, OpenMetrics text (see `crate::metrics`);
//! - `GET /findings`: findings from the state store, filtered, newest first, in pages;
//! - `POST /scans`: start a sweep of targets; `GET /scans/{id}`: its progress.
//!
//! All but the first three need `Authorization: Bearer TOKEN`, the token read from a file
//! or an environment variable named in the config (never given as a flag). Without one, the
//! API only binds to loopback. Errors are JSON `{"error": "…"}` with a 4xx or 5xx status.

use crate::config::ScanConfig;
use crate::drivers::scan::Live;
use crate::shutdown;
use crate::state::{FindingQuery, State};
use anyhow::{anyhow, bail, Context, Result};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The OpenAPI document, kept in the repository and served as is.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// Scans kept for `GET /scans/{id}`: the newest finished ones beyond this are forgotten.
const KEPT_SCANS: usize = 1000;

/// `[api]`, checked.
pub struct ApiConfig {
    pub listen: SocketAddr,
    pub token: Option<String>,
    /// The state store `GET /findings` reads and scans write.
    pub state: String,
    /// Flags of scans started with `POST /scans` (the config's `[defaults]`).
    pub defaults: toml::Table,
    /// Scans started over the API that may run at once (`max-running-scans`, default 2).
    pub max_running: usize,
    /// Whether `POST /scans` may scan local paths (`allow-local-targets`, default false).
    pub allow_local: bool,
}

impl ApiConfig {
    /// Reads `[api]`: `listen`, `token-file` or `token-env`, `max-running-scans`,
    /// `allow-local-targets`; `state` comes from `[defaults]`.
    pub fn from_table(t: &toml::Table, defaults: &toml::Table) -> Result<ApiConfig> {
        for k in t.keys() {
            if !matches!(
                k.as_str(),
                "listen" | "token-file" | "token-env" | "max-running-scans" | "allow-local-targets"
            ) {
                bail!("[api]: unknown `{k}`: give listen, token-file or token-env, max-running-scans, allow-local-targets");
            }
        }
        let listen: SocketAddr = t
            .get("listen")
            .and_then(toml::Value::as_str)
            .ok_or_else(|| anyhow!("[api]: `listen`: give an address, e.g. \"0.0.0.0:8080\""))?
            .parse()
            .map_err(|e| anyhow!("[api]: `listen`: {e}"))?;
        let text = |k: &str| t.get(k).and_then(toml::Value::as_str);
        let token = match (text("token-file"), text("token-env")) {
            (Some(_), Some(_)) => bail!("[api]: give token-file or token-env, not both"),
            (Some(f), None) => Some(
                std::fs::read_to_string(f)
                    .with_context(|| format!("[api]: reading the token file {f}"))?
                    .trim()
                    .to_string(),
            ),
            (None, Some(var)) => Some(std::env::var(var).unwrap_or_default().trim().to_string()),
            (None, None) => None,
        };
        match &token {
            Some(t) if t.len() < 16 => {
                bail!("[api]: the token is empty or shorter than 16 characters: use a long random secret")
            }
            None if !listen.ip().is_loopback() => bail!(
                "[api]: listen = {listen} accepts requests from the network: set token-file or token-env (a shared secret \
                 clients send as `Authorization: Bearer …`)"
            ),
            _ => {}
        }
        let max_running = match t.get("max-running-scans") {
            None => 2,
            Some(v) => v
                .as_integer()
                .filter(|n| (1..=64).contains(n))
                .ok_or_else(|| anyhow!("[api]: `max-running-scans`: give 1 to 64"))?
                as usize,
        };
        let allow_local = match t.get("allow-local-targets") {
            None => false,
            Some(v) => {
                v.as_bool().ok_or_else(|| anyhow!("[api]: `allow-local-targets`: give true or false"))?
            }
        };
        let state_flag = defaults.get("state").and_then(toml::Value::as_str).map(str::to_string);
        let state = crate::config::state_spec(&crate::StateArgs { state: state_flag, no_state: false })?
            .ok_or_else(|| anyhow!("[api]: the API reads the state store: drop no-state"))?;
        Ok(ApiConfig { listen, token, state, defaults: defaults.clone(), max_running, allow_local })
    }
}

/// How many of these scans are running.
fn running_in(scans: &[Arc<ScanJob>]) -> usize {
    scans.iter().filter(|j| j.end.lock().map(|e| e.is_none()).unwrap_or(false)).count()
}

/// A scan started over the API.
struct ScanJob {
    id: String,
    targets: Vec<String>,
    started_at: i64,
    live: Arc<Live>,
    end: Mutex<Option<ScanEnd>>,
}

#[derive(Clone)]
struct ScanEnd {
    finished_at: i64,
    exit_code: Option<u8>,
    error: Option<String>,
}

struct Api {
    cfg: ApiConfig,
    state: tokio::sync::Mutex<Option<State>>,
    scans: Mutex<Vec<Arc<ScanJob>>>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    ready: Arc<AtomicBool>,
}

/// Serves the API until shutdown; `ready` turns true once every job has started. Scans
/// started over the API are finished (a sweep stops listing on SIGTERM) before it returns.
pub fn run(cfg: ApiConfig, ready: Arc<AtomicBool>) -> Result<()> {
    let socket = std::net::TcpListener::bind(cfg.listen)
        .with_context(|| format!("[api]: cannot listen on {}", cfg.listen))?;
    socket.set_nonblocking(true).context("configuring the listening socket")?;
    let bound = socket.local_addr().context("reading the listening address")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the API runtime")?;
    let api = Arc::new(Api {
        cfg,
        state: tokio::sync::Mutex::new(None),
        scans: Mutex::new(Vec::new()),
        threads: Mutex::new(Vec::new()),
        ready,
    });
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }))
        .route("/metrics", get(metrics))
        .route("/findings", get(findings))
        .route("/scans", post(start_scan))
        .route("/scans/{id}", get(scan_status))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint; see /openapi.json") })
        .method_not_allowed_fallback(|| async {
            error(StatusCode::METHOD_NOT_ALLOWED, "this endpoint takes another method; see /openapi.json")
        })
        .with_state(api.clone());
    say!("serve: API on http://{bound}");
    let served = rt.block_on(async move {
        let socket = tokio::net::TcpListener::from_std(socket)?;
        axum::serve(socket, app).with_graceful_shutdown(shutdown::wait()).await
    });
    let threads = std::mem::take(&mut *api.threads.lock().map_err(|_| anyhow!("the API's scan list broke"))?);
    for t in threads {
        let _ = t.join();
    }
    served.with_context(|| format!("the API on {bound} failed"))
}

type Shared = axum::extract::State<Arc<Api>>;

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// Checks `Authorization: Bearer TOKEN`: the refusal, if any.
fn refused(api: &Api, headers: &HeaderMap) -> Option<Response> {
    let want = api.cfg.token.as_ref()?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    match given {
        Some(t) if super::push::same(t, want) => None,
        Some(_) => Some(error(StatusCode::UNAUTHORIZED, "wrong token")),
        None => Some(error(StatusCode::UNAUTHORIZED, "give the API token as `Authorization: Bearer TOKEN`")),
    }
}

impl Api {
    /// How many scans started over the API are running.
    fn running(&self) -> usize {
        self.scans.lock().map(|s| running_in(&s)).unwrap_or(0)
    }

    /// The state store, opened on first use (and again after a failure).
    async fn state(&self) -> Result<State> {
        let mut s = self.state.lock().await;
        if let Some(state) = &*s {
            return Ok(state.clone());
        }
        let state = State::open(&self.cfg.state).await?;
        *s = Some(state.clone());
        Ok(state)
    }
}

async fn readyz(axum::extract::State(api): Shared) -> Response {
    if !api.ready.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "starting"}))).into_response();
    }
    let check = async {
        let state = api.state().await?;
        state.ping().await
    };
    match tokio::time::timeout(Duration::from_secs(5), check).await {
        Ok(Ok(())) => Json(json!({"status": "ready"})).into_response(),
        // The detail (hosts, users, paths) goes to the log, not to this unauthenticated answer.
        Ok(Err(e)) => {
            say!("serve: not ready: {e:#}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "reason": "the state store does not answer"})),
            )
                .into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "reason": "the state store did not answer within 5 s"})),
        )
            .into_response(),
    }
}

async fn metrics(axum::extract::State(api): Shared, headers: HeaderMap) -> Response {
    if let Some(r) = refused(&api, &headers) {
        return r;
    }
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        crate::metrics::get().render(),
    )
        .into_response()
}

/// `GET /findings` parameters, read by hand so that every mistake gets a clear 400.
fn finding_query(params: &[(String, String)]) -> Result<FindingQuery, String> {
    let mut q = FindingQuery {
        store: None,
        key_prefix: None,
        info_types: Vec::new(),
        min_likelihood: None,
        since: None,
        until: None,
        run: None,
        limit: 100,
        before_id: None,
    };
    let mut seen = std::collections::HashSet::new();
    let time = |k: &str, v: &str| {
        chrono::DateTime::parse_from_rfc3339(v)
            .map(|t| t.timestamp_millis())
            .map_err(|e| format!("{k}: {v:?} is not an RFC 3339 time like 2026-12-01T00:00:00Z ({e})"))
    };
    for (k, v) in params {
        if !seen.insert(k.as_str()) {
            return Err(format!("{k}: give it once"));
        }
        match k.as_str() {
            "target" => {
                if v.is_empty() {
                    return Err("target: give a bucket URL or a path".into());
                }
                let (store, prefix) = super::findings::target_filter(v).map_err(|e| format!("{e:#}").replacen("--target", "target", 1))?;
                q.store = Some(store);
                q.key_prefix = prefix;
            }
            "info_type" => {
                if v.split(',').count() > 100 {
                    return Err("info_type: give at most 100 info types".into());
                }
                for t in v.split(',') {
                    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') {
                        return Err(format!("info_type: {t:?} is not an info type name (like CREDIT_CARD_NUMBER)"));
                    }
                    q.info_types.push(t.to_string());
                }
            }
            "min_likelihood" => {
                let l: dlp_core::Likelihood = v.parse().map_err(|e| format!("min_likelihood: {e}"))?;
                q.min_likelihood = Some(l as i64);
            }
            "since" => q.since = Some(time(k, v)?),
            "until" => q.until = Some(time(k, v)?),
            "run" => {
                if v.is_empty() {
                    return Err("run: give a run id".into());
                }
                q.run = Some(v.clone());
            }
            "limit" => {
                q.limit = v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| format!("limit: {v:?} is not a number from 1 to 1000"))?
            }
            "page_token" => {
                q.before_id = Some(
                    v.parse::<i64>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("page_token: {v:?} is not a token this API gave"))?,
                )
            }
            _ => {
                return Err(format!(
                    "unknown parameter {k:?}; give target, info_type, min_likelihood, since, until, run, limit, page_token"
                ))
            }
        }
    }
    Ok(q)
}

async fn findings(
    axum::extract::State(api): Shared,
    headers: HeaderMap,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    if let Some(r) = refused(&api, &headers) {
        return r;
    }
    let params = match params {
        Ok(Query(p)) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("unreadable query string: {e}")),
    };
    let q = match finding_query(&params) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    // One more than the page: whether another page follows.
    let limit = q.limit as usize;
    let q = FindingQuery { limit: q.limit + 1, ..q };
    let rows = match api.state().await {
        Ok(state) => state.findings(&q).await,
        Err(e) => Err(e),
    };
    match rows {
        Ok(mut rows) => {
            // The store gives the rows oldest first; the API pages from the newest.
            rows.reverse();
            let more = rows.len() > limit;
            rows.truncate(limit);
            let next = if more { rows.last().map(|f| f.id.to_string()) } else { None };
            // Raw values stay in the store: the API never serves them.
            for f in &mut rows {
                f.quote = None;
            }
            Json(json!({ "findings": rows, "next_page_token": next })).into_response()
        }
        Err(e) => {
            say!("error: serve: reading findings: {e:#}");
            error(StatusCode::SERVICE_UNAVAILABLE, "the state store does not answer; try again later")
        }
    }
}

/// `POST /scans` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanRequest {
    targets: Vec<String>,
    #[serde(default)]
    full: bool,
    sample_percent: Option<f64>,
    max_objects: Option<u64>,
}

impl ScanRequest {
    /// The sweep this request asks for, with the config's defaults.
    fn config(&self, api: &ApiConfig) -> Result<ScanConfig, String> {
        if self.targets.is_empty() || self.targets.len() > 100 {
            return Err("targets: give 1 to 100 buckets or prefixes".into());
        }
        for t in &self.targets {
            match crate::source::remote::Target::parse(t) {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("targets: {e}")),
                None if api.allow_local && !t.is_empty() && !t.starts_with('-') => {}
                None => {
                    return Err(format!(
                        "targets: {t:?} is not a bucket URL (s3://, gs://, az://); local paths need allow-local-targets"
                    ))
                }
            }
        }
        let mut job = toml::Table::new();
        job.insert(
            "targets".into(),
            toml::Value::Array(self.targets.iter().cloned().map(toml::Value::String).collect()),
        );
        if self.full {
            job.insert("full".into(), toml::Value::Boolean(true));
        }
        if let Some(p) = self.sample_percent {
            job.insert("sample-percent".into(), toml::Value::Float(p));
        }
        if let Some(n) = self.max_objects {
            let n = i64::try_from(n).map_err(|_| "max_objects: too large".to_string())?;
            job.insert("max-objects".into(), toml::Value::Integer(n));
        }
        let mut cfg = super::serve::sweep_config(&api.defaults, &job)?;
        cfg.quiet = true;
        cfg.progress = false;
        if cfg.output.is_none() {
            // The findings are in the state store; without an `output`, none is written.
            cfg.output = Some(std::path::PathBuf::from("/dev/null"));
        }
        Ok(cfg)
    }
}

fn time_text(ms: i64) -> Value {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or(Value::Null, |t| Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
}

fn status_json(job: &ScanJob) -> Value {
    let end = job.end.lock().ok().and_then(|e| e.clone());
    let live = &job.live;
    let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    json!({
        "id": job.id,
        "targets": job.targets,
        "status": match &end {
            None => "running",
            Some(e) if e.error.is_some() => "failed",
            Some(_) => "done",
        },
        "run_id": live.run_id.get(),
        "started_at": time_text(job.started_at),
        "finished_at": end.as_ref().map_or(Value::Null, |e| time_text(e.finished_at)),
        "objects_scanned": n(&live.objects),
        "bytes_scanned": n(&live.bytes),
        "findings": n(&live.findings),
        "skipped": n(&live.skipped),
        "errors": n(&live.errors),
        "exit_code": end.as_ref().and_then(|e| e.exit_code),
        "error": end.as_ref().and_then(|e| e.error.clone()),
    })
}

async fn start_scan(
    axum::extract::State(api): Shared,
    headers: HeaderMap,
    body: Result<Json<ScanRequest>, JsonRejection>,
) -> Response {
    if let Some(r) = refused(&api, &headers) {
        return r;
    }
    let req = match body {
        Ok(Json(r)) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the body is not a scan request: {}", e.body_text()),
            )
        }
    };
    if shutdown::requested() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the service is stopping");
    }
    if api.running() >= api.cfg.max_running {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "max-running-scans scans are running; try again when one ends",
        );
    }
    // Building a scanner (detectors, policy, keys) blocks: off the async workers.
    let built = {
        let api = api.clone();
        tokio::task::spawn_blocking(move || req.config(&api.cfg).map(|c| (c, req.targets)))
    };
    let (mut cfg, targets) = match built.await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return error(StatusCode::BAD_REQUEST, e),
        Err(e) => {
            return error(StatusCode::INTERNAL_SERVER_ERROR, format!("checking the request failed: {e}"))
        }
    };
    let live = Arc::new(Live::default());
    cfg.live = Some(live.clone());
    let mut r = [0u8; 8];
    let _ = getrandom::getrandom(&mut r);
    let job = Arc::new(ScanJob {
        id: hex::encode(r),
        targets,
        started_at: crate::state::now_ms(),
        live,
        end: Mutex::new(None),
    });
    {
        let Ok(mut scans) = api.scans.lock() else {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "the scan list broke; restart the service");
        };
        let running = running_in(&scans);
        if running >= api.cfg.max_running {
            return error(
                StatusCode::TOO_MANY_REQUESTS,
                format!("{running} scans are running (max-running-scans); try again when one ends"),
            );
        }
        scans.push(job.clone());
        // Forget the oldest finished scans beyond KEPT_SCANS.
        while scans.len() > KEPT_SCANS {
            match scans.iter().position(|s| s.end.lock().map(|e| e.is_some()).unwrap_or(true)) {
                Some(i) => {
                    scans.remove(i);
                }
                None => break,
            }
        }
    }
    let worker = job.clone();
    let spawned = std::thread::Builder::new().name(format!("api-scan-{}", job.id)).spawn(move || {
        say!("serve: API scan {} of {}", worker.id, worker.targets.join(" "));
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| crate::drivers::scan::run_ref(&cfg)))
                .unwrap_or_else(|_| Err(anyhow!("the scan panicked (a bug: please report it)")));
        let end = match result {
            Ok((code, cov)) => {
                say!("serve: API scan {}: {}", worker.id, crate::drivers::scan::sweep_summary(&cov));
                ScanEnd {
                    finished_at: crate::state::now_ms(),
                    exit_code: Some(exit_number(code)),
                    error: None,
                }
            }
            Err(e) => {
                say!("error: serve: API scan {}: {e:#}", worker.id);
                ScanEnd {
                    finished_at: crate::state::now_ms(),
                    exit_code: Some(2),
                    error: Some(format!("{e:#}")),
                }
            }
        };
        if let Ok(mut e) = worker.end.lock() {
            *e = Some(end);
        }
    });
    match spawned {
        Ok(t) => {
            if let Ok(mut threads) = api.threads.lock() {
                threads.retain(|t| !t.is_finished());
                threads.push(t);
            }
        }
        Err(e) => {
            if let Ok(mut end) = job.end.lock() {
                *end = Some(ScanEnd {
                    finished_at: crate::state::now_ms(),
                    exit_code: None,
                    error: Some(format!("could not start: {e}")),
                });
            }
            return error(StatusCode::SERVICE_UNAVAILABLE, format!("starting the scan: {e}"));
        }
    }
    let mut resp = (StatusCode::ACCEPTED, Json(status_json(&job))).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/scans/{}", job.id)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// 0, 1 or 2, from the scan's exit code.
fn exit_number(code: std::process::ExitCode) -> u8 {
    if code == std::process::ExitCode::SUCCESS {
        0
    } else if code == std::process::ExitCode::from(1) {
        1
    } else {
        2
    }
}

async fn scan_status(
    axum::extract::State(api): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = refused(&api, &headers) {
        return r;
    }
    let job = api.scans.lock().ok().and_then(|s| s.iter().find(|j| j.id == id).cloned());
    match job {
        Some(j) => Json(status_json(&j)).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no scan {id:?} (ids come from POST /scans; finished scans are kept for the newest {KEPT_SCANS})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(p: &[(&str, &str)]) -> Result<FindingQuery, String> {
        finding_query(&p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>())
    }

    #[test]
    fn finding_parameters() {
        let ok = q(&[
            ("target", "s3://bucket/dir"),
            ("info_type", "CREDIT_CARD_NUMBER,EMAIL_ADDRESS"),
            ("min_likelihood", "likely"),
            ("since", "2026-12-01T00:00:00Z"),
            ("limit", "5"),
            ("page_token", "42"),
        ])
        .unwrap();
        assert_eq!(ok.store.as_deref(), Some("s3://bucket"));
        assert_eq!(ok.key_prefix.as_deref(), Some("dir"));
        assert_eq!(ok.info_types.len(), 2);
        assert_eq!(
            (ok.limit, ok.before_id, ok.min_likelihood),
            (5, Some(42), Some(dlp_core::Likelihood::Likely as i64))
        );
        for (bad, why) in [
            (vec![("limit", "0")], "limit"),
            (vec![("limit", "x")], "limit"),
            (vec![("since", "yesterday")], "RFC 3339"),
            (vec![("info_type", "card; DROP")], "info_type"),
            (vec![("min_likelihood", "sure")], "unknown likelihood"),
            (vec![("page_token", "-1")], "page_token"),
            (vec![("colour", "red")], "unknown parameter"),
            (vec![("limit", "1"), ("limit", "2")], "once"),
        ] {
            let e = q(&bad).err().unwrap_or_else(|| panic!("{bad:?} was accepted"));
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn api_tables() {
        let d = toml::Table::new();
        let t = |s: &str| s.parse::<toml::Table>().unwrap();
        let refused =
            |text: &str| ApiConfig::from_table(&t(text), &d).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(refused("listen = \"0.0.0.0:1\"").contains("token"));
        assert!(refused("listen = \"127.0.0.1:1\"\ntoken-env = \"DLP_TEST_NO_SUCH_VAR\"")
            .contains("16 characters"));
        assert!(ApiConfig::from_table(&t("listen = \"127.0.0.1:1\"\ncolour = 1"), &d).is_err());
        assert!(ApiConfig::from_table(&t("listen = \"nowhere\""), &d).is_err());
        let Ok(c) = ApiConfig::from_table(&t("listen = \"127.0.0.1:1\""), &d) else { panic!("refused") };
        assert_eq!((c.max_running, c.allow_local, c.token.is_none()), (2, false, true));
    }
}
