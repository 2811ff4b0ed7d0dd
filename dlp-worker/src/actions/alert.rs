//! Alerts: one JSON document per object that a rule with `alert` matched, sent to each
//! configured sink. Alerts carry redacted values and fingerprints, never raw values (even
//! with `--include-quote`).
//!
//! Webhooks are signed: `X-DLP-Timestamp: <unix seconds>` and
//! `X-DLP-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.

use crate::output::Record;
use crate::policy::{AlertConfig, Decision};
use crate::source::remote::redact_queries;
use crate::source::ObjectRef;
use anyhow::{anyhow, bail, Context, Result};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::io::Write;
use std::time::Duration;

/// Findings listed in one alert; the rest are counted.
const MAX_ALERT_FINDINGS: usize = 50;

/// A place alerts go.
pub enum Sink {
    Jsonl {
        name: String,
        out: std::sync::Mutex<Box<dyn Write + Send>>,
    },
    Webhook {
        url: String,
        secret: Option<Vec<u8>>,
        timeout: Duration,
        retries: u32,
    },
    Slack {
        url: String,
        timeout: Duration,
        retries: u32,
    },
    /// SQS `SendMessage` or SNS `Publish`, signed with the S3 credentials (SigV4).
    Aws {
        service: &'static str,
        endpoint: String,
        region: String,
        target: String,
    },
}

impl Sink {
    /// For the audit log: never a secret (query strings are cut; the Slack URL is one).
    pub fn describe(&self) -> String {
        match self {
            Sink::Jsonl { name, .. } => format!("jsonl {name}"),
            Sink::Webhook { url, .. } => format!("webhook {}", redact_queries(url)),
            Sink::Slack { .. } => "slack".into(),
            Sink::Aws { service, target, .. } => format!("{service} {}", redact_queries(target)),
        }
    }
}

/// The configured sinks.
pub struct Alerts {
    sinks: Vec<Sink>,
    http: reqwest::Client,
    /// For SQS and SNS.
    aws: Option<crate::aws::AwsQuery>,
}

fn secret_env(name: &str, what: &str) -> Result<String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => bail!("{what}: the environment variable {name} is not set"),
    }
}

impl Alerts {
    /// Opens the sinks of `cfg`; a missing secret or an unwritable file fails here, before
    /// any object is scanned.
    pub fn new(cfg: &AlertConfig, http: reqwest::Client) -> Result<Alerts> {
        let mut sinks = Vec::new();
        if let Some(path) = &cfg.jsonl {
            let out: Box<dyn Write + Send> = if path == "-" {
                Box::new(std::io::stdout())
            } else {
                Box::new(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .with_context(|| format!("opening the alert file {path}"))?,
                )
            };
            sinks.push(Sink::Jsonl { name: path.clone(), out: std::sync::Mutex::new(out) });
        }
        if let Some(w) = &cfg.webhook {
            let secret = match &w.secret_env {
                Some(name) => Some(secret_env(name, "[alert.webhook] secret_env")?.into_bytes()),
                None => None,
            };
            sinks.push(Sink::Webhook {
                url: w.url.clone(),
                secret,
                timeout: Duration::from_secs_f64(w.timeout),
                retries: w.retries,
            });
        }
        if let Some(s) = &cfg.slack {
            let url = secret_env(&s.url_env, "[alert.slack] url_env")?;
            if !url.starts_with("https://") && !url.starts_with("http://") {
                bail!("[alert.slack]: {} does not hold an http(s) URL", s.url_env);
            }
            sinks.push(Sink::Slack { url, timeout: Duration::from_secs_f64(s.timeout), retries: s.retries });
        }
        if let Some(q) = &cfg.sqs {
            let host = q.queue_url.split('/').nth(2).unwrap_or("");
            let region = host.strip_prefix("sqs.").and_then(|h| h.split('.').next());
            sinks.push(Sink::Aws {
                service: "sqs",
                endpoint: q.queue_url.clone(),
                region: crate::aws::region(region),
                target: q.queue_url.clone(),
            });
        }
        if let Some(t) = &cfg.sns {
            let region = crate::aws::region(t.topic_arn.split(':').nth(3));
            let endpoint = crate::aws::env_endpoint("sns")
                .unwrap_or_else(|| format!("https://sns.{region}.amazonaws.com"));
            sinks.push(Sink::Aws { service: "sns", endpoint, region, target: t.topic_arn.clone() });
        }
        let aws = if cfg.sqs.is_some() || cfg.sns.is_some() {
            Some(crate::aws::AwsQuery::from_env(http.clone())?)
        } else {
            None
        };
        Ok(Alerts { sinks, http, aws })
    }

    pub fn sinks(&self) -> &[Sink] {
        &self.sinks
    }

