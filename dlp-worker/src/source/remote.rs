//! Bucket targets: `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`.
//!
//! Listing is streamed page by page and each object is handed on as soon as it is listed, so
//! a bucket's listing is never held in memory. For each object a task on the I/O runtime
//! GETs it and streams its body through a small bounded channel to the scanning thread that
//! reads it ([`BodyReader`]): memory per object is the channel, not the object. At most
//! `concurrency` objects are fetched at once (a semaphore), and a full channel stops the
//! download until the scanner catches up (backpressure). Objects larger than the part size
//! are read as consecutive ranged GETs pinned to the version (or ETag) the first response
//! named, so every part comes from the same version of the object; a failed request is
//! retried by the store client with exponential backoff and jitter.

use super::credentials::{self, NetConfig};
use super::filter::Filter;
use super::{Input, Job, Listed, ObjectRef};
use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

/// The clouds a target can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    S3,
    Gcs,
    Azure,
}

impl Scheme {
    fn prefix(self) -> &'static str {
        match self {
            Scheme::S3 => "s3",
            Scheme::Gcs => "gs",
            Scheme::Azure => "az",
        }
    }
}

/// A parsed bucket target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scheme: Scheme,
    pub bucket: String,
    /// Key prefix without a trailing `/`; empty for the whole bucket.
    pub prefix: String,
}

impl Target {
    /// Parses `s3://…`, `gs://…`, `az://…`; None for anything else (a local path).
    pub fn parse(target: &str) -> Option<Result<Target, String>> {
        let (scheme, rest) = target.split_once("://")?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "s3" | "s3a" => Scheme::S3,
            "gs" | "gcs" => Scheme::Gcs,
            "az" | "azure" => Scheme::Azure,
            _ => return None,
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        Some(check_bucket(scheme, bucket).map(|()| Target {
            scheme,
            bucket: bucket.to_string(),
            prefix: prefix.trim_end_matches('/').to_string(),
        }))
    }

    /// `s3://bucket/key` for an object key.
    pub fn url_of(&self, key: &str) -> String {
        format!("{}://{}/{key}", self.scheme.prefix(), self.bucket)
    }

    /// The target as written, normalised.
    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("{}://{}", self.scheme.prefix(), self.bucket)
        } else {
            self.url_of(&self.prefix)
        }
    }
}

/// Bucket names as the clouds allow them (lower-case letters, digits, `-`, `.`, `_` for
/// GCS; 3 to 63 characters), so a typo gets a clear message instead of a confusing HTTP error.
fn check_bucket(scheme: Scheme, bucket: &str) -> Result<(), String> {
    let s = scheme.prefix();
    if bucket.is_empty() {
        return Err(format!("{s}:// needs a bucket name, e.g. {s}://my-bucket/some/prefix"));
    }
    let allowed = |c: char| {
        c.is_ascii_lowercase()
            || c.is_ascii_digit()
            || c == '-'
            || c == '.'
            || (c == '_' && scheme == Scheme::Gcs)
    };
    let ok_chars = bucket.chars().all(allowed);
    let ok_len = (3..=63).contains(&bucket.len()) || (scheme == Scheme::Gcs && bucket.len() <= 222);
    let ok_ends = bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok_chars && ok_len && ok_ends {
        Ok(())
    } else {
        let what = if scheme == Scheme::Azure { "container" } else { "bucket" };
        Err(format!(
            "{s}://{bucket}: {bucket:?} is not a valid {what} name (3-63 characters: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)"
        ))
    }
}

/// What the bucket sources share in one run.
pub struct Remote {
    pub rt: Handle,
    pub net: NetConfig,
    /// Objects fetched at once.
    pub fetch_slots: Arc<Semaphore>,
    /// Ranged GETs of this size for larger objects.
    pub part_size: u64,
    /// A read that waits longer than this for data fails.
    pub stall_timeout: Duration,
    /// Bytes downloaded so far in this run, for progress reports.
    pub downloaded: Arc<AtomicU64>,
}

