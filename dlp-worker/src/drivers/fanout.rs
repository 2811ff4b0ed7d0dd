//! Fan-out sweeps: `sweep --enqueue-sqs QUEUE_URL` (or `--enqueue-azure-queue`) lists its
//! targets as any sweep does (sampling, unchanged objects, `--max-objects`, checkpoints), but
//! instead of scanning the objects it sends them, in batches, as work items
//! ([`WorkItem`]) to a queue. Any number of `dlp-worker listen` workers on that queue scan
//! them; a shared PostgreSQL state store makes each object version scanned and acted on once
//! (claims, see `State::claim`).

use super::events::WorkItem;
use crate::aws::AwsQuery;
use crate::azqueue::AzureQueue;
use crate::source::credentials::NetConfig;
use anyhow::{bail, Context, Result};
use std::time::Duration;

/// The largest work item body, in bytes: Azure queue messages hold 64 KiB once
/// base64-encoded; SQS messages 256 KiB.
const MAX_ITEM_BYTES: usize = 45_000;

/// SQS SendMessageBatch: at most 10 messages and 256 KiB in all.
const SQS_BATCH_MESSAGES: usize = 10;
const SQS_BATCH_BYTES: usize = 200_000;

/// Where a fan-out sweep sends its work items (`--enqueue-sqs`, `--enqueue-azure-queue`).
#[derive(Debug, Clone)]
pub enum QueueUrl {
    Sqs(String),
    Azure(String),
}

impl QueueUrl {
    pub fn url(&self) -> &str {
        match self {
            QueueUrl::Sqs(u) | QueueUrl::Azure(u) => u,
        }
    }
}

/// A fan-out sweep's settings.
#[derive(Debug, Clone)]
pub struct EnqueueConfig {
    pub queue: QueueUrl,
    /// Objects per work item (`--enqueue-batch`).
    pub batch: usize,
}

enum Sink {
    Sqs { aws: AwsQuery, url: String, region: String },
    Azure(AzureQueue),
}

/// Gathers listed objects into work items and sends them.
pub struct Enqueuer {
    sink: Sink,
    batch: usize,
    since: i64,
    sweep: String,
    /// Objects of the item being filled, and its size as JSON.
    pending: Vec<String>,
    pending_bytes: usize,
    /// Full items not sent yet (SQS sends up to 10 at once), with their objects.
    ready: Vec<(String, Vec<String>)>,
    /// Messages sent so far.
    pub messages: u64,
}

impl Enqueuer {
    /// An enqueuer for sweep run `sweep`; `since` is the sweep's start for a `--full` sweep
    /// (workers rescan what was scanned before it), 0 for an incremental one.
    pub fn new(cfg: &EnqueueConfig, net: &NetConfig, since: i64, sweep: &str) -> Result<Enqueuer> {
        let sink = match &cfg.queue {
            QueueUrl::Sqs(url) => {
                let http = reqwest::Client::builder().build().context("starting the HTTP client")?;
                let host = url.split('/').nth(2).unwrap_or("");
                let region = crate::aws::region(host.strip_prefix("sqs.").and_then(|h| h.split('.').next()));
                Sink::Sqs { aws: AwsQuery::from_env(http)?, url: url.clone(), region }
            }
            QueueUrl::Azure(url) => Sink::Azure(AzureQueue::new(url, net)?),
        };
        Ok(Enqueuer {
            sink,
            batch: cfg.batch.max(1),
            since,
            sweep: sweep.to_string(),
            pending: Vec::new(),
            pending_bytes: 0,
            ready: Vec::new(),
            messages: 0,
        })
    }

    /// Adds an object; returns the objects whose items were sent meanwhile.
    pub async fn add(&mut self, url: String) -> Result<Vec<String>> {
        // A JSON string of the URL and a comma; escapes make it longer, never past 6x.
        let bytes =
            url.len() + 3 + url.bytes().filter(|b| *b == b'"' || *b == b'\\' || *b < 0x20).count() * 5;
        if bytes + 200 > MAX_ITEM_BYTES {
            bail!("{url}: the object's name is too long for a work item");
        }
        if !self.pending.is_empty()
            && (self.pending.len() >= self.batch || self.pending_bytes + bytes + 200 > MAX_ITEM_BYTES)
        {
            self.seal()?;
        }
        self.pending.push(url);
        self.pending_bytes += bytes;
        if self.ready_to_send() {
            return self.send_ready().await;
        }
        Ok(Vec::new())
    }

    /// Sends everything gathered; returns the objects sent.
    pub async fn flush(&mut self) -> Result<Vec<String>> {
        if !self.pending.is_empty() {
            self.seal()?;
        }
        let mut sent = Vec::new();
        while !self.ready.is_empty() {
            sent.extend(self.send_ready().await?);
        }
        Ok(sent)
    }

    /// Turns the pending objects into an item ready to send.
    fn seal(&mut self) -> Result<()> {
        let objects = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        let item = WorkItem { kind: "scan", objects: &objects, since: self.since, sweep: &self.sweep };
        let body = serde_json::to_string(&item).context("writing a work item")?;
        self.ready.push((body, objects));
        Ok(())
    }

