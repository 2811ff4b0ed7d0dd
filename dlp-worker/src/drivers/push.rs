//! `listen --http ADDR`: the push endpoint. Event Grid and Pub/Sub POST events to any path;
//! the answer is 200 once the objects are scanned, recorded and acted on (or when the event
//! names nothing to scan, with the reason), and 503 when a scan failed, so the sender
//! retries. Also:
//!
//! - the Event Grid subscription validation handshake: a `SubscriptionValidationEvent` is
//!   answered with its `validationResponse`; the CloudEvents `OPTIONS` handshake with
//!   `WebHook-Allowed-Origin`;
//! - binary-mode CloudEvents (`ce-type` headers, the data as the body), as Eventarc sends;
//! - `GET /healthz`.
//!
//! Requests are scanned in batches by one thread (this one), as queue messages are. With a
//! token (`--http-token-env`), a request without it is refused with 401.

use super::events::Scope;
use super::listen::{triage, ListenArgs, Listener, Triage};
use crate::shutdown;
use anyhow::{anyhow, bail, Context, Result};
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The largest request body read (Event Grid sends at most 1 MiB per batch).
const MAX_BODY: usize = 1 << 20;

/// Objects to scan, and where to send whether they were.
struct Job {
    events: Vec<super::events::ObjectEvent>,
    done: oneshot::Sender<bool>,
}

struct Shared {
    token: Option<String>,
    /// Read without the listener's lock, so requests are answered while a scan runs.
    scope: Arc<Scope>,
    listener: std::sync::Mutex<Listener>,
    jobs: crossbeam_channel::Sender<Job>,
}

pub(super) fn serve(listener: Listener, args: &ListenArgs, addr: SocketAddr) -> Result<ExitCode> {
    let token = match &args.http_token_env {
        Some(var) => Some(
            std::env::var(var)
                .ok()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| anyhow!("--http-token-env {var}: the variable is not set or empty"))?,
        ),
        None if addr.ip().is_loopback() => None,
        None => bail!(
            "--http {addr} accepts events from the network: set --http-token-env VAR, a shared secret the push \
             subscription sends as ?token=… in its URL or as a Bearer token"
        ),
    };
    let socket =
        std::net::TcpListener::bind(addr).with_context(|| format!("--http {addr}: cannot listen"))?;
    socket.set_nonblocking(true).context("configuring the listening socket")?;
    let bound = socket.local_addr().context("reading the listening address")?;
    let (jobs, inbox) = crossbeam_channel::bounded::<Job>(1024);
    let targets = listener.cfg.targets.join(" ");
    let shared = Arc::new(Shared {
        token,
        scope: listener.scope.clone(),
        listener: std::sync::Mutex::new(listener),
        jobs,
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the HTTP runtime")?;
    let server = {
        let shared = shared.clone();
        rt.spawn(async move {
            let socket = tokio::net::TcpListener::from_std(socket)?;
            let app = axum::Router::new()
                .route("/healthz", axum::routing::get(|| async { "ok\n" }))
                .fallback(handle)
                .with_state(shared);
            axum::serve(socket, app).with_graceful_shutdown(shutdown::wait()).await
        })
    };
    say!("listening on http://{bound} for events about objects under {targets}");
    // Scan what the handlers hand over, in batches, until the server is gone.
    let mut idle_since = Instant::now();
    loop {
        let first = match inbox.recv_timeout(Duration::from_millis(200)) {
            Ok(j) => j,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if server.is_finished() {
                    break;
                }
                if args.idle_exit.is_some_and(|s| idle_since.elapsed().as_secs_f64() >= s) {
                    shutdown::request();
                }
                continue;
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        };
        let mut batch = vec![first];
        batch.extend(inbox.try_iter().take(255));
        let urls: Vec<&[super::events::ObjectEvent]> = batch.iter().map(|j| j.events.as_slice()).collect();
        let done = match shared.listener.lock() {
            Ok(mut l) => l.scan(&urls),
            Err(_) => vec![false; batch.len()],
        };
        for (job, ok) in batch.into_iter().zip(done) {
            let _ = job.done.send(ok);
        }
        idle_since = Instant::now();
    }
    match rt.block_on(server) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => bail!("the HTTP server on {bound} failed: {e}"),
        Err(e) => bail!("the HTTP server on {bound} failed: {e}"),
    }
    say!("stopped listening on http://{bound}");
    Ok(ExitCode::SUCCESS)
}