/// Messages from a fetch task to the reader.
#[derive(Debug)]
enum Msg {
    /// The first response arrived: the version it names and the object's size.
    Start {
        version: Option<String>,
        size: u64,
    },
    Data(Bytes),
    /// The whole object was sent.
    End,
    Failed(String),
}

/// Bytes in flight per object: the channel holds this many chunks (the HTTP client's
/// chunks are 8-64 KiB), so one object buffers about a MiB at most.
const CHANNEL_CHUNKS: usize = 32;

/// An object being fetched. [`Body::open`] waits for the first response.
#[derive(Debug)]
pub struct Body {
    rx: mpsc::Receiver<Msg>,
    rt: Handle,
    stall: Duration,
    downloaded: Arc<AtomicU64>,
}

impl Body {
    /// Waits for the response headers; returns the object's version and a reader of its
    /// bytes, or the reason it could not be fetched.
    pub fn open(mut self) -> Result<(Option<String>, BodyReader), String> {
        match recv(&self.rt, &mut self.rx, self.stall) {
            Ok(Some(Msg::Start { version, size })) => {
                Ok((version, BodyReader { body: self, buf: Bytes::new(), done: false, size, read: 0 }))
            }
            Ok(Some(Msg::Failed(e))) => Err(e),
            Ok(_) => Err("the download stopped before it started (internal error; please report it)".into()),
            Err(e) => Err(e.to_string()),
        }
    }
}

fn recv(rt: &Handle, rx: &mut mpsc::Receiver<Msg>, stall: Duration) -> io::Result<Option<Msg>> {
    rt.block_on(async { tokio::time::timeout(stall, rx.recv()).await }).map_err(|_| {
        io::Error::new(io::ErrorKind::TimedOut, format!("no data from the store for {}s", stall.as_secs()))
    })
}

/// Reads an object's bytes as the fetch task streams them. Blocking; for scan threads.
pub struct BodyReader {
    body: Body,
    buf: Bytes,
    done: bool,
    size: u64,
    read: u64,
}

impl Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.buf.is_empty() {
            if self.done {
                return Ok(0);
            }
            match recv(&self.body.rt, &mut self.body.rx, self.body.stall)? {
                Some(Msg::Data(b)) => self.buf = b,
                Some(Msg::End) => self.done = true,
                Some(Msg::Failed(e)) => {
                    return Err(io::Error::other(format!(
                        "download failed after {} of {} bytes: {e}",
                        self.read, self.size
                    )))
                }
                Some(Msg::Start { .. }) | None => {
                    return Err(io::Error::other(format!(
                        "download ended after {} of {} bytes (internal error; please report it)",
                        self.read, self.size
                    )))
                }
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.body.downloaded.fetch_add(n as u64, Ordering::Relaxed);
        self.buf = self.buf.slice(n..);
        self.read += n as u64;
        Ok(n)
    }
}

