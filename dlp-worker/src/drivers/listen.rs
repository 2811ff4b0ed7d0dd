//! `dlp-worker listen`: scan each object an object-created event names, seconds after it is
//! written, and apply the policy. Events arrive
//!
//! - from an SQS queue (`--sqs`, long polling): S3 event notifications, direct, through SNS,
//!   or from EventBridge;
//! - from an Azure Storage queue (`--azure-queue`): Event Grid `BlobCreated` events;
//! - pushed over HTTP (`--http ADDR`): Event Grid (with its subscription validation
//!   handshake, Event Grid and CloudEvents schemas) and Pub/Sub push deliveries of GCS
//!   `OBJECT_FINALIZE` notifications.
//!
//! A message is deleted (a push answered 200) only once its objects are scanned and recorded,
//! with the policy's actions; one that keeps failing goes to a dead-letter queue after
//! `--max-receives`. Malformed events, events for deleted objects and events outside the
//! targets are logged with the reason and acknowledged. Objects already scanned at the same
//! version are skipped (the state store dedupes). SIGTERM stops taking events, finishes the
//! ones in flight, then exits.

use super::events::{parse_events, ObjectEvent, Scope};
use crate::aws::AwsQuery;
use crate::azqueue::AzureQueue;
use crate::config::{Claims, ScanConfig, SweepConfig};
use crate::shutdown;
use crate::source::remote::{Scheme, Target};
use crate::ScanArgs;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `dlp-worker listen`.
#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["sqs", "azure_queue", "http"]))]
pub struct ListenArgs {
    /// Read S3 event notifications (direct, through SNS, or from EventBridge) from this SQS
    /// queue URL.
    #[arg(long, value_name = "QUEUE_URL")]
    pub sqs: Option<String>,
    /// Read Event Grid BlobCreated events from this Azure Storage queue URL
    /// (`https://ACCOUNT.queue.core.windows.net/QUEUE`).
    #[arg(long, value_name = "QUEUE_URL")]
    pub azure_queue: Option<String>,
    /// Accept pushed events on this address (`127.0.0.1:8080`): Event Grid deliveries and
    /// Pub/Sub push deliveries of GCS notifications, POSTed to any path.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,
    /// The environment variable holding the shared secret pushes must carry, as `?token=`
    /// in the URL or `Authorization: Bearer`. Required unless `--http` is on loopback.
    #[arg(long, value_name = "VAR")]
    pub http_token_env: Option<String>,
    /// Move a message that failed this many times to `--dead-letter-queue`. Without one, an
    /// SQS message is left to the queue's redrive policy, and an Azure message goes to
    /// `QUEUE-poison` (as Azure Functions does).
    #[arg(long, default_value_t = 5)]
    pub max_receives: u32,
    /// The queue URL for messages that keep failing.
    #[arg(long, value_name = "QUEUE_URL")]
    pub dead_letter_queue: Option<String>,
    /// Seconds a received message stays invisible to other consumers while it is scanned
    /// (extended every half of it while the scan runs).
    #[arg(long, default_value_t = 300)]
    pub visibility_timeout: u32,
    /// SQS: long-poll wait per receive, in seconds (at most 20). Azure queues, which have no
    /// long polling: the pause between empty reads (at most this, starting at 0.25 s).
    #[arg(long, default_value_t = 20)]
    pub wait: u32,
    /// Stop after this many seconds without an event (default: never).
    #[arg(long, value_name = "SECONDS")]
    pub idle_exit: Option<f64>,
    /// The buckets and prefixes to scan (`s3://bucket/prefix`, `az://container`,
    /// `gs://bucket`); events for other objects are logged and acknowledged. Takes every
    /// `scan` flag (policy, output, limits).
    #[command(flatten)]
    pub scan: ScanArgs,
}

/// One SQS message, as received.
#[derive(Debug, Default)]
struct Message {
    id: String,
    receipt: String,
    body: String,
    receives: u32,
    /// When it was sent (Unix ms), from SentTimestamp.
    sent_ms: Option<i64>,
}