    /// Delivers one alert to one sink, retrying HTTP sinks with exponential backoff.
    pub async fn send(&self, sink: &Sink, payload: &Value) -> Result<()> {
        match sink {
            Sink::Jsonl { name, out } => {
                let mut line = serde_json::to_vec(payload)?;
                line.push(b'\n');
                let mut out = out
                    .lock()
                    .map_err(|_| anyhow!("the alert file {name} is unusable after an earlier failure"))?;
                out.write_all(&line)
                    .and_then(|()| out.flush())
                    .with_context(|| format!("writing the alert file {name}"))
            }
            Sink::Webhook { url, secret, timeout, retries } => {
                let body = serde_json::to_vec(payload)?;
                self.post(url, &sink.describe(), &body, secret.as_deref(), *timeout, *retries).await
            }
            Sink::Slack { url, timeout, retries } => {
                let body = serde_json::to_vec(&json!({ "text": slack_text(payload) }))?;
                self.post(url, &sink.describe(), &body, None, *timeout, *retries).await
            }
            Sink::Aws { service, endpoint, region, target } => {
                let message = serde_json::to_string(payload)?;
                let form: Vec<(&str, &str)> = if *service == "sqs" {
                    vec![
                        ("Action", "SendMessage"),
                        ("Version", "2012-11-05"),
                        ("QueueUrl", target),
                        ("MessageBody", &message),
                    ]
                } else {
                    vec![
                        ("Action", "Publish"),
                        ("Version", "2010-03-31"),
                        ("TopicArn", target),
                        ("Message", &message),
                    ]
                };
                let aws = self.aws.as_ref().ok_or_else(|| anyhow!("no AWS credentials for {service}"))?;
                aws.call(service, endpoint, region, &form).await.map(|_| ())
            }
        }
    }

    /// POSTs `body`; `shown` names the sink in messages (a Slack URL is a secret).
    async fn post(
        &self,
        url: &str,
        shown: &str,
        body: &[u8],
        secret: Option<&[u8]>,
        timeout: Duration,
        retries: u32,
    ) -> Result<()> {
        let mut delay = Duration::from_millis(250);
        let mut last = String::new();
        for attempt in 0..=retries {
            if attempt > 0 {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
            let ts = chrono::Utc::now().timestamp().to_string();
            let mut req = self
                .http
                .post(url)
                .timeout(timeout)
                .header("content-type", "application/json")
                .header("user-agent", concat!("dlp-worker/", env!("CARGO_PKG_VERSION")))
                .body(body.to_vec());
            if let Some(secret) = secret {
                req = req
                    .header("x-dlp-timestamp", &ts)
                    .header("x-dlp-signature", signature(secret, &ts, body));
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => {
                    let status = r.status();
                    last = format!("{shown} answered {status}");
                    // A client error will not change on retry (except 408 and 429).
                    if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
                        break;
                    }
                }
                Err(e) => {
                    last = if e.is_timeout() {
                        format!("{shown} did not answer within {}s", timeout.as_secs_f64())
                    } else if e.is_connect() {
                        format!("cannot connect to {shown}")
                    } else {
                        // reqwest's message may carry the URL: keep only its kind.
                        format!(
                            "posting to {shown} failed ({})",
                            if e.is_request() { "request error" } else { "transport error" }
                        )
                    };
                }
            }
        }
        bail!("{last} (after {} attempts); the alert is in the audit log", retries + 1)
    }
}

/// `sha256=<hex>`: HMAC-SHA256 of `<timestamp>.<body>` with the webhook secret.
pub fn signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC accepts any key"));
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The alert document for an object.
pub fn payload(
    run_id: &str,
    obj: &ObjectRef,
    d: &Decision<'_>,
    records: &[Record],
    total: u64,
    dry_run: bool,
) -> Value {
    let findings: Vec<Value> = records
        .iter()
        .filter(|r| d.info_types.iter().any(|t| **t == *r.info_type))
        .take(MAX_ALERT_FINDINGS)
        .map(|r| {
            json!({
                "info_type": &*r.info_type,
                "category": r.category,
                "likelihood": r.likelihood,
                "location": r.location,
                "redacted": r.redacted,
                "fingerprint": r.fingerprint,
            })
        })
        .collect();
    json!({
        "type": "dlp.alert",
        "run_id": run_id,
        "object": obj.name,
        "version": obj.version,
        "rule": d.rule.name,
        "classification": d.rule.classification,
        "reason": d.reason,
        "actions": d.rule.actions.iter().map(|a| a.name()).collect::<Vec<_>>(),
        "dry_run": dry_run,
        "findings_total": total,
        "findings": findings,
        "at": chrono::Utc::now().to_rfc3339(),
    })
}

fn slack_text(p: &Value) -> String {
    format!(
        ":rotating_light: *{}*: {} in `{}` (rule `{}`; actions: {})",
        p["classification"].as_str().unwrap_or(""),
        p["reason"].as_str().unwrap_or(""),
        p["object"].as_str().unwrap_or(""),
        p["rule"].as_str().unwrap_or(""),
        p["actions"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_value() {
        // echo -n '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            signature(b"secret", "1700000000", br#"{"a":1}"#),
            "sha256=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
        );
    }
}