/// Lists one bucket target, calling `emit` for every object (with its download started),
/// filtered object, skip and error. Returns false when `emit` does (the consumer is gone).
pub fn list(target: &Target, remote: &Remote, filter: &Filter, emit: &mut dyn FnMut(Listed) -> bool) -> bool {
    let (store, endpoint) = match build_store(target, &remote.net) {
        Ok(s) => s,
        Err(e) => return emit(Listed::Error { object: target.url(), error: format!("{e:#}") }),
    };
    let prefix = (!target.prefix.is_empty()).then(|| key_path(&target.prefix));
    let mut stream = store.list(prefix.as_ref());
    let mut listed = 0u64;
    loop {
        let item = remote.rt.block_on(stream.next());
        let meta = match item {
            None => break,
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                let what = if listed == 0 {
                    format!("listing {}", target.url())
                } else {
                    format!("listing {} stopped after {listed} objects", target.url())
                };
                return emit(Listed::Error {
                    object: target.url(),
                    error: format!("{what}: {}", describe(&e, target, &endpoint)),
                });
            }
        };
        listed += 1;
        let key = meta.location.to_string();
        let relative = key.strip_prefix(&target.prefix).map_or(key.as_str(), |r| r.trim_start_matches('/'));
        let keep = if key.ends_with('/') && meta.size == 0 {
            false // a "folder" marker made by consoles, not content
        } else {
            filter.accepts(relative, Some(meta.size), Some(meta.last_modified))
        };
        let more = if keep {
            let job = start_fetch(remote, &store, target, meta.location, meta.size);
            emit(Listed::Object(job))
        } else {
            emit(Listed::Filtered)
        };
        if !more {
            return false;
        }
    }
    if listed > 0 {
        return true;
    }
    // Nothing under the prefix as a folder: the target may name one object.
    if let Some(path) = prefix {
        match remote.rt.block_on(store.head(&path)) {
            Ok(meta) => return emit(Listed::Object(start_fetch(remote, &store, target, path, meta.size))),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => {
                return emit(Listed::Error {
                    object: target.url(),
                    error: format!("reading {}: {}", target.url(), describe(&e, target, &endpoint)),
                })
            }
        }
    }
    emit(Listed::Skipped {
        object: target.url(),
        reason: "empty",
        detail: "no objects under this prefix".into(),
    })
}

fn build_store(target: &Target, net: &NetConfig) -> anyhow::Result<(Arc<dyn ObjectStore>, String)> {
    match target.scheme {
        Scheme::S3 => credentials::s3(&target.bucket, net),
        Scheme::Gcs => credentials::gcs(&target.bucket, net),
        Scheme::Azure => credentials::azure(&target.bucket, net),
    }
}

/// An object_store path for a key as the user or the listing wrote it.
fn key_path(key: &str) -> Path {
    Path::parse(key).unwrap_or_else(|_| Path::from(key))
}

/// Waits for a fetch slot, then starts downloading `path` on the I/O runtime.
fn start_fetch(remote: &Remote, store: &Arc<dyn ObjectStore>, target: &Target, path: Path, size: u64) -> Job {
    let key = path.to_string();
    let obj = ObjectRef {
        name: target.url_of(&key),
        base_name: key.rsplit('/').next().unwrap_or(&key).to_string(),
        version: None,
    };
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    // Closed when the output failed and the scan is stopping: no download starts, and the
    // job, if still taken, reports that its download never began.
    if let Ok(permit) = remote.rt.block_on(remote.fetch_slots.clone().acquire_owned()) {
        let fetch = Fetch {
            store: store.clone(),
            path,
            size_hint: size,
            part: remote.part_size,
            tx,
            target: target.clone(),
        };
        remote.rt.spawn(fetch.run(permit));
    }
    let body = Body {
        rx,
        rt: remote.rt.clone(),
        stall: remote.stall_timeout,
        downloaded: remote.downloaded.clone(),
    };
    Job { obj, input: Input::Remote(body) }
}

struct Fetch {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size_hint: u64,
    part: u64,
    tx: mpsc::Sender<Msg>,
    target: Target,
}

impl Fetch {
    async fn run(self, _permit: OwnedSemaphorePermit) {
        if let Err(e) = self.pump().await {
            // The reader may be gone already; then nobody needs the message.
            let _ = self.tx.send(Msg::Failed(e)).await;
        }
    }

