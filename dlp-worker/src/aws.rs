//! AWS Query API calls (SQS, SNS) signed with SigV4 by object_store's signer, with the
//! credentials the S3 client would use (the `AWS_*` environment, profiles, web identity,
//! instance credentials).

use crate::source::remote::redact_queries;
use anyhow::{anyhow, bail, Context, Result};
use std::time::Duration;

/// A client for AWS Query API calls.
#[derive(Clone)]
pub struct AwsQuery {
    http: reqwest::Client,
    provider: object_store::aws::AwsCredentialProvider,
}

impl AwsQuery {
    /// Credentials as for S3.
    pub fn from_env(http: reqwest::Client) -> Result<AwsQuery> {
        let net = crate::source::credentials::NetConfig {
            retries: 3,
            retry_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        };
        match crate::source::credentials::s3("dlp-aws", &net)? {
            (crate::source::credentials::Client::S3(s3), _) => {
                Ok(AwsQuery { http, provider: s3.credentials().clone() })
            }
            _ => bail!("internal error: the S3 client is not an S3 client"),
        }
    }

    /// One call (`form` holds `Action` and its parameters); returns the response body.
    /// Throttling, 5xx and connection failures are retried with backoff. `timeout` is per
    /// attempt (longer than a long poll for ReceiveMessage).
    pub async fn call(
        &self,
        service: &str,
        endpoint: &str,
        region: &str,
        form: &[(&str, &str)],
    ) -> Result<String> {
        self.call_with_timeout(service, endpoint, region, form, Duration::from_secs(30)).await
    }

    pub async fn call_with_timeout(
        &self,
        service: &str,
        endpoint: &str,
        region: &str,
        form: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<String> {
        let body: String = reqwest::Url::parse_with_params("http://x/", form)
            .map(|u| u.query().unwrap_or("").to_string())
            .context("encoding the request")?;
        let shown = redact_queries(endpoint);
        let mut delay = Duration::from_millis(250);
        let mut last = String::new();
        for attempt in 0..5 {
            if attempt > 0 {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            let credential = self
                .provider
                .get_credential()
                .await
                .map_err(|e| anyhow!("getting AWS credentials for {service}: {e}"))?;
            let mut req = http::Request::builder()
                .method(http::Method::POST)
                .uri(endpoint)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(object_store::client::HttpRequestBody::from(body.clone().into_bytes()))
                .context("building the request")?;
            object_store::aws::AwsAuthorizer::new(&credential, service, region)
                .try_authorize(&mut req, None)
                .map_err(|e| anyhow!("signing the {service} request: {e}"))?;
            let mut r = self.http.post(endpoint).timeout(timeout).body(body.clone());
            for (k, v) in req.headers() {
                r = r.header(k, v);
            }
            match r.send().await {
                Ok(resp) if resp.status().is_success() => {
                    return resp.text().await.context("reading the answer")
                }
                Ok(resp) => {
                    let status = resp.status();
                    let text = resp.text().await.unwrap_or_default();
                    last = format!("{service} {shown} answered {status}: {}", error_text(&text));
                    if status.is_client_error() && !text.contains("Throttl") {
                        break;
                    }
                }
                Err(e) if e.is_connect() => last = format!("cannot connect to {service} at {shown}"),
                Err(e) if e.is_timeout() => last = format!("{service} {shown} did not answer in time"),
                Err(_) => last = format!("{service} {shown}: the request failed"),
            }
        }
        bail!("{last}")
    }
}

/// One leaf element of a Query API answer: its parent's name, its name and its text.
pub type XmlField = (String, String, String);

/// The leaf elements of each `item` element of a Query API answer (`Message` of a
/// ReceiveMessage answer, `BatchResultErrorEntry` of a SendMessageBatch one), in order, with
/// entity references resolved.
pub fn xml_items(xml: &str, item: &str) -> Result<Vec<Vec<XmlField>>> {
    use quick_xml::events::Event;
    let unreadable = |e: &dyn std::fmt::Display| anyhow!("unreadable answer: {e}");
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut out, mut cur, mut path, mut text) =
        (Vec::new(), None::<Vec<XmlField>>, Vec::<String>::new(), String::new());
    loop {
        match reader.read_event().map_err(|e| unreadable(&e))? {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if name == item {
                    cur = Some(Vec::new());
                }
                path.push(name);
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.decode().map_err(|e| unreadable(&e))?),
            Event::GeneralRef(r) => {
                text.push(crate::actions::store::xml_ref(&r).map_err(|e| unreadable(&e))?)
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                if name == item {
                    out.extend(cur.take());
                } else if let Some(fields) = cur.as_mut() {
                    let parent = path.last().cloned().unwrap_or_default();
                    fields.push((parent, name, std::mem::take(&mut text)));
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// The region in an SQS queue URL (`sqs.eu-west-1.amazonaws.com`) or an SNS topic ARN.
pub fn region(hint: Option<&str>) -> String {
    hint.filter(|r| !r.is_empty())
        .map(str::to_string)
        .or_else(|| std::env::var("AWS_REGION").ok().filter(|v| !v.is_empty()))
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "us-east-1".into())
}

pub fn env_endpoint(service: &str) -> Option<String> {
    [format!("AWS_ENDPOINT_URL_{}", service.to_ascii_uppercase()), "AWS_ENDPOINT_URL".into()]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

/// `Code: Message` from an AWS XML error, or the start of the body.
pub fn error_text(body: &str) -> String {
    let field = |name: &str| {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find("</")? + start;
        Some(body[start..end].to_string())
    };
    match (field("Code"), field("Message")) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c,
        _ => body.chars().take(200).collect(),
    }
}
