//! Object-created events, in every format `listen` accepts, read into the objects they name:
//!
//! - S3 event notifications (`Records`), also wrapped by SNS (`Type: Notification`) and as
//!   EventBridge `Object Created` events;
//! - Azure Event Grid `Microsoft.Storage.BlobCreated`, in the Event Grid schema (one event or
//!   an array, as pushed or as queued) and the CloudEvents 1.0 schema;
//! - GCS notifications: Pub/Sub push deliveries (`message.attributes.eventType =
//!   OBJECT_FINALIZE`) and CloudEvents `google.cloud.storage.object.v1.finalized` (Eventarc).
//!
//! - dlp-worker's own work items, which `sweep --enqueue-sqs`/`--enqueue-azure-queue` sends
//!   (see [`WorkItem`]).
//!
//! Other event types (deletions, tests, metadata updates) name no object on purpose: Ok(empty).
//! Bodies that are none of these are errors, with the reason.

use crate::source::remote::{Scheme, Target};
use base64::Engine;
use serde_json::Value;

/// An object an event names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    pub scheme: Scheme,
    /// The Azure storage account, when the event names it.
    pub account: Option<String>,
    pub bucket: String,
    pub key: String,
    /// Work items of full sweeps: the sweep's start (Unix ms); a scan done before it does
    /// not count. 0 for storage events.
    pub since: i64,
}

impl ObjectEvent {
    fn new(scheme: Scheme, bucket: &str, key: String) -> ObjectEvent {
        ObjectEvent { scheme, account: None, bucket: bucket.to_string(), key, since: 0 }
    }

    /// `s3://bucket/key`, `gs://…`, `az://container/blob`.
    pub fn url(&self) -> String {
        format!("{}://{}/{}", self.scheme.prefix(), self.bucket, self.key)
    }
}

/// A work item: objects a fan-out sweep (`sweep --enqueue-sqs`) asks listeners to scan,
/// sent through the same queue as storage events:
/// `{"dlp-worker": "scan", "objects": ["s3://b/k", …], "since": 0, "sweep": "RUN_ID"}`.
#[derive(Debug, serde::Serialize)]
pub struct WorkItem<'a> {
    #[serde(rename = "dlp-worker")]
    pub kind: &'static str,
    /// Object URLs (not prefixes).
    pub objects: &'a [String],
    /// A full sweep's start (Unix ms): scans done before it do not count. 0: incremental.
    pub since: i64,
    /// The sweep's run id, for the log.
    pub sweep: &'a str,
}

impl WorkItem<'_> {
    /// The key that marks a message as a work item.
    pub const MARK: &'static str = "dlp-worker";

    /// The objects of a work item.
    fn read(v: &Value) -> Result<Vec<ObjectEvent>, String> {
        if v[Self::MARK] != "scan" {
            return Err(format!("a dlp-worker work item of an unknown kind {}", v[Self::MARK]));
        }
        let since = match &v["since"] {
            Value::Null => 0,
            s => s.as_i64().filter(|s| *s >= 0).ok_or("a work item whose since is not a time")?,
        };
        let objects = v["objects"].as_array().ok_or("a work item without objects")?;
        objects
            .iter()
            .map(|o| {
                let url = o.as_str().ok_or("a work item object that is not a URL")?;
                match Target::parse(url) {
                    Some(Ok(t)) if !t.prefix.is_empty() => Ok(ObjectEvent {
                        scheme: t.scheme,
                        account: None,
                        bucket: t.bucket,
                        key: t.prefix,
                        since,
                    }),
                    _ => Err(format!("a work item object that is not an object URL: {url:?}")),
                }
            })
            .collect()
    }
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

fn text<'a>(v: &'a Value, what: &str) -> Result<&'a str, String> {
    v.as_str().filter(|s| !s.is_empty()).ok_or_else(|| format!("an event without {what}"))
}

/// The objects a message body names.
pub fn parse_events(body: &str) -> Result<Vec<ObjectEvent>, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| format!("not JSON ({e})"))?;
    parse_value(&v, 0)
}