/// Constant-time comparison of the presented token.
pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorized(token: &str, req: &Request) -> bool {
    let bearer = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let query = req.uri().query().unwrap_or("").split('&').find_map(|p| p.strip_prefix("token="));
    bearer.is_some_and(|b| same(b, token)) || query.is_some_and(|q| same(q, token))
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, [("content-type", "application/json")], format!("{body}\n")).into_response()
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    if let Some(token) = &shared.token {
        if !authorized(token, &req) {
            return answer(StatusCode::UNAUTHORIZED, json!({"error": "missing or wrong token"}));
        }
    }
    let (parts, body) = req.into_parts();
    if parts.method == Method::OPTIONS {
        // The CloudEvents webhook validation handshake (Event Grid's CloudEvents schema).
        let origin = parts.headers.get("webhook-request-origin").cloned();
        let mut r = StatusCode::OK.into_response();
        if let Some(o) = origin {
            r.headers_mut().insert("webhook-allowed-origin", o);
            r.headers_mut().insert("webhook-allowed-rate", axum::http::HeaderValue::from_static("*"));
        }
        return r;
    }
    if parts.method != Method::POST {
        return answer(StatusCode::METHOD_NOT_ALLOWED, json!({"error": "POST events here"}));
    }
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return answer(
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": format!("a body over {MAX_BODY} bytes")}),
            )
        }
    };
    let body = match structured(&parts.headers, &bytes) {
        Ok(b) => b,
        Err(reason) => {
            say!("ignoring a push: {reason}");
            return answer(StatusCode::OK, json!({"status": "ignored", "reason": reason}));
        }
    };
    if let Some(code) = validation_code(&body) {
        say!("answered an Event Grid subscription validation");
        return answer(StatusCode::OK, json!({ "validationResponse": code }));
    }
    let events = match triage(&shared.scope, "a push", &body) {
        Triage::Ack => {
            crate::metrics::get().message("ignored");
            return answer(StatusCode::OK, json!({"status": "ignored"}));
        }
        Triage::Scan(events) => events,
    };
    let n = events.len();
    let (done, result) = oneshot::channel();
    if shared.jobs.try_send(Job { events, done }).is_err() {
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "too many events waiting; retry later"}),
        );
    }
    match result.await {
        Ok(true) => {
            crate::metrics::get().message("scanned");
            answer(StatusCode::OK, json!({"status": "scanned", "objects": n}))
        }
        _ => {
            crate::metrics::get().message("retried");
            answer(StatusCode::SERVICE_UNAVAILABLE, json!({"error": "scanning failed; retry later"}))
        }
    }
}

/// The body as a structured event: binary-mode CloudEvents (`ce-*` headers) are rebuilt
/// into one.
fn structured(headers: &HeaderMap, bytes: &Bytes) -> Result<String, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the body is not UTF-8".to_string())?;
    let Some(t) = headers.get("ce-type").and_then(|v| v.to_str().ok()) else { return Ok(text.to_string()) };
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let data: Value = serde_json::from_str(text).map_err(|e| format!("CloudEvent data is not JSON ({e})"))?;
    Ok(json!({"specversion": h("ce-specversion"), "type": t, "source": h("ce-source"), "subject": h("ce-subject"), "data": data})
        .to_string())
}

/// The validation code of an Event Grid `SubscriptionValidationEvent`.
fn validation_code(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let events = v.as_array().cloned().unwrap_or_else(|| vec![v]);
    events.iter().find_map(|e| {
        (e["eventType"] == "Microsoft.EventGrid.SubscriptionValidationEvent")
            .then(|| e["data"]["validationCode"].as_str().map(str::to_string))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_and_binary_cloudevents() {
        let v = r#"[{"id":"1","topic":"/x","subject":"","data":{"validationCode":"512d38b6","validationUrl":"https://x"},"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent"}]"#;
        assert_eq!(validation_code(v).as_deref(), Some("512d38b6"));
        assert_eq!(validation_code(r#"{"eventType":"Microsoft.Storage.BlobCreated"}"#), None);
        let mut h = HeaderMap::new();
        h.insert("ce-type", "google.cloud.storage.object.v1.finalized".parse().unwrap());
        h.insert("ce-specversion", "1.0".parse().unwrap());
        let body = structured(&h, &Bytes::from_static(br#"{"bucket":"g","name":"k"}"#)).unwrap();
        let e = super::super::events::parse_events(&body).unwrap();
        assert_eq!(e[0].url(), "gs://g/k");
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
