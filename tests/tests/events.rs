//! `dlp-worker listen` on Azure and GCS events: Event Grid `BlobCreated` events queued on an
//! Azure Storage queue (Azurite), and events pushed over HTTP (Event Grid with its validation
//! handshakes, Pub/Sub push deliveries of GCS `OBJECT_FINALIZE` notifications, binary-mode
//! CloudEvents), in their real formats. Asserted: findings and policy alerts for the objects
//! in scope, every malformed or out-of-scope event logged with its reason and acknowledged,
//! poison messages moved aside, repeated events not rescanned, token checks, and a graceful
//! stop on SIGTERM. Skips without the servers, except under `CI`, where it fails.

use dlp_tests::{server, stores, TempDir};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const CARD: &str = "card 4539 1488 0343 6467\n";

fn name(base: &str) -> String {
    format!("{base}-{}", std::process::id())
}

/// `dlp-worker listen ARGS`, with Azurite and fake-gcs credentials.
fn listener(home: &Path, args: &[&str]) -> Command {
    let mut c = dlp_tests::cmd(home);
    c.env("AZURE_STORAGE_CONNECTION_STRING", dlp_tests::azurite_connection_string())
        .env("STORAGE_EMULATOR_HOST", server("DLP_TEST_GCS").unwrap_or_default())
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .arg("listen")
        .args(args)
        .stdin(Stdio::null());
    c
}

fn finish(child: Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn blob_created(container: &str, key: &str, account: &str) -> Value {
    json!({
        "topic": format!("/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/{account}"),
        "subject": format!("/blobServices/default/containers/{container}/blobs/{key}"),
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": "2026-11-30T10:00:00.0000000Z",
        "id": "831e1650-001e-001b-66ab-eeb76e069631",
        "data": {
            "api": "PutBlob",
            "eTag": "0x8D4BCC2E4835CD0",
            "contentType": "text/plain",
            "contentLength": 25,
            "blobType": "BlockBlob",
            "url": format!("https://{account}.blob.core.windows.net/{container}/{key}"),
            "sequencer": "00000000000004420000000000028963"
        },
        "dataVersion": "",
        "metadataVersion": "1"
    })
}

fn objects_in(findings: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(findings).unwrap_or_default();
    let mut objs: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["object"].as_str().unwrap().to_string())
        .collect();
    objs.sort();
    objs
}