fn parse_value(v: &Value, depth: u8) -> Result<Vec<ObjectEvent>, String> {
    if depth > 2 {
        return Err("events nested too deep".into());
    }
    // Event Grid pushes (and may queue) arrays of events.
    if let Some(events) = v.as_array() {
        let mut out = Vec::new();
        for e in events {
            out.extend(parse_value(e, depth + 1)?);
        }
        return Ok(out);
    }
    if v.get(WorkItem::MARK).is_some() {
        return WorkItem::read(v);
    }
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
        let bucket = text(&d["bucket"]["name"], "detail.bucket.name")?;
        let key = text(&d["object"]["key"], "detail.object.key")?;
        return Ok(vec![ObjectEvent::new(Scheme::S3, bucket, decode_key(key)?)]);
    }
    if let Some(records) = v["Records"].as_array() {
        let mut out = Vec::new();
        for r in records {
            let name = text(&r["eventName"], "eventName")?;
            if !name.starts_with("ObjectCreated:") {
                continue;
            }
            let bucket = text(&r["s3"]["bucket"]["name"], "s3.bucket.name")?;
            let key = text(&r["s3"]["object"]["key"], "s3.object.key")?;
            out.push(ObjectEvent::new(Scheme::S3, bucket, decode_key(key)?));
        }
        return Ok(out);
    }
    // Event Grid schema (`eventType`, `topic`) or CloudEvents (`type`, `source`).
    let event_type = v["eventType"].as_str().or_else(|| v["specversion"].as_str().and(v["type"].as_str()));
    if let Some(t) = event_type {
        return match t {
            "Microsoft.Storage.BlobCreated" => {
                let source = v["topic"].as_str().or(v["source"].as_str()).unwrap_or("");
                azure_blob(text(&v["subject"], "subject")?, source).map(|e| vec![e])
            }
            "google.cloud.storage.object.v1.finalized" => {
                let d = &v["data"];
                let bucket = text(&d["bucket"], "data.bucket")?;
                let name = text(&d["name"], "data.name")?;
                Ok(vec![ObjectEvent::new(Scheme::Gcs, bucket, name.to_string())])
            }
            "Microsoft.EventGrid.SubscriptionValidationEvent" => {
                Err("a subscription validation event (only HTTP push endpoints answer those)".into())
            }
            _ => Ok(Vec::new()),
        };
    }
    // Pub/Sub push: the notification's attributes name the object.
    if v["message"].is_object() && (v["subscription"].is_string() || v["message"]["attributes"].is_object()) {
        let a = &v["message"]["attributes"];
        let Some(t) = a["eventType"].as_str() else {
            // A notification without attributes: the data is the object resource.
            let data = v["message"]["data"].as_str().ok_or("a Pub/Sub message without attributes or data")?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|_| "a Pub/Sub message whose data is not base64")?;
            let o: Value =
                serde_json::from_slice(&bytes).map_err(|e| format!("Pub/Sub data is not JSON ({e})"))?;
            if o["kind"] != "storage#object" {
                return Err("a Pub/Sub message that is not a Cloud Storage notification".into());
            }
            return Err("a Cloud Storage notification without its eventType attribute".into());
        };
        if t != "OBJECT_FINALIZE" {
            return Ok(Vec::new());
        }
        let bucket = text(&a["bucketId"], "message.attributes.bucketId")?;
        let key = text(&a["objectId"], "message.attributes.objectId")?;
        return Ok(vec![ObjectEvent::new(Scheme::Gcs, bucket, key.to_string())]);
    }
    Err("not an S3, SNS, EventBridge, Event Grid, CloudEvents or Pub/Sub event".into())
}

/// The blob a BlobCreated event's subject names:
/// `/blobServices/default/containers/C/blobs/KEY`; the account from the topic or source
/// (`…/storageAccounts/NAME`).
fn azure_blob(subject: &str, source: &str) -> Result<ObjectEvent, String> {
    let rest = subject
        .strip_prefix("/blobServices/default/containers/")
        .ok_or_else(|| format!("a BlobCreated subject that names no blob: {subject:?}"))?;
    let (container, key) = rest
        .split_once("/blobs/")
        .filter(|(c, k)| !c.is_empty() && !k.is_empty())
        .ok_or_else(|| format!("a BlobCreated subject that names no blob: {subject:?}"))?;
    let account =
        source.split_once("/storageAccounts/").map(|(_, a)| a.split('/').next().unwrap_or(a).to_string());
    Ok(ObjectEvent {
        scheme: Scheme::Azure,
        account,
        bucket: container.to_string(),
        key: key.to_string(),
        since: 0,
    })
}

/// The targets events are checked against, and the Azure account they are read from.
pub struct Scope {
    pub targets: Vec<Target>,
    pub azure_account: Option<String>,
}