    /// Sends the object part by part; Err is the reason it failed. Returns Ok early when
    /// the reader has gone away (the scan stopped reading, e.g. at a size limit).
    async fn pump(&self) -> Result<(), String> {
        let ranged = self.size_hint > self.part;
        let first =
            GetOptions { range: ranged.then_some(GetRange::Bounded(0..self.part)), ..Default::default() };
        let res = self.store.get_opts(&self.path, first).await.map_err(|e| self.error(&e))?;
        let meta = res.meta.clone();
        let pin_version = meta.version.clone();
        let pin_etag = meta.e_tag.clone();
        let version =
            pin_version.clone().or_else(|| pin_etag.as_deref().map(|t| t.trim_matches('"').to_string()));
        let size = meta.size;
        let mut offset = res.range.end;
        if self.tx.send(Msg::Start { version, size }).await.is_err()
            || !self.send_stream(res.into_stream()).await?
        {
            return Ok(());
        }
        while offset < size {
            let end = size.min(offset.saturating_add(self.part));
            let opts = GetOptions {
                range: Some(GetRange::Bounded(offset..end)),
                version: pin_version.clone(),
                if_match: if pin_version.is_none() { pin_etag.clone() } else { None },
                ..Default::default()
            };
            let res = self.store.get_opts(&self.path, opts).await.map_err(|e| self.error(&e))?;
            if !self.send_stream(res.into_stream()).await? {
                return Ok(());
            }
            offset = end;
        }
        let _ = self.tx.send(Msg::End).await;
        Ok(())
    }

    /// Forwards one response body; Ok(false) when the reader is gone.
    async fn send_stream(
        &self,
        mut body: futures::stream::BoxStream<'static, object_store::Result<Bytes>>,
    ) -> Result<bool, String> {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| self.error(&e))?;
            if self.tx.send(Msg::Data(chunk)).await.is_err() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn error(&self, e: &object_store::Error) -> String {
        match e {
            object_store::Error::NotFound { .. } => "the object was deleted after it was listed".into(),
            object_store::Error::Precondition { .. } => {
                "the object was overwritten while it was read (its ETag changed); scan it again".into()
            }
            _ => describe(e, &self.target, ""),
        }
    }
}

/// A store error for people: what happened and what to do, then the store's own words in
/// one line (status, error code and message, or the client's error). Query strings of URLs
/// are cut, since they can carry SAS signatures.
pub fn describe(e: &object_store::Error, target: &Target, endpoint: &str) -> String {
    let mut chain = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let t = s.to_string();
        if !chain.contains(&t) {
            chain.push_str(": ");
            chain.push_str(&t);
        }
        src = s.source();
    }
    let raw = redact_queries(&chain);
    let bucket = &target.bucket;
    let at = if endpoint.is_empty() { String::new() } else { format!(" at {endpoint}") };
    let has = |s: &str| raw.contains(s);
    let hint = if has("NoSuchBucket")
        || has("ContainerNotFound")
        || has("The specified bucket does not exist")
        || has("no bucket named")
    {
        format!("the bucket {bucket:?} does not exist{at}; check the name (and the region or endpoint)")
    } else if has("InvalidAccessKeyId") || has("UnrecognizedClientException") {
        "the access key id is not known to the store; check AWS_ACCESS_KEY_ID or the profile's aws_access_key_id".into()
    } else if has("SignatureDoesNotMatch")
        || has("AuthenticationFailed")
        || has("Server failed to authenticate")
    {
        "the credentials were refused (wrong secret key or signature); check the secret key or SAS token"
            .into()
    } else if has("ExpiredToken") || has("InvalidToken") {
        "the session token has expired or is invalid; refresh the credentials".into()
    } else if matches!(
        e,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) || has("AccessDenied")
        || has("AuthorizationPermissionMismatch")
        || has("AuthorizationFailure")
        || has("403 Forbidden")
    {
        "permission denied; the credentials in use may not read this (grant s3:ListBucket and s3:GetObject, storage.objects.list and get, or Storage Blob Data Reader)".into()
    } else if has("Connection refused")
        || has("tcp connect error")
        || has("dns error")
        || has("error trying to connect")
    {
        format!("cannot connect to the store{at}; is it up, and is the endpoint right?")
    } else if has("timed out") {
        format!("the store{at} did not answer in time")
    } else if has("retries") {
        format!("the store{at} kept failing")
    } else {
        String::new()
    };
    let cause = store_words(&raw);
    if hint.is_empty() {
        cause
    } else {
        format!("{hint} ({cause})")
    }
}

