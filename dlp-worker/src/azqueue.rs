//! A small Azure Queue Storage client: what `listen --azure-queue` needs to read Event Grid
//! events delivered to a storage queue (Get Messages, Delete Message, Update Message for the
//! visibility timeout, Put Message for the poison queue). Requests are signed with the same
//! credentials as Blob requests (`credentials::azure`).

use crate::actions::store::azure_signed;
use crate::source::credentials::{self, Client, NetConfig};
use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use std::sync::Arc;
use std::time::Duration;

/// One queue, by URL: `https://ACCOUNT.queue.core.windows.net/QUEUE`, or an emulator's
/// `http://127.0.0.1:10001/ACCOUNT/QUEUE`.
#[derive(Clone)]
pub struct AzureQueue {
    pub url: String,
    account: String,
    store: Arc<object_store::azure::MicrosoftAzure>,
    http: reqwest::Client,
}

/// A received message.
#[derive(Debug, Default, Clone)]
pub struct QueueMessage {
    pub id: String,
    pub pop_receipt: String,
    pub dequeue_count: u32,
    /// The message text, base64-decoded when it was encoded (as Event Grid sends it).
    pub text: String,
}

impl AzureQueue {
    /// The queue at `url`, with the storage credentials from the environment.
    pub fn new(url: &str, net: &NetConfig) -> Result<AzureQueue> {
        let parsed = reqwest::Url::parse(url).with_context(|| format!("--azure-queue {url}: not a URL"))?;
        if parsed.path_segments().and_then(|mut s| s.next_back()).is_none_or(str::is_empty) {
            bail!("--azure-queue {url}: give the queue's URL, e.g. https://ACCOUNT.queue.core.windows.net/QUEUE");
        }
        // The credentials are the account's, whatever container they are built for.
        let (client, _) = credentials::azure("queue", net)?;
        let Client::Azure { store, account, .. } = client else {
            bail!("internal error: not an Azure client");
        };
        let http = reqwest::Client::builder().build().context("starting the HTTP client")?;
        Ok(AzureQueue { url: url.trim_end_matches('/').to_string(), account, store, http })
    }

    /// The same credentials, another queue.
    pub fn sibling(&self, url: &str) -> AzureQueue {
        AzureQueue { url: url.trim_end_matches('/').to_string(), ..self.clone() }
    }

    async fn call(&self, method: http::Method, url: String, body: Vec<u8>) -> Result<reqwest::Response> {
        let req = http::Request::builder().method(method).uri(&url);
        let r = azure_signed(&self.http, &self.store, &self.account, req, body).await?;
        r.timeout(Duration::from_secs(60)).send().await.map_err(|e| {
            anyhow!("cannot reach {}: {}", self.url, crate::source::remote::redact_queries(&e.to_string()))
        })
    }

    async fn expect(&self, what: &str, r: reqwest::Response) -> Result<reqwest::Response> {
        let status = r.status();
        if status.is_success() {
            return Ok(r);
        }
        let code = r.headers().get("x-ms-error-code").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        bail!("{what} on {}: the queue service answered {status} {code}", self.url)
    }

    /// Up to `n` (at most 32) messages, hidden from other readers for `visibility` seconds.
    pub async fn receive(&self, n: u32, visibility: u32) -> Result<Vec<QueueMessage>> {
        let url = format!("{}/messages?numofmessages={}&visibilitytimeout={visibility}", self.url, n.min(32));
        let r = self.call(http::Method::GET, url, Vec::new()).await?;
        let body =
            self.expect("receiving messages", r).await?.text().await.context("reading the queue's answer")?;
        parse_messages(&body)
    }

    /// Deletes a received message.
    pub async fn delete(&self, id: &str, pop_receipt: &str) -> Result<()> {
        let url = format!("{}/messages/{id}?popreceipt={}", self.url, encode(pop_receipt));
        let r = self.call(http::Method::DELETE, url, Vec::new()).await?;
        self.expect("deleting a message", r).await.map(|_| ())
    }