/// Messages from a ReceiveMessage answer (the Query API's XML).
fn parse_receive(xml: &str) -> Result<Vec<Message>> {
    let items = crate::aws::xml_items(xml, "Message").context("reading an SQS answer")?;
    Ok(items
        .into_iter()
        .map(|fields| {
            let mut m = Message::default();
            let mut attr_name = String::new();
            for (parent, name, text) in fields {
                match (parent.as_str(), name.as_str()) {
                    ("Message", "MessageId") => m.id = text,
                    ("Message", "ReceiptHandle") => m.receipt = text,
                    ("Message", "Body") => m.body = text,
                    ("Attribute", "Name") => attr_name = text,
                    ("Attribute", "Value") if attr_name == "ApproximateReceiveCount" => {
                        m.receives = text.trim().parse().unwrap_or(1)
                    }
                    ("Attribute", "Value") if attr_name == "SentTimestamp" => {
                        m.sent_ms = text.trim().parse().ok()
                    }
                    _ => {}
                }
            }
            m
        })
        .collect())
}

struct Queue<'a> {
    aws: &'a AwsQuery,
    url: &'a str,
    region: String,
}

impl Queue<'_> {
    async fn call(&self, form: &[(&str, &str)], timeout: Duration) -> Result<String> {
        let mut f = vec![("QueueUrl", self.url), ("Version", "2012-11-05")];
        f.extend_from_slice(form);
        self.aws.call_with_timeout("sqs", self.url, &self.region, &f, timeout).await
    }
}

/// One received message, whatever the queue.
#[derive(Debug)]
struct Delivery {
    id: String,
    /// SQS receipt handle or Azure pop receipt (which changes when the message is hidden
    /// longer).
    receipt: Mutex<String>,
    body: String,
    receives: u32,
    /// When it was sent (Unix ms), where the queue says.
    sent_ms: Option<i64>,
}

/// A queue `listen` pulls from.
enum Inbox<'a> {
    Sqs { queue: Queue<'a>, dlq: Option<Queue<'a>> },
    Azure { queue: AzureQueue, dlq: AzureQueue },
}

impl Inbox<'_> {
    fn name(&self) -> &str {
        match self {
            Inbox::Sqs { queue, .. } => queue.url,
            Inbox::Azure { queue, .. } => &queue.url,
        }
    }

    async fn receive(&self, args: &ListenArgs) -> Result<Vec<Delivery>> {
        match self {
            Inbox::Sqs { queue, .. } => {
                let (wait, visibility) = (args.wait.to_string(), args.visibility_timeout.to_string());
                let answer = queue
                    .call(
                        &[
                            ("Action", "ReceiveMessage"),
                            ("MaxNumberOfMessages", "10"),
                            ("WaitTimeSeconds", &wait),
                            ("VisibilityTimeout", &visibility),
                            ("AttributeName.1", "ApproximateReceiveCount"),
                            ("AttributeName.2", "SentTimestamp"),
                        ],
                        Duration::from_secs(u64::from(args.wait) + 30),
                    )
                    .await?;
                Ok(parse_receive(&answer)?
                    .into_iter()
                    .map(|m| Delivery {
                        id: m.id,
                        receipt: Mutex::new(m.receipt),
                        body: m.body,
                        receives: m.receives,
                        sent_ms: m.sent_ms,
                    })
                    .collect())
            }
            Inbox::Azure { queue, .. } => Ok(queue
                .receive(32, args.visibility_timeout)
                .await?
                .into_iter()
                .map(|m| Delivery {
                    id: m.id,
                    receipt: Mutex::new(m.pop_receipt),
                    body: m.text,
                    receives: m.dequeue_count,
                    sent_ms: None,
                })
                .collect()),
        }
    }

    async fn delete(&self, d: &Delivery) -> Result<()> {
        let receipt = receipt_of(d);
        match self {
            Inbox::Sqs { queue, .. } => queue
                .call(&[("Action", "DeleteMessage"), ("ReceiptHandle", &receipt)], Duration::from_secs(30))
                .await
                .map(|_| ()),
            Inbox::Azure { queue, .. } => queue.delete(&d.id, &receipt).await,
        }
    }

    /// Hides a message `visibility` seconds more.
    async fn hide(&self, d: &Delivery, visibility: u32) -> Result<()> {
        let receipt = receipt_of(d);
        match self {
            Inbox::Sqs { queue, .. } => {
                let timeout = visibility.to_string();
                let form = [
                    ("Action", "ChangeMessageVisibility"),
                    ("ReceiptHandle", receipt.as_str()),
                    ("VisibilityTimeout", &timeout),
                ];
                queue.call(&form, Duration::from_secs(30)).await.map(|_| ())
            }
            Inbox::Azure { queue, .. } => {
                let new = queue.hide(&d.id, &receipt, visibility).await?;
                if let Ok(mut r) = d.receipt.lock() {
                    *r = new;
                }
                Ok(())
            }
        }
    }

    /// Sends a message that failed too often to the dead-letter queue; returns its URL, or
    /// None when it is left to the queue's redrive policy.
    async fn dead_letter(&self, d: &Delivery) -> Result<Option<String>> {
        match self {
            Inbox::Sqs { dlq: None, .. } => Ok(None),
            Inbox::Sqs { dlq: Some(dlq), .. } => {
                dlq.call(&[("Action", "SendMessage"), ("MessageBody", &d.body)], Duration::from_secs(30))
                    .await?;
                Ok(Some(dlq.url.to_string()))
            }
            Inbox::Azure { dlq, .. } => {
                dlq.put(&d.body).await?;
                Ok(Some(dlq.url.clone()))
            }
        }
    }
}

