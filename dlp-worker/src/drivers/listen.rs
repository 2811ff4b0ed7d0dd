//! `dlp-worker listen --sqs QUEUE_URL TARGET...`: scan each object an S3 event notification
//! names, seconds after it is written. Messages come from an SQS queue by long polling; S3
//! notifications are read as S3 sends them, wrapped by SNS, or as EventBridge events. A
//! message is deleted only once its objects are scanned and recorded (with the policy's
//! actions); one that keeps failing goes to the dead-letter queue after `--max-receives`.
//! Objects already scanned at the same ETag are skipped (the state store dedupes).

use crate::aws::AwsQuery;
use crate::config::{ScanConfig, SweepConfig};
use crate::source::remote::Target;
use crate::ScanArgs;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde_json::Value;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `dlp-worker listen`.
#[derive(Args, Debug)]
pub struct ListenArgs {
    /// The SQS queue URL S3 event notifications arrive on (directly, through SNS, or from
    /// EventBridge).
    #[arg(long, value_name = "QUEUE_URL")]
    pub sqs: String,
    /// Move a message that failed this many times to `--dead-letter-queue` (or, without
    /// one, leave it to the queue's own redrive policy).
    #[arg(long, default_value_t = 5)]
    pub max_receives: u32,
    /// The SQS queue URL for messages that keep failing.
    #[arg(long, value_name = "QUEUE_URL")]
    pub dead_letter_queue: Option<String>,
    /// Seconds a received message stays invisible to other consumers while it is scanned.
    #[arg(long, default_value_t = 300)]
    pub visibility_timeout: u32,
    /// Long-poll wait per receive, in seconds (at most 20).
    #[arg(long, default_value_t = 20)]
    pub wait: u32,
    /// Stop after this many seconds without a message (default: never).
    #[arg(long, value_name = "SECONDS")]
    pub idle_exit: Option<f64>,
    /// The buckets and prefixes to scan (`s3://bucket/prefix`); events for other objects
    /// are logged and acknowledged. Takes every `scan` flag (policy, output, limits).
    #[command(flatten)]
    pub scan: ScanArgs,
}

/// An object an event names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    pub bucket: String,
    pub key: String,
    pub e_tag: Option<String>,
}

/// One SQS message.
#[derive(Debug, Default)]
struct Message {
    id: String,
    receipt: String,
    body: String,
    receives: u32,
}

/// `+` and `%XX` as S3 writes keys in notifications.
fn decode_key(k: &str) -> Result<String, String> {
    let bytes = k.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = k.get(i + 1..i + 3).ok_or_else(|| format!("bad escape in key {k:?}"))?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad escape in key {k:?}"))?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("key {k:?} is not UTF-8"))
}

/// The objects a message body names. Ok(empty) for messages that name none on purpose (S3's
/// `s3:TestEvent`, deletions and other event types); Err for bodies that are not events.
pub fn parse_events(body: &str) -> Result<Vec<ObjectEvent>, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| format!("not JSON ({e})"))?;
    // SNS wraps the S3 event as a string in `Message`.
    if v["Type"] == "Notification" {
        let inner = v["Message"].as_str().ok_or("an SNS notification without a Message")?;
        return parse_events(inner);
    }
    if v["Event"] == "s3:TestEvent" {
        return Ok(Vec::new());
    }
    // EventBridge: `Object Created` from `aws.s3`.
    if v["source"] == "aws.s3" {
        if v["detail-type"] != "Object Created" {
            return Ok(Vec::new());
        }
        let d = &v["detail"];
        let bucket = d["bucket"]["name"].as_str().ok_or("an EventBridge event without detail.bucket.name")?;
        let key = d["object"]["key"].as_str().ok_or("an EventBridge event without detail.object.key")?;
        return Ok(vec![ObjectEvent {
            bucket: bucket.to_string(),
            key: decode_key(key)?,
            e_tag: d["object"]["etag"].as_str().map(str::to_string),
        }]);
    }
    let records = v["Records"]
        .as_array()
        .ok_or("neither an S3 event (Records), an SNS notification nor an EventBridge event")?;
    let mut out = Vec::new();
    for r in records {
        let name = r["eventName"].as_str().ok_or("an S3 event record without eventName")?;
        if !name.starts_with("ObjectCreated:") {
            continue;
        }
        let bucket = r["s3"]["bucket"]["name"].as_str().ok_or("an S3 event record without s3.bucket.name")?;
        let key = r["s3"]["object"]["key"].as_str().ok_or("an S3 event record without s3.object.key")?;
        out.push(ObjectEvent {
            bucket: bucket.to_string(),
            key: decode_key(key)?,
            e_tag: r["s3"]["object"]["eTag"].as_str().map(str::to_string),
        });
    }
    Ok(out)
}