#[test]
fn event_grid_events_from_an_azure_storage_queue() {
    if server("DLP_TEST_AZURITE").is_none() || server("DLP_TEST_AZURE_QUEUE").is_none() {
        return;
    }
    let tmp = TempDir::new("events-azq");
    let home = tmp.path().join("home");
    let (container, qname) = (name("evgrid"), name("evgrid-q"));
    let f = tmp.path().join("c.txt");
    std::fs::write(&f, CARD).unwrap();
    stores(&["mkbucket", "azure", &container]);
    for key in ["in/a.txt", "in/b.txt", "out/c.txt"] {
        stores(&["put", "azure", &container, key, f.to_str().unwrap()]);
    }
    let queue = stores(&["queue", "azqueue", &qname])["queue_url"].as_str().unwrap().to_string();
    let mut cloud = blob_created(&container, "in/b.txt", "devstoreaccount1");
    // The same event in the CloudEvents 1.0 schema.
    cloud = json!({"specversion": "1.0", "type": "Microsoft.Storage.BlobCreated", "source": cloud["topic"],
        "id": "2", "time": "2026-11-30T10:00:00Z", "subject": cloud["subject"], "data": cloud["data"]});
    let bodies = [
        blob_created(&container, "in/a.txt", "devstoreaccount1").to_string(),
        cloud.to_string(),
        // Outside the prefix, another account, a deletion, a blob gone since, garbage.
        blob_created(&container, "out/c.txt", "devstoreaccount1").to_string(),
        blob_created(&container, "in/a.txt", "otheraccount").to_string(),
        json!({"eventType": "Microsoft.Storage.BlobDeleted", "subject": "/blobServices/default/containers/x/blobs/y", "data": {}}).to_string(),
        blob_created(&container, "in/never-was.txt", "devstoreaccount1").to_string(),
        "{not json".to_string(),
        // In scope, but the container does not exist: fails every time, then goes aside.
        blob_created("no-such-container-dlp", "in/x.txt", "devstoreaccount1").to_string(),
    ];
    for b in &bodies {
        stores(&["send", "azqueue", &qname, b]);
    }
    let policy = tmp.path().join("policy.toml");
    let alerts = tmp.path().join("alerts.jsonl");
    std::fs::write(
        &policy,
        format!("[alert]\njsonl = \"{}\"\n[[rules]]\nname = \"cards\"\ncategories = [\"PCI\"]\nactions = [\"alert\"]\n", alerts.display()),
    )
    .unwrap();
    let found = tmp.path().join("findings.jsonl");
    let child = listener(
        &home,
        &[
            "--azure-queue",
            &queue,
            "--wait",
            "1",
            "--idle-exit",
            "5",
            "--visibility-timeout",
            "1",
            "--max-receives",
            "2",
            &format!("az://{container}/in"),
            "az://no-such-container-dlp",
            "--policy",
            policy.to_str().unwrap(),
            "-o",
            found.to_str().unwrap(),
        ],
    )
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "the listener must not crash: {stderr}");
    assert_eq!(
        objects_in(&found),
        vec![format!("az://{container}/in/a.txt"), format!("az://{container}/in/b.txt")],
        "{stderr}"
    );
    let alerted = std::fs::read_to_string(&alerts).unwrap();
    assert_eq!(alerted.lines().count(), 2, "{alerted}");
    assert!(
        stderr
            .contains(&format!("az://{container}/out/c.txt (account devstoreaccount1): outside the targets")),
        "{stderr}"
    );
    assert!(stderr.contains("(account otheraccount): outside the targets"), "{stderr}");
    assert!(stderr.contains("in/never-was.txt: gone (deleted after the event)"), "{stderr}");
    assert!(stderr.contains("not JSON"), "{stderr}");
    assert!(stderr.contains(&format!("moved to {queue}-poison")), "{stderr}");
    let left = stores(&["drain", "azqueue", &qname]);
    assert_eq!(left.as_array().unwrap().len(), 0, "unacknowledged: {left}");
    let poison = stores(&["drain", "azqueue", &format!("{qname}-poison")]);
    let poison = poison.as_array().unwrap();
    assert_eq!(poison.len(), 1, "{poison:?}");
    assert!(poison[0].as_str().unwrap().contains("no-such-container-dlp"));
}