fn receipt_of(d: &Delivery) -> String {
    d.receipt.lock().map(|r| r.clone()).unwrap_or_default()
}

/// What the event sources share: the scan configuration and the scope.
pub(super) struct Listener {
    pub(super) cfg: ScanConfig,
    pub(super) scope: std::sync::Arc<Scope>,
}

/// What to do with a delivery.
pub(super) enum Triage {
    /// Acknowledge: it names nothing to scan (the reason was logged).
    Ack,
    /// Scan these objects, then acknowledge.
    Scan(Vec<ObjectEvent>),
}

impl Listener {
    /// A listener whose claims on objects last `lease` unrenewed.
    fn new(scan: ScanArgs, lease: Duration) -> Result<Listener> {
        let targets: Vec<Target> = scan
            .targets
            .iter()
            .map(|t| match Target::parse(t) {
                Some(Ok(t)) => Ok(t),
                None => bail!("{t}: listen scans bucket objects: give s3://, gs:// or az:// targets"),
                Some(Err(e)) => bail!("{e}"),
            })
            .collect::<Result<_>>()?;
        let mut cfg = ScanConfig::from_args(scan)?;
        if cfg.state.is_none() {
            bail!("listen records what it scanned to skip repeated events: drop --no-state");
        }
        cfg.sweep = Some(SweepConfig { full: false, sample_percent: None, max_objects: None });
        cfg.command = "listen";
        cfg.objects_only = true;
        cfg.claims = Some(Claims::new(lease));
        cfg.append_output = true;
        cfg.quiet = true;
        // Events name their storage account; check it against the one scanned.
        let azure_account = match targets.iter().find(|t| t.scheme == Scheme::Azure) {
            Some(t) => match crate::source::credentials::azure(&t.bucket, &cfg.remote.net)?.0 {
                crate::source::credentials::Client::Azure { account, .. } => Some(account),
                _ => None,
            },
            None => None,
        };
        Ok(Listener { cfg, scope: std::sync::Arc::new(Scope { targets, azure_account }) })
    }

    /// Reads a delivery's body (`what` names it in the log).
    pub(super) fn triage(&self, what: &str, body: &str) -> Triage {
        triage(&self.scope, what, body)
    }