impl Scope {
    /// Whether an event's object is under one of the targets (and, for Azure, in the
    /// account scanned, when the event names its account).
    pub fn contains(&self, e: &ObjectEvent) -> bool {
        if let (Some(ours), Some(theirs)) = (&self.azure_account, &e.account) {
            if e.scheme == Scheme::Azure && !ours.eq_ignore_ascii_case(theirs) {
                return false;
            }
        }
        self.targets.iter().any(|t| {
            t.scheme == e.scheme
                && t.bucket == e.bucket
                && (t.prefix.is_empty() || e.key == t.prefix || e.key.starts_with(&format!("{}/", t.prefix)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(k: &str) -> ObjectEvent {
        ObjectEvent::new(Scheme::S3, "b", k.into())
    }

    #[test]
    fn work_items() {
        let objects = vec!["s3://bucket/a/x.txt".to_string(), "gs://gbucket/y".to_string()];
        let body = serde_json::to_string(&WorkItem { kind: "scan", objects: &objects, since: 7, sweep: "r" })
            .unwrap();
        let got = parse_events(&body).unwrap();
        assert_eq!(got.iter().map(ObjectEvent::url).collect::<Vec<_>>(), objects);
        assert!(got.iter().all(|e| e.since == 7));
        assert!(parse_events(r#"{"dlp-worker":"scan","objects":["s3://bucket"]}"#)
            .unwrap_err()
            .contains("not an object URL"));
        assert!(parse_events(r#"{"dlp-worker":"scan","objects":["/etc/passwd"]}"#).is_err());
        assert!(parse_events(r#"{"dlp-worker":"scan","objects":[1]}"#).is_err());
        assert!(parse_events(r#"{"dlp-worker":"scan","objects":[],"since":-1}"#).is_err());
        assert!(parse_events(r#"{"dlp-worker":"delete","objects":[]}"#)
            .unwrap_err()
            .contains("unknown kind"));
        assert!(parse_events(r#"{"dlp-worker":"scan"}"#).is_err());
    }

    #[test]
    fn s3_sns_and_eventbridge_events() {
        let body = r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"a+b/c%C3%A9.txt","eTag":"e1"}}},{"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"x"}}}]}"#;
        let want = vec![s3("a b/cé.txt")];
        assert_eq!(parse_events(body).unwrap(), want);
        let sns = serde_json::json!({"Type": "Notification", "Message": body}).to_string();
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
    fn event_grid_and_cloudevents() {
        let eg = r#"[{"topic":"/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/acct","subject":"/blobServices/default/containers/c/blobs/dir/a b.txt","eventType":"Microsoft.Storage.BlobCreated","id":"1","data":{"eTag":"0x8D","url":"https://acct.blob.core.windows.net/c/dir/a%20b.txt"},"dataVersion":"","metadataVersion":"1"},
                     {"topic":"/x","subject":"/blobServices/default/containers/c/blobs/old","eventType":"Microsoft.Storage.BlobDeleted","id":"2","data":{}}]"#;
        let want = ObjectEvent {
            scheme: Scheme::Azure,
            account: Some("acct".into()),
            bucket: "c".into(),
            key: "dir/a b.txt".into(),
            since: 0,
        };
        assert_eq!(parse_events(eg).unwrap(), vec![want.clone()]);
        let ce = r#"{"specversion":"1.0","type":"Microsoft.Storage.BlobCreated","source":"/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/acct","id":"1","subject":"/blobServices/default/containers/c/blobs/dir/a b.txt","data":{}}"#;
        assert_eq!(parse_events(ce).unwrap(), vec![want]);
        assert!(parse_events(
            r#"{"eventType":"Microsoft.Storage.BlobCreated","subject":"/blobServices/default/containers/c"}"#
        )
        .is_err());
        let gcs = r#"{"specversion":"1.0","type":"google.cloud.storage.object.v1.finalized","source":"//storage.googleapis.com/projects/_/buckets/g","data":{"bucket":"g","name":"k/x.csv","generation":"5"}}"#;
        assert_eq!(parse_events(gcs).unwrap(), vec![ObjectEvent::new(Scheme::Gcs, "g", "k/x.csv".into())]);
    }

    #[test]
    fn pubsub_push() {
        let push = r#"{"message":{"attributes":{"bucketId":"g","objectId":"k/a.txt","objectGeneration":"7","eventType":"OBJECT_FINALIZE","payloadFormat":"JSON_API_V1"},"data":"e30=","messageId":"1"},"subscription":"projects/p/subscriptions/s"}"#;
        assert_eq!(parse_events(push).unwrap(), vec![ObjectEvent::new(Scheme::Gcs, "g", "k/a.txt".into())]);
        assert!(parse_events(&push.replace("OBJECT_FINALIZE", "OBJECT_DELETE")).unwrap().is_empty());
        assert!(parse_events(r#"{"message":{"data":"bm90IGpzb24="},"subscription":"s"}"#).is_err());
    }

    #[test]
    fn scope() {
        let bkt = |k: &str| ObjectEvent::new(Scheme::S3, "bkt", k.into());
        let s = Scope {
            targets: vec![
                Target::parse("s3://bkt/in").unwrap().unwrap(),
                Target::parse("az://cont").unwrap().unwrap(),
            ],
            azure_account: Some("acct".into()),
        };
        assert!(s.contains(&bkt("in/x")));
        assert!(!s.contains(&bkt("inside/x")));
        assert!(!s.contains(&ObjectEvent::new(Scheme::Gcs, "bkt", "in/x".into())));
        let mut az = ObjectEvent::new(Scheme::Azure, "cont", "k".into());
        assert!(s.contains(&az));
        az.account = Some("other".into());
        assert!(!s.contains(&az));
    }
}