    fn ready_to_send(&self) -> bool {
        match self.sink {
            Sink::Sqs { .. } => {
                self.ready.len() >= SQS_BATCH_MESSAGES
                    || self.ready.iter().map(|(b, _)| b.len()).sum::<usize>() + MAX_ITEM_BYTES
                        > SQS_BATCH_BYTES
            }
            Sink::Azure(_) => !self.ready.is_empty(),
        }
    }

    /// Sends ready items: one SendMessageBatch call (what fits), or one Azure message.
    async fn send_ready(&mut self) -> Result<Vec<String>> {
        match &self.sink {
            Sink::Azure(q) => {
                let mut sent = Vec::new();
                for (body, objects) in std::mem::take(&mut self.ready) {
                    q.put(&body).await.with_context(|| format!("sending a work item to {}", q.url))?;
                    self.messages += 1;
                    sent.extend(objects);
                }
                Ok(sent)
            }
            Sink::Sqs { aws, url, region } => {
                let (mut n, mut bytes) = (0, 0);
                while n < self.ready.len()
                    && n < SQS_BATCH_MESSAGES
                    && bytes + self.ready[n].0.len() <= SQS_BATCH_BYTES
                {
                    bytes += self.ready[n].0.len();
                    n += 1;
                }
                let items: Vec<(String, Vec<String>)> = self.ready.drain(..n.max(1)).collect();
                let mut left: Vec<usize> = (0..items.len()).collect();
                // Entries SQS refuses (throttled, internal errors) are sent again once.
                for attempt in 0..2 {
                    let keys: Vec<(String, String)> = left
                        .iter()
                        .enumerate()
                        .map(|(j, _)| {
                            (
                                format!("SendMessageBatchRequestEntry.{}.Id", j + 1),
                                format!("SendMessageBatchRequestEntry.{}.MessageBody", j + 1),
                            )
                        })
                        .collect();
                    let ids: Vec<String> = left.iter().map(|i| i.to_string()).collect();
                    let mut form: Vec<(&str, &str)> =
                        vec![("Action", "SendMessageBatch"), ("QueueUrl", url), ("Version", "2012-11-05")];
                    for (j, &i) in left.iter().enumerate() {
                        form.push((&keys[j].0, &ids[j]));
                        form.push((&keys[j].1, &items[i].0));
                    }
                    let answer = aws
                        .call_with_timeout("sqs", url, region, &form, Duration::from_secs(30))
                        .await
                        .with_context(|| format!("sending work items to {url}"))?;
                    let failed = batch_failures(&answer)?;
                    let sent_now = left.len() - failed.len();
                    self.messages += sent_now as u64;
                    left.retain(|i| failed.iter().any(|(id, _)| id == &i.to_string()));
                    if left.is_empty() {
                        break;
                    }
                    if attempt == 1 {
                        let why = failed.first().map(|(_, m)| m.as_str()).unwrap_or("");
                        bail!("{url} refused {} work items: {why}", left.len());
                    }
                    // Refusals are mostly throttling: wait a little before the retry.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Ok(items.into_iter().flat_map(|(_, o)| o).collect())
            }
        }
    }
}

/// The entries a SendMessageBatch answer reports failed: (Id, Code: Message).
fn batch_failures(xml: &str) -> Result<Vec<(String, String)>> {
    let items = crate::aws::xml_items(xml, "BatchResultErrorEntry").context("reading an SQS answer")?;
    Ok(items
        .into_iter()
        .map(|fields| {
            let field =
                |n: &str| fields.iter().find(|(_, name, _)| name == n).map_or("", |(_, _, t)| t.as_str());
            (field("Id").to_string(), format!("{}: {}", field("Code"), field("Message")))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_answers() {
        let ok = "<SendMessageBatchResponse><SendMessageBatchResult><SendMessageBatchResultEntry><Id>0</Id><MessageId>m</MessageId></SendMessageBatchResultEntry></SendMessageBatchResult></SendMessageBatchResponse>";
        assert!(batch_failures(ok).unwrap().is_empty());
        let bad = "<SendMessageBatchResponse><SendMessageBatchResult><SendMessageBatchResultEntry><Id>0</Id></SendMessageBatchResultEntry><BatchResultErrorEntry><Id>1</Id><Code>InternalError</Code><Message>try again</Message><SenderFault>false</SenderFault></BatchResultErrorEntry></SendMessageBatchResult></SendMessageBatchResponse>";
        assert_eq!(
            batch_failures(bad).unwrap(),
            vec![("1".to_string(), "InternalError: try again".to_string())]
        );
        let quoted = "<R><BatchResultErrorEntry><Id>2</Id><Code>X</Code><Message>a &quot;b&quot;</Message></BatchResultErrorEntry></R>";
        assert_eq!(batch_failures(quoted).unwrap(), vec![("2".to_string(), "X: a \"b\"".to_string())]);
    }
}