#[test]
fn pushed_event_grid_and_pubsub_events() {
    if server("DLP_TEST_AZURITE").is_none() || server("DLP_TEST_GCS").is_none() {
        return;
    }
    let tmp = TempDir::new("events-push");
    let home = tmp.path().join("home");
    let (container, bucket) = (name("push-az"), name("push-gcs"));
    let f = tmp.path().join("c.txt");
    std::fs::write(&f, CARD).unwrap();
    stores(&["mkbucket", "azure", &container]);
    stores(&["put", "azure", &container, "a.txt", f.to_str().unwrap()]);
    stores(&["mkbucket", "gcs", &bucket]);
    stores(&["put", "gcs", &bucket, "up/g.txt", f.to_str().unwrap()]);
    let found = tmp.path().join("findings.jsonl");
    let mut child = listener(
        &home,
        &[
            "--http",
            "127.0.0.1:0",
            "--http-token-env",
            "DLP_TEST_PUSH_TOKEN",
            &format!("az://{container}"),
            &format!("gs://{bucket}/up"),
            "-o",
            found.to_str().unwrap(),
        ],
    )
    .env("DLP_TEST_PUSH_TOKEN", "s3cr3t-t0ken")
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    while !first.contains("http://") {
        first.clear();
        assert!(err.read_line(&mut first).unwrap() > 0, "the listener exited before listening");
    }
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    let auth = [("Authorization", "Bearer s3cr3t-t0ken"), ("Content-Type", "application/json")];
    // No token, a wrong token: refused.
    assert_eq!(dlp_tests::http_request(&addr, "POST", "/events", &[], "[]").0, 401);
    assert_eq!(dlp_tests::http_request(&addr, "POST", "/events?token=wrong", &[], "[]").0, 401);
    // Event Grid's validation handshakes (the token in the URL, as a subscription sends it).
    let validation = json!([{"id": "v1", "topic": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
        "subject": "", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent", "eventTime": "2026-11-30T10:00:00Z",
        "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6", "validationUrl": "https://rp-eastus2.eventgrid.azure.net/x"},
        "dataVersion": "2", "metadataVersion": "1"}]);
    let (status, _, body) = dlp_tests::http_request(
        &addr,
        "POST",
        "/events?token=s3cr3t-t0ken",
        &[("aeg-event-type", "SubscriptionValidation")],
        &validation.to_string(),
    );
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["validationResponse"],
        "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"
    );
    let (status, head, _) = dlp_tests::http_request(
        &addr,
        "OPTIONS",
        "/events?token=s3cr3t-t0ken",
        &[("WebHook-Request-Origin", "eventgrid.azure.net")],
        "",
    );
    assert_eq!(status, 200);
    assert!(head.to_ascii_lowercase().contains("webhook-allowed-origin: eventgrid.azure.net"), "{head}");
    // A BlobCreated push: answered once scanned.
    let eg = json!([blob_created(&container, "a.txt", "devstoreaccount1")]).to_string();
    let (status, _, body) = dlp_tests::http_request(&addr, "POST", "/events", &auth, &eg);
    assert_eq!((status, body.contains("\"scanned\"")), (200, true), "{body}");
    // A Pub/Sub push of an OBJECT_FINALIZE notification.
    let object = json!({"kind": "storage#object", "bucket": bucket, "name": "up/g.txt", "generation": "1"});
    let data = base64(&object.to_string());
    let push = |bucket: &str, key: &str, event: &str| {
        json!({"message": {"attributes": {"bucketId": bucket, "objectId": key, "objectGeneration": "1",
            "eventType": event, "notificationConfig": format!("projects/_/buckets/{bucket}/notificationConfigs/1"),
            "payloadFormat": "JSON_API_V1", "eventTime": "2026-11-30T10:00:00Z"},
            "data": data, "messageId": "9", "publishTime": "2026-11-30T10:00:01Z"},
            "subscription": "projects/p/subscriptions/dlp"})
        .to_string()
    };
    let (status, _, body) = dlp_tests::http_request(
        &addr,
        "POST",
        "/pubsub",
        &auth,
        &push(&bucket, "up/g.txt", "OBJECT_FINALIZE"),
    );
    assert_eq!((status, body.contains("\"scanned\"")), (200, true), "{body}");
    // Acknowledged without a scan: other event types, other buckets, other prefixes, garbage.
    for body in [
        push(&bucket, "up/g.txt", "OBJECT_DELETE"),
        push("other-bucket-dlp", "up/g.txt", "OBJECT_FINALIZE"),
        push(&bucket, "down/g.txt", "OBJECT_FINALIZE"),
        "{\"message\": 1".to_string(),
    ] {
        let (status, _, answer) = dlp_tests::http_request(&addr, "POST", "/pubsub", &auth, &body);
        assert_eq!(status, 200, "{answer}");
        assert!(answer.contains("ignored"), "{answer}");
    }
    // A repeated delivery (Event Grid and Pub/Sub retry): acknowledged, not scanned again.
    let (status, _, _) = dlp_tests::http_request(&addr, "POST", "/events", &auth, &eg);
    assert_eq!(status, 200);
    // Binary-mode CloudEvents (Eventarc): the type in headers, the object as the body.
    let (status, _, body) = dlp_tests::http_request(
        &addr,
        "POST",
        "/",
        &[
            auth[0],
            ("ce-specversion", "1.0"),
            ("ce-type", "google.cloud.storage.object.v1.finalized"),
            ("ce-source", "//storage.googleapis.com/projects/_/buckets/x"),
            ("ce-id", "1"),
        ],
        &object.to_string(),
    );
    assert_eq!((status, body.contains("\"scanned\"")), (200, true), "{body}");
    // SIGTERM: a graceful stop.
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(rest.contains("SIGTERM: finishing the work in flight"), "{rest}");
    assert!(rest.contains("stopped listening"), "{rest}");
    for why in
        ["gs://other-bucket-dlp/up/g.txt: outside the targets", "down/g.txt: outside the targets", "not JSON"]
    {
        assert!(rest.contains(why), "{why} not in {rest}");
    }
    // One finding per object: the repeated pushes were deduplicated by the state store.
    assert_eq!(
        objects_in(&found),
        vec![format!("az://{container}/a.txt"), format!("gs://{bucket}/up/g.txt")],
        "{rest}"
    );
}

fn base64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