    /// Scans the objects of several deliveries in one run; for each delivery, whether all
    /// its objects were scanned, recorded and acted on (or are gone, or done by another
    /// worker).
    pub(super) fn scan(&mut self, work: &[&[ObjectEvent]]) -> Vec<bool> {
        let mut urls: Vec<String> = work.iter().flat_map(|u| u.iter().map(ObjectEvent::url)).collect();
        urls.sort();
        urls.dedup();
        self.cfg.targets = urls;
        if let Some(c) = &mut self.cfg.claims {
            c.since.clear();
            for e in work.iter().flat_map(|u| u.iter()).filter(|e| e.since > 0) {
                let s = c.since.entry(e.url()).or_default();
                *s = (*s).max(e.since);
            }
        }
        let cov = match crate::drivers::scan::run_ref(&self.cfg) {
            Ok((_, cov)) => cov,
            Err(e) => {
                say!(
                    "error: scanning {}: {e:#}; the events will be received again",
                    self.cfg.targets.join(" ")
                );
                return vec![false; work.len()];
            }
        };
        for s in cov.skipped.iter().filter(|s| s.reason == "empty") {
            say!("{}: gone (deleted after the event); acknowledged", s.object);
        }
        for e in &cov.errors {
            say!("error: {}: {}; the event will be received again", e.object, e.error);
        }
        if cov.actions_failed > 0 {
            say!("{} actions failed (see `dlp-worker audit --status failed`)", cov.actions_failed);
        }
        for b in &cov.busy {
            say!("{b}: another worker is scanning it; the event will be received again");
        }
        for u in &cov.not_recorded {
            say!("{u}: scanned but not recorded; the event will be received again");
        }
        work.iter()
            .map(|events| {
                events.iter().all(|e| {
                    let url = e.url();
                    !cov.errors.iter().any(|x| x.object == url)
                        && !cov.busy.contains(&url)
                        && !cov.not_recorded.contains(&url)
                })
            })
            .collect()
    }
}

/// Reads a delivery's body (`what` names it in the log).
pub(super) fn triage(scope: &Scope, what: &str, body: &str) -> Triage {
    match parse_events(body) {
        Err(reason) => {
            say!("ignoring {what}: {reason}");
            Triage::Ack
        }
        Ok(events) => {
            let mut urls = Vec::new();
            for e in events {
                if scope.contains(&e) {
                    urls.push(e);
                } else {
                    let acct = e.account.as_deref().map(|a| format!(" (account {a})")).unwrap_or_default();
                    say!("ignoring an event for {}{acct}: outside the targets", e.url());
                }
            }
            if urls.is_empty() {
                Triage::Ack
            } else {
                Triage::Scan(urls)
            }
        }
    }
}

pub fn listen(args: ListenArgs) -> Result<ExitCode> {
    shutdown::install()?;
    listen_until_stopped(args)
}