    /// Keeps a message hidden `visibility` seconds more; returns its new pop receipt.
    pub async fn hide(&self, id: &str, pop_receipt: &str, visibility: u32) -> Result<String> {
        let url = format!(
            "{}/messages/{id}?popreceipt={}&visibilitytimeout={visibility}",
            self.url,
            encode(pop_receipt)
        );
        let r = self.call(http::Method::PUT, url, Vec::new()).await?;
        let r = self.expect("extending a message's visibility", r).await?;
        r.headers()
            .get("x-ms-popreceipt")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| anyhow!("the queue service sent no new pop receipt"))
    }

    /// Adds a message (its text base64-encoded), creating the queue if it is missing.
    pub async fn put(&self, text: &str) -> Result<()> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(text);
        let doc = format!("<QueueMessage><MessageText>{encoded}</MessageText></QueueMessage>");
        for attempt in 0..2 {
            let r = self
                .call(http::Method::POST, format!("{}/messages", self.url), doc.clone().into_bytes())
                .await?;
            if r.status() == 404 && attempt == 0 {
                let c = self.call(http::Method::PUT, self.url.clone(), Vec::new()).await?;
                self.expect("creating the queue", c).await?;
                continue;
            }
            return self.expect("adding a message", r).await.map(|_| ());
        }
        unreachable!("the loop returns")
    }
}

/// Percent-encodes a query value (pop receipts hold `+`, `/` and `=`).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Messages from a Get Messages answer.
fn parse_messages(xml: &str) -> Result<Vec<QueueMessage>> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut out, mut cur, mut text) = (Vec::new(), None::<QueueMessage>, String::new());
    loop {
        match reader.read_event().map_err(|e| anyhow!("unreadable queue answer: {e}"))? {
            Event::Start(e) => {
                if e.local_name().as_ref() == b"QueueMessage" {
                    cur = Some(QueueMessage::default());
                }
                text.clear();
            }
            Event::Text(t) => {
                text.push_str(&t.decode().map_err(|e| anyhow!("unreadable queue answer: {e}"))?)
            }
            Event::GeneralRef(r) => text.push(
                crate::actions::store::xml_ref(&r).map_err(|e| anyhow!("unreadable queue answer: {e}"))?,
            ),
            Event::End(e) => {
                if let Some(m) = cur.as_mut() {
                    match e.local_name().as_ref() {
                        b"MessageId" => m.id = text.clone(),
                        b"PopReceipt" => m.pop_receipt = text.clone(),
                        b"DequeueCount" => m.dequeue_count = text.trim().parse().unwrap_or(1),
                        b"MessageText" => m.text = decode_text(&text),
                        b"QueueMessage" => out.extend(cur.take()),
                        _ => {}
                    }
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// Event Grid base64-encodes what it queues; other producers may not. JSON is kept as is.
fn decode_text(t: &str) -> String {
    let t = t.trim();
    if t.starts_with('{') || t.starts_with('[') {
        return t.to_string();
    }
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_messages_answer() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><QueueMessagesList><QueueMessage><MessageId>m1</MessageId><InsertionTime>x</InsertionTime><PopReceipt>AgAA+/=</PopReceipt><DequeueCount>2</DequeueCount><MessageText>eyJhIjoxfQ==</MessageText></QueueMessage><QueueMessage><MessageId>m2</MessageId><PopReceipt>p</PopReceipt><DequeueCount>1</DequeueCount><MessageText>{&quot;b&quot;:2}</MessageText></QueueMessage></QueueMessagesList>"#;
        let m = parse_messages(xml).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].id.as_str(), m[0].pop_receipt.as_str(), m[0].dequeue_count), ("m1", "AgAA+/=", 2));
        assert_eq!(m[0].text, r#"{"a":1}"#);
        assert_eq!(m[1].text, r#"{"b":2}"#);
        assert_eq!(encode("a+b/="), "a%2Bb%2F%3D");
    }
}