/// The store's own words from an error chain, on one line: `HTTP 404 NoSuchBucket: The
/// specified bucket does not exist` from an XML or JSON error body, else the chain itself
/// without the request dump, shortened.
fn store_words(raw: &str) -> String {
    let tag = |name: &str| -> Option<String> {
        let open = format!("<{name}>");
        let start = raw.find(&open)? + open.len();
        let len = raw[start..].find(&format!("</{name}>"))?;
        Some(raw[start..start + len].lines().next().unwrap_or("").trim().to_string())
    };
    let status =
        raw.split("status code: ").nth(1).map(|r| r.split(':').next().unwrap_or(r).trim().to_string());
    let retries = raw.find(", after ").and_then(|i| raw[i + 2..].split(',').next()).map(str::to_string);
    let mut words = match (status, tag("Code"), tag("Message")) {
        (Some(st), Some(code), Some(msg)) => format!("HTTP {st} {code}: {msg}"),
        (Some(st), _, _) => format!("HTTP {st}"),
        _ => {
            // Client errors: the innermost causes say it best ("Connection refused").
            let parts: Vec<&str> = raw.split(" - ").collect();
            parts.last().copied().unwrap_or(raw).to_string()
        }
    };
    if let Some(r) = retries {
        words.push_str(&format!(", {r}"));
    }
    let one_line: String = words.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

/// Cuts the query string from every `http(s)://` URL in `s`.
fn redact_queries(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("http") {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ')' || c == '>')
            .unwrap_or(tail.len());
        let url = &tail[..end];
        match url.split_once('?') {
            Some((base, _)) if url.contains("://") => {
                out.push_str(base);
                out.push_str("?…");
            }
            _ => out.push_str(url),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Target::parse("s3://my-bucket/reports/2026/").unwrap().unwrap();
        assert_eq!(
            (t.scheme, t.bucket.as_str(), t.prefix.as_str()),
            (Scheme::S3, "my-bucket", "reports/2026")
        );
        assert_eq!(t.url_of("a b.txt"), "s3://my-bucket/a b.txt");
        let g = Target::parse("gs://data_lake").unwrap().unwrap();
        assert_eq!((g.scheme, g.prefix.as_str()), (Scheme::Gcs, ""));
        assert_eq!(Target::parse("az://c0ntainer/x").unwrap().unwrap().scheme, Scheme::Azure);
        assert!(Target::parse("/tmp/x").is_none());
        assert!(Target::parse("ftp://x/y").is_none());
        assert!(Target::parse("s3://").unwrap().unwrap_err().contains("needs a bucket name"));
        assert!(Target::parse("s3://My_Bucket/x").unwrap().unwrap_err().contains("not a valid bucket name"));
        assert!(Target::parse("az://ab").unwrap().unwrap_err().contains("container"));
    }

    #[test]
    fn store_words_are_short() {
        let xml = "Generic S3 error: Error performing GET http://h/b?… in 6ms - Server returned non-2xx status code: 404 Not Found: <?xml version=\"1.0\"?>\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><RequestId>x</RequestId></Error>";
        assert_eq!(store_words(xml), "HTTP 404 Not Found NoSuchBucket: The specified bucket does not exist");
        let conn = "Generic S3 error: Error performing GET http://127.0.0.1:9/b?… in 102ms, after 1 retries, max_retries: 1, retry_timeout: 2s  - HTTP error: error sending request: client error (Connect): tcp connect error: Connection refused (os error 111)";
        assert_eq!(
            store_words(conn),
            "HTTP error: error sending request: client error (Connect): tcp connect error: Connection refused (os error 111), after 1 retries"
        );
    }

    #[test]
    fn redacts_queries() {
        assert_eq!(
            redact_queries("Error performing GET http://h:1/c/k?sv=2020&sig=SECRET in 3s"),
            "Error performing GET http://h:1/c/k?… in 3s"
        );
        assert_eq!(redact_queries("no url here, https only"), "no url here, https only");
        assert_eq!(redact_queries("x (https://a.b/c?d=e)"), "x (https://a.b/c?…)");
    }
}