/// The listener's loop, until `--idle-exit` or a shutdown request (used by `serve` too).
pub fn listen_until_stopped(args: ListenArgs) -> Result<ExitCode> {
    if args.wait > 20 {
        bail!("--wait is at most 20 seconds (SQS long polling)");
    }
    // A claim outlives a dead worker by this much; its message comes back after the
    // visibility timeout, so a shorter lease lets the next receiver take the object.
    let lease = if args.http.is_some() {
        Duration::from_secs(60)
    } else {
        Duration::from_secs(u64::from(args.visibility_timeout / 2).max(5))
    };
    let mut listener = Listener::new(args.scan.clone(), lease)?;
    if let Some(addr) = args.http {
        return super::push::serve(listener, &args, addr);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the I/O runtime")?;
    let http = reqwest::Client::builder().build().context("starting the HTTP client")?;
    let aws = AwsQuery::from_env(http)?;
    let inbox = match (&args.sqs, &args.azure_queue) {
        (Some(url), _) => {
            let host = url.split('/').nth(2).unwrap_or("");
            let region = crate::aws::region(host.strip_prefix("sqs.").and_then(|h| h.split('.').next()));
            let dlq =
                args.dead_letter_queue.as_deref().map(|url| Queue { aws: &aws, url, region: region.clone() });
            Inbox::Sqs { queue: Queue { aws: &aws, url, region }, dlq }
        }
        (None, Some(url)) => {
            let queue = AzureQueue::new(url, &listener.cfg.remote.net)?;
            let dlq = queue.sibling(args.dead_letter_queue.as_deref().unwrap_or(&format!("{url}-poison")));
            Inbox::Azure { queue, dlq }
        }
        (None, None) => bail!("give --sqs, --azure-queue or --http"),
    };
    say!("listening on {} for objects under {}", inbox.name(), listener.cfg.targets.join(" "));
    pull(&rt, &inbox, &args, &mut listener);
    Ok(ExitCode::SUCCESS)
}

/// Receives, scans and acknowledges until idle or stopped.
fn pull(rt: &tokio::runtime::Runtime, inbox: &Inbox<'_>, args: &ListenArgs, listener: &mut Listener) {
    let mut idle_since = Instant::now();
    let mut pause = Duration::from_millis(250);
    while !shutdown::requested() {
        let messages = match rt.block_on(inbox.receive(args)) {
            Ok(m) => m,
            Err(e) => {
                crate::metrics::get().error("receive", 1);
                say!("error: receiving from {}: {e:#}; retrying in 5 s", inbox.name());
                rt.block_on(shutdown::sleep(Duration::from_secs(5)));
                continue;
            }
        };
        if messages.is_empty() {
            if args.idle_exit.is_some_and(|s| idle_since.elapsed().as_secs_f64() >= s) {
                return;
            }
            if matches!(inbox, Inbox::Azure { .. }) {
                rt.block_on(shutdown::sleep(pause));
                pause = (pause * 2).min(Duration::from_secs(u64::from(args.wait.max(1))));
            }
            continue;
        }
        idle_since = Instant::now();
        pause = Duration::from_millis(250);
        let metrics = crate::metrics::get();
        let now = crate::state::now_ms();
        for m in &messages {
            if let Some(sent) = m.sent_ms {
                metrics.queue_lag_seconds.observe((now - sent).max(0) as f64 / 1000.0);
            }
        }
        // Which messages name which objects; the rest are acknowledged at once.
        let mut work: Vec<(&Delivery, Vec<ObjectEvent>)> = Vec::new();
        for m in &messages {
            match listener.triage(&format!("message {}", m.id), &m.body) {
                Triage::Ack => {
                    metrics.message("ignored");
                    ack(rt, inbox, m)
                }
                Triage::Scan(_) if m.receives > args.max_receives => match rt.block_on(inbox.dead_letter(m)) {
                    Ok(Some(to)) => {
                        say!("message {} failed {} times; moved to {to}", m.id, m.receives);
                        metrics.message("dead_lettered");
                        ack(rt, inbox, m);
                    }
                    Ok(None) => say!(
                        "message {} failed {} times; leaving it to the queue's redrive policy (or give --dead-letter-queue)",
                        m.id, m.receives
                    ),
                    Err(e) => say!("error: moving message {} to the dead-letter queue: {e:#}", m.id),
                },
                Triage::Scan(urls) => work.push((m, urls)),
            }
        }
        if work.is_empty() {
            continue;
        }
        let urls: Vec<&[ObjectEvent]> = work.iter().map(|(_, u)| u.as_slice()).collect();
        // The scan runs on its own thread; this one keeps the messages hidden meanwhile,
        // every half visibility timeout, so a long scan is not handed to another consumer.
        let done = std::thread::scope(|s| {
            let scan = s.spawn(|| listener.scan(&urls));
            let every = Duration::from_secs_f64((f64::from(args.visibility_timeout) / 2.0).max(0.5));
            let mut next = Instant::now() + every;
            while !scan.is_finished() {
                std::thread::sleep(Duration::from_millis(20));
                if Instant::now() >= next {
                    for (m, _) in &work {
                        if let Err(e) = rt.block_on(inbox.hide(m, args.visibility_timeout)) {
                            say!("warning: keeping message {} hidden: {e:#}", m.id);
                        }
                    }
                    next = Instant::now() + every;
                }
            }
            scan.join().unwrap_or_else(|_| vec![false; work.len()])
        });
        for ((m, _), ok) in work.iter().zip(done) {
            if ok {
                metrics.message("scanned");
                ack(rt, inbox, m);
            } else {
                metrics.message("retried");
            }
        }
    }
    say!("stopped listening on {}", inbox.name());
}

fn ack(rt: &tokio::runtime::Runtime, inbox: &Inbox<'_>, m: &Delivery) {
    if let Err(e) = rt.block_on(inbox.delete(m)) {
        say!("error: deleting message {} from {}: {e:#}; it will be received again", m.id, inbox.name());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receive_answers() {
        let xml = r#"<ReceiveMessageResponse><ReceiveMessageResult><Message><MessageId>m1</MessageId><ReceiptHandle>r1</ReceiptHandle><Body>{&quot;a&quot;:1}</Body><Attribute><Name>ApproximateReceiveCount</Name><Value>3</Value></Attribute></Message></ReceiveMessageResult></ReceiveMessageResponse>"#;
        let m = parse_receive(xml).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(
            (m[0].id.as_str(), m[0].receipt.as_str(), m[0].body.as_str(), m[0].receives),
            ("m1", "r1", r#"{"a":1}"#, 3)
        );
    }
}