/// Messages from a ReceiveMessage answer (the Query API's XML).
fn parse_receive(xml: &str) -> Result<Vec<Message>> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut out, mut cur, mut path, mut attr_name) =
        (Vec::new(), None::<Message>, Vec::<String>::new(), String::new());
    let mut text = String::new();
    loop {
        match reader.read_event().map_err(|e| anyhow!("unreadable SQS answer: {e}"))? {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if name == "Message" {
                    cur = Some(Message::default());
                }
                path.push(name);
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.decode().map_err(|e| anyhow!("unreadable SQS answer: {e}"))?),
            Event::GeneralRef(r) => text
                .push(crate::actions::store::xml_ref(&r).map_err(|e| anyhow!("unreadable SQS answer: {e}"))?),
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let parent = path.last().map(String::as_str).unwrap_or("");
                if let Some(m) = cur.as_mut() {
                    match (parent, name.as_str()) {
                        ("Message", "MessageId") => m.id = text.clone(),
                        ("Message", "ReceiptHandle") => m.receipt = text.clone(),
                        ("Message", "Body") => m.body = text.clone(),
                        ("Attribute", "Name") => attr_name = text.clone(),
                        ("Attribute", "Value") if attr_name == "ApproximateReceiveCount" => {
                            m.receives = text.trim().parse().unwrap_or(1)
                        }
                        (_, "Message") => out.extend(cur.take()),
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

/// Whether an event's object is under one of the targets.
fn in_scope(scope: &[Target], e: &ObjectEvent) -> bool {
    scope.iter().any(|t| {
        t.bucket == e.bucket
            && (t.prefix.is_empty() || e.key == t.prefix || e.key.starts_with(&format!("{}/", t.prefix)))
    })
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

    async fn delete(&self, m: &Message) -> Result<()> {
        self.call(&[("Action", "DeleteMessage"), ("ReceiptHandle", &m.receipt)], Duration::from_secs(30))
            .await
            .map(|_| ())
    }
}

pub fn listen(args: ListenArgs) -> Result<ExitCode> {
    let scope: Vec<Target> = args
        .scan
        .targets
        .iter()
        .map(|t| match Target::parse(t) {
            Some(Ok(t)) if t.scheme == crate::source::remote::Scheme::S3 => Ok(t),
            Some(Ok(_)) | None => {
                bail!("{t}: listen --sqs scans S3 objects: give s3://bucket or s3://bucket/prefix")
            }
            Some(Err(e)) => bail!("{e}"),
        })
        .collect::<Result<_>>()?;
    if args.wait > 20 {
        bail!("--wait is at most 20 seconds (SQS long polling)");
    }
    let mut cfg = ScanConfig::from_args(args.scan)?;
    if cfg.state.is_none() {
        bail!("listen records what it scanned to skip repeated events: drop --no-state");
    }
    cfg.sweep = Some(SweepConfig { full: false, sample_percent: None, max_objects: None });
    cfg.command = "listen";
    cfg.append_output = true;
    cfg.quiet = true;
    // One worker thread: it keeps received messages hidden while this thread scans them.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the I/O runtime")?;
    let http = reqwest::Client::builder().build().context("starting the HTTP client")?;
    let aws = AwsQuery::from_env(http)?;
    let host = args.sqs.split('/').nth(2).unwrap_or("");
    let queue = Queue {
        aws: &aws,
        url: &args.sqs,
        region: crate::aws::region(host.strip_prefix("sqs.").and_then(|h| h.split('.').next())),
    };
    let dlq =
        args.dead_letter_queue.as_deref().map(|url| Queue { aws: &aws, url, region: queue.region.clone() });
    let (wait, visibility) = (args.wait.to_string(), args.visibility_timeout.to_string());
    let mut idle_since = Instant::now();
    eprintln!("dlp-worker: listening on {} for objects under {}", args.sqs, cfg.targets.join(" "));
    loop {
        let answer = rt.block_on(queue.call(
            &[
                ("Action", "ReceiveMessage"),
                ("MaxNumberOfMessages", "10"),
                ("WaitTimeSeconds", &wait),
                ("VisibilityTimeout", &visibility),
                ("AttributeName.1", "ApproximateReceiveCount"),
            ],
            Duration::from_secs(u64::from(args.wait) + 30),
        ));
        let messages = match answer.and_then(|a| parse_receive(&a)) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("dlp-worker: error: receiving from {}: {e:#}; retrying in 5 s", args.sqs);
                std::thread::sleep(Duration::from_secs(5));
                continue;
            }
        };
        if messages.is_empty() {
            if args.idle_exit.is_some_and(|s| idle_since.elapsed().as_secs_f64() >= s) {
                return Ok(ExitCode::SUCCESS);
            }
            continue;
        }
        idle_since = Instant::now();
        // Which messages name which objects; the rest are acknowledged at once.
        let mut work: Vec<(&Message, Vec<String>)> = Vec::new();
        for m in &messages {
            match parse_events(&m.body) {
                Err(reason) => {
                    eprintln!("dlp-worker: ignoring message {}: {reason}", m.id);
                    ack(&rt, &queue, m);
                }
                Ok(events) => {
                    let (inside, outside): (Vec<_>, Vec<_>) =
                        events.into_iter().partition(|e| in_scope(&scope, e));
                    for e in &outside {
                        eprintln!(
                            "dlp-worker: ignoring an event for s3://{}/{}: outside the targets",
                            e.bucket, e.key
                        );
                    }
                    if inside.is_empty() {
                        ack(&rt, &queue, m);
                    } else if m.receives > args.max_receives {
                        poison(&rt, &queue, dlq.as_ref(), m);
                    } else {
                        work.push((
                            m,
                            inside.iter().map(|e| format!("s3://{}/{}", e.bucket, e.key)).collect(),
                        ));
                    }
                }
            }
        }
        if work.is_empty() {
            continue;
        }
        cfg.targets = work.iter().flat_map(|(_, urls)| urls.iter().cloned()).collect();
        let keeper = rt.spawn(keep_hidden(
            aws.clone(),
            args.sqs.clone(),
            queue.region.clone(),
            work.iter().map(|(m, _)| m.receipt.clone()).collect(),
            args.visibility_timeout,
        ));
        let scanned = crate::drivers::scan::run_ref(&cfg);
        keeper.abort();
        let cov = match scanned {
            Ok((_, cov)) => cov,
            Err(e) => {
                eprintln!(
                    "dlp-worker: error: scanning {}: {e:#}; the messages will be received again",
                    cfg.targets.join(" ")
                );
                continue;
            }
        };
        for (m, urls) in &work {
            let failed: Vec<&crate::output::ObjectError> =
                cov.errors.iter().filter(|e| urls.contains(&e.object)).collect();
            if failed.is_empty() {
                ack(&rt, &queue, m);
            } else {
                for e in failed {
                    eprintln!(
                        "dlp-worker: error: {}: {}; the message will be received again",
                        e.object, e.error
                    );
                }
            }
        }
        for s in cov.skipped.iter().filter(|s| s.reason == "empty") {
            eprintln!("dlp-worker: {}: gone (deleted after the event); acknowledged", s.object);
        }
        if cov.actions_failed > 0 {
            eprintln!(
                "dlp-worker: {} actions failed (see `dlp-worker audit --status failed`)",
                cov.actions_failed
            );
        }
    }
}

/// Extends the visibility timeout of messages being scanned, every half timeout, so a long
/// scan (a large object) is not handed to another consumer meanwhile.
async fn keep_hidden(aws: AwsQuery, url: String, region: String, receipts: Vec<String>, visibility: u32) {
    let q = Queue { aws: &aws, url: &url, region };
    let every = Duration::from_secs_f64((f64::from(visibility) / 2.0).max(0.5));
    let timeout = visibility.to_string();
    loop {
        tokio::time::sleep(every).await;
        for r in &receipts {
            let form = [
                ("Action", "ChangeMessageVisibility"),
                ("ReceiptHandle", r.as_str()),
                ("VisibilityTimeout", &timeout),
            ];
            if let Err(e) = q.call(&form, Duration::from_secs(30)).await {
                eprintln!("dlp-worker: warning: extending the visibility of a message on {url}: {e:#}");
            }
        }
    }
}

fn ack(rt: &tokio::runtime::Runtime, q: &Queue<'_>, m: &Message) {
    if let Err(e) = rt.block_on(q.delete(m)) {
        eprintln!(
            "dlp-worker: error: deleting message {} from {}: {e:#}; it will be received again",
            m.id, q.url
        );
    }
}

/// A message that failed too often: to the dead-letter queue, then deleted.
fn poison(rt: &tokio::runtime::Runtime, q: &Queue<'_>, dlq: Option<&Queue<'_>>, m: &Message) {
    let Some(dlq) = dlq else {
        eprintln!(
            "dlp-worker: message {} failed {} times; leaving it to the queue's redrive policy (or give --dead-letter-queue)",
            m.id, m.receives
        );
        return;
    };
    match rt
        .block_on(dlq.call(&[("Action", "SendMessage"), ("MessageBody", &m.body)], Duration::from_secs(30)))
    {
        Ok(_) => {
            eprintln!("dlp-worker: message {} failed {} times; moved to {}", m.id, m.receives, dlq.url);
            ack(rt, q, m);
        }
        Err(e) => eprintln!("dlp-worker: error: moving message {} to {}: {e:#}", m.id, dlq.url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_sns_and_eventbridge_events() {
        let s3 = r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"a+b/c%C3%A9.txt","eTag":"e1"}}},{"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"x"}}}]}"#;
        let want =
            vec![ObjectEvent { bucket: "b".into(), key: "a b/cé.txt".into(), e_tag: Some("e1".into()) }];
        assert_eq!(parse_events(s3).unwrap(), want);
        let sns = serde_json::json!({"Type": "Notification", "Message": s3}).to_string();
        assert_eq!(parse_events(&sns).unwrap(), want);
        let eb = r#"{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"b"},"object":{"key":"a+b/c%C3%A9.txt","etag":"e1"}}}"#;
        assert_eq!(parse_events(eb).unwrap(), want);
        assert!(parse_events(r#"{"Event":"s3:TestEvent","Bucket":"b"}"#).unwrap().is_empty());
        assert!(parse_events("not json").is_err());
        assert!(parse_events(r#"{"hello":1}"#).is_err());
        assert!(parse_events(r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{}}]}"#).is_err());
        assert!(parse_events(r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"%zz"}}}]}"#).is_err());
    }

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

    #[test]
    fn scope() {
        let t = vec![Target::parse("s3://bkt/in").unwrap().unwrap()];
        let e = |k: &str| ObjectEvent { bucket: "bkt".into(), key: k.into(), e_tag: None };
        assert!(in_scope(&t, &e("in/x")));
        assert!(!in_scope(&t, &e("inside/x")));
        assert!(!in_scope(&t, &ObjectEvent { bucket: "c".into(), key: "in/x".into(), e_tag: None }));
    }
}
