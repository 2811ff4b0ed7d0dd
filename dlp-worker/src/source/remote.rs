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
use super::{Gate, Input, Job, Listed, ObjectRef};
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
    /// `s3`, `gs` or `az`, as in target URLs.
    pub fn prefix(self) -> &'static str {
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

    /// `s3://bucket`.
    pub fn bucket_url(&self) -> String {
        format!("{}://{}", self.scheme.prefix(), self.bucket)
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
    if scheme == Scheme::Azure && matches!(bucket, "$web" | "$logs" | "$root") {
        return Ok(()); // Azure's system containers
    }
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
    /// `--max-requests-per-second`.
    pub limiter: Option<Arc<Limiter>>,
    /// Targets name single objects (events): read each with a HEAD, without listing.
    pub objects_only: bool,
}

impl Remote {
    /// Waits for the rate limit, from the listing thread.
    fn limit_blocking(&self) {
        if let Some(l) = &self.limiter {
            self.rt.block_on(l.wait());
        }
    }
}

/// Spaces requests at least `interval` apart (all requests of a run share it).
#[derive(Debug)]
pub struct Limiter {
    interval: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Limiter {
    /// A limiter for `per_second` requests a second.
    pub fn new(per_second: f64) -> Limiter {
        Limiter {
            interval: Duration::from_secs_f64(1.0 / per_second),
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// Waits for the next request slot.
    pub async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = tokio::time::Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// Messages from a fetch task to the reader.
#[derive(Debug)]
enum Msg {
    /// The first response arrived: the version it names and the object's size.
    Start {
        fetched: Fetched,
        size: u64,
    },
    Data(Bytes),
    /// The whole object was sent.
    End,
    Failed(String),
}

/// What the first response said of the object.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    /// The `version` of findings: version id or generation, else the ETag without quotes.
    pub version: Option<String>,
    pub e_tag: Option<String>,
    pub version_id: Option<String>,
    pub content_type: Option<String>,
    pub last_modified: Option<chrono::DateTime<chrono::Utc>>,
}

impl Fetched {
    fn of(meta: &object_store::ObjectMeta, attributes: Option<&object_store::Attributes>) -> Fetched {
        Fetched {
            version: version_of(meta.version.as_deref(), meta.e_tag.as_deref()),
            e_tag: meta.e_tag.clone(),
            version_id: meta.version.clone(),
            content_type: attributes
                .and_then(|a| a.get(&object_store::Attribute::ContentType))
                .map(|v| v.to_string()),
            last_modified: Some(meta.last_modified),
        }
    }
}

/// Bytes in flight per object: the channel holds this many chunks (the HTTP client's
/// chunks are 8-64 KiB), so one object buffers about a MiB at most.
const CHANNEL_CHUNKS: usize = 32;

/// An object being fetched. [`Body::open`] waits for the first response.
#[derive(Debug)]
pub struct Body {
    rx: mpsc::Receiver<Msg>,
    /// Starts the download of a large object (see [`PREFETCH_MAX`]).
    go: Option<tokio::sync::oneshot::Sender<()>>,
    rt: Handle,
    stall: Duration,
    downloaded: Arc<AtomicU64>,
}

impl Body {
    /// Waits for the response headers; returns what they said of the object and a reader of
    /// its bytes, or the reason it could not be fetched.
    pub fn open(mut self) -> Result<(Fetched, BodyReader), String> {
        if let Some(go) = self.go.take() {
            let _ = go.send(()); // the task may have ended already (small or empty object)
        }
        match recv(&self.rt, &mut self.rx, self.stall) {
            Ok(Some(Msg::Start { fetched, size })) => {
                Ok((fetched, BodyReader { body: self, buf: Bytes::new(), done: false, size, read: 0 }))
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

impl BodyReader {
    /// The object's size, as its first response gave it.
    pub fn size(&self) -> u64 {
        self.size
    }
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
/// filtered object, skip and error; `after`: start after this key. Returns false when `emit`
/// does (the consumer is gone).
pub fn list(
    target: &Target,
    after: Option<&str>,
    remote: &Remote,
    filter: &Filter,
    gate: &mut dyn FnMut(&ObjectRef) -> Gate,
    emit: &mut dyn FnMut(Listed) -> bool,
) -> bool {
    let (store, endpoint) = match build_store(target, &remote.net) {
        Ok(s) => s,
        Err(e) => return emit(Listed::Error { object: target.url(), error: format!("{e:#}") }),
    };
    let url = target.url();
    // `what` names the step: "listing s3://b", "reading s3://b/key".
    let failed = |what: String, e: &object_store::Error| Listed::Error {
        object: url.clone(),
        error: format!("{what}: {}", describe(e, target, &endpoint)),
    };
    let prefix = (!target.prefix.is_empty()).then(|| key_path(&target.prefix));
    // A resumed sweep lists from where the last one stopped (keys come in order).
    if let (true, Some(path)) = (remote.objects_only, &prefix) {
        match remote.rt.block_on(store.head(path)) {
            Ok(meta) => return one_object(target, meta, remote, &store, filter, gate, emit),
            // Deleted since, or no such bucket (a HEAD cannot tell): the listing below tells.
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return emit(failed(format!("reading {url}"), &e)),
        }
    }
    let mut stream = match after {
        Some(key) => store.list_with_offset(prefix.as_ref(), &key_path(key)),
        None => store.list(prefix.as_ref()),
    };
    let mut listed = 0u64;
    let mut list_error = None;
    loop {
        let item = remote.rt.block_on(stream.next());
        let meta = match item {
            None => break,
            Some(Ok(m)) => m,
            Some(Err(e)) if listed == 0 && prefix.is_some() => {
                // Credentials may read an object without listing the bucket: try the target
                // as one object before reporting the listing error.
                list_error = Some(e);
                break;
            }
            Some(Err(e)) if listed == 0 => return emit(failed(format!("listing {url}"), &e)),
            Some(Err(e)) => return emit(failed(format!("listing {url} stopped after {listed} objects"), &e)),
        };
        listed += 1;
        let key = meta.location.to_string();
        let relative = key.strip_prefix(&target.prefix).map_or(key.as_str(), |r| r.trim_start_matches('/'));
        // Consoles' "folder" markers (empty `dir/` keys, listed as `dir`) are empty objects:
        // start_fetch reads nothing for them.
        if listed % 1000 == 1 {
            // About one listing page: one request against the rate limit.
            remote.limit_blocking();
        }
        let more = if filter.accepts(relative, Some(meta.size), Some(meta.last_modified)) {
            let obj = object_ref(target, &meta);
            match gate(&obj) {
                Gate::Scan => emit(Listed::Object(Box::new(start_fetch(remote, &store, target, &meta, obj)))),
                Gate::Pass(reason) => emit(Listed::Passed(reason)),
                Gate::Stop => return false,
            }
        } else {
            emit(Listed::Filtered)
        };
        if !more {
            return false;
        }
    }
    if listed > 0 || (after.is_some() && list_error.is_none()) {
        return true;
    }
    // Nothing under the prefix as a folder: the target may name one object.
    if let Some(path) = prefix {
        match remote.rt.block_on(store.head(&path)) {
            Ok(meta) => return one_object(target, meta, remote, &store, filter, gate, emit),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) if list_error.is_none() => return emit(failed(format!("reading {url}"), &e)),
            Err(_) => {}
        }
    }
    if let Some(e) = list_error {
        return emit(failed(format!("listing {url}"), &e));
    }
    emit(Listed::Skipped {
        object: target.url(),
        reason: "empty",
        detail: "no objects under this prefix".into(),
    })
}

/// Gates and emits the one object a target names.
fn one_object(
    target: &Target,
    meta: object_store::ObjectMeta,
    remote: &Remote,
    store: &Arc<dyn ObjectStore>,
    filter: &Filter,
    gate: &mut dyn FnMut(&ObjectRef) -> Gate,
    emit: &mut dyn FnMut(Listed) -> bool,
) -> bool {
    let name = target.prefix.rsplit('/').next().unwrap_or(&target.prefix);
    if !filter.accepts(name, Some(meta.size), Some(meta.last_modified)) {
        return emit(Listed::Filtered);
    }
    let obj = object_ref(target, &meta);
    match gate(&obj) {
        Gate::Scan => emit(Listed::Object(Box::new(start_fetch(remote, store, target, &meta, obj)))),
        Gate::Pass(reason) => emit(Listed::Passed(reason)),
        Gate::Stop => false,
    }
}

fn build_store(target: &Target, net: &NetConfig) -> anyhow::Result<(Arc<dyn ObjectStore>, String)> {
    let (client, endpoint) = client(target, net)?;
    Ok((client.store(), endpoint))
}

/// The client for a target's bucket, and the endpoint it talks to (for messages).
pub fn client(target: &Target, net: &NetConfig) -> anyhow::Result<(credentials::Client, String)> {
    match target.scheme {
        Scheme::S3 => credentials::s3(&target.bucket, net),
        Scheme::Gcs => credentials::gcs(&target.bucket, net),
        Scheme::Azure => credentials::azure(&target.bucket, net),
    }
}

/// An object_store path for a key as the user or the listing wrote it.
pub fn key_path(key: &str) -> Path {
    Path::parse(key).unwrap_or_else(|_| Path::from(key))
}

/// Objects up to this size (by the listing) are downloaded whole as soon as they are listed
/// and held in memory until a scan thread takes them, so the many-small-objects case keeps
/// `--concurrency` requests in flight. Larger objects start downloading only when a scan
/// thread opens them, so a response never waits long on a busy scanner.
const PREFETCH_MAX: u64 = 1024 * 1024;

/// Re-requests of the rest of a part after its body failed or came up short, per object
/// (beyond the client's own retries).
const MAX_RESUMES: u32 = 5;

/// Waits for a fetch slot, then starts the download task for `path` on the I/O runtime. A
/// listed size of 0 needs no request: there is nothing to read.
/// What the listing says of an object (the first response may say more).
fn object_ref(target: &Target, meta: &object_store::ObjectMeta) -> ObjectRef {
    let key = meta.location.to_string();
    ObjectRef {
        name: target.url_of(&key),
        base_name: key.rsplit('/').next().unwrap_or(&key).to_string(),
        bucket: Some(target.clone()),
        size: Some(meta.size),
        last_modified: Some(meta.last_modified),
        e_tag: meta.e_tag.clone(),
        version_id: meta.version.clone(),
        key,
        ..Default::default()
    }
}

fn start_fetch(
    remote: &Remote,
    store: &Arc<dyn ObjectStore>,
    target: &Target,
    meta: &object_store::ObjectMeta,
    obj: ObjectRef,
) -> Job {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let (go_tx, go_rx) = tokio::sync::oneshot::channel();
    if meta.size == 0 {
        // Capacity is 32: both fit without waiting.
        let _ = tx.try_send(Msg::Start { fetched: Fetched::of(meta, None), size: 0 });
        let _ = tx.try_send(Msg::End);
    } else if let Ok(permit) = remote.rt.block_on(remote.fetch_slots.clone().acquire_owned()) {
        // Closed when the output failed and the scan is stopping: no download starts, and
        // the job, if still taken, reports that its download never began.
        let fetch = Fetch {
            store: store.clone(),
            path: meta.location.clone(),
            size_hint: meta.size,
            part: remote.part_size,
            tx,
            target: target.clone(),
            limiter: remote.limiter.clone(),
        };
        remote.rt.spawn(fetch.run(permit, go_rx));
    }
    let body = Body {
        rx,
        go: Some(go_tx),
        rt: remote.rt.clone(),
        stall: remote.stall_timeout,
        downloaded: remote.downloaded.clone(),
    };
    Job { obj, input: Input::Remote(body) }
}

/// The version a finding names: the store's version id or generation, else the ETag
/// without quotes.
fn version_of(version: Option<&str>, e_tag: Option<&str>) -> Option<String> {
    version.or(e_tag).map(|v| v.trim_matches('"').to_string())
}

struct Fetch {
    limiter: Option<Arc<Limiter>>,
    store: Arc<dyn ObjectStore>,
    path: Path,
    size_hint: u64,
    part: u64,
    tx: mpsc::Sender<Msg>,
    target: Target,
}

/// What pins every request after the first to the version the first response named.
#[derive(Clone, Default)]
struct Pin {
    version: Option<String>,
    e_tag: Option<String>,
}

impl Fetch {
    async fn run(self, _permit: OwnedSemaphorePermit, go: tokio::sync::oneshot::Receiver<()>) {
        if self.size_hint > PREFETCH_MAX && go.await.is_err() {
            return; // the job was dropped before a scan thread opened it
        }
        if let Err(e) = self.pump().await {
            // The reader may be gone already; then nobody needs the message.
            let _ = self.tx.send(Msg::Failed(e)).await;
        }
    }

    async fn get(
        &self,
        range: Option<std::ops::Range<u64>>,
        pin: &Pin,
    ) -> Result<object_store::GetResult, String> {
        if let Some(l) = &self.limiter {
            l.wait().await;
        }
        let opts = GetOptions {
            range: range.map(GetRange::Bounded),
            version: pin.version.clone(),
            if_match: if pin.version.is_none() { pin.e_tag.clone() } else { None },
            ..Default::default()
        };
        self.store.get_opts(&self.path, opts).await.map_err(|e| self.error(&e))
    }

    /// Sends the object part by part; Err is the reason it failed. Returns Ok early when
    /// the reader has gone away (the scan stopped reading, e.g. at a size limit).
    async fn pump(&self) -> Result<(), String> {
        let first = (self.size_hint > self.part).then_some(0..self.part);
        let res = self.get(first, &Pin::default()).await?;
        let meta = res.meta.clone();
        // A weak ETag (`W/"…"`) cannot be matched by If-Match: such parts go unpinned.
        let strong = meta.e_tag.clone().filter(|t| !t.starts_with("W/"));
        let pin = Pin { version: meta.version.clone(), e_tag: strong };
        let fetched = Fetched::of(&meta, Some(&res.attributes));
        let size = meta.size;
        if self.tx.send(Msg::Start { fetched, size }).await.is_err() {
            return Ok(());
        }
        let mut part = res.range.clone();
        let mut body = Some(res.into_stream());
        let mut offset = part.start;
        let mut resumes = 0;
        loop {
            let stream = match body.take() {
                Some(b) => b,
                None => self.get(Some(offset..part.end), &pin).await?.into_stream(),
            };
            match self.forward(stream, &mut offset, size <= PREFETCH_MAX).await {
                Ok(false) => return Ok(()),
                Ok(true) if offset == part.end => {}
                // The body failed once the client's own retries were spent (they count from
                // the request's start, which can be long ago when the scanner paused the
                // download), or it ended short of its range (never read that as the object's
                // end): ask for the rest of the part again, pinned to the same version.
                _ if offset < part.end && resumes < MAX_RESUMES => {
                    resumes += 1;
                    continue;
                }
                Ok(true) => {
                    return Err(format!(
                        "the store sent {} of {} bytes of a part",
                        offset - part.start,
                        part.end - part.start
                    ))
                }
                Err(e) => return Err(e),
            }
            if offset >= size {
                break;
            }
            part = offset..size.min(offset.saturating_add(self.part));
        }
        let _ = self.tx.send(Msg::End).await;
        Ok(())
    }

    /// Forwards one response body, counting `offset` on; Ok(false) when the reader is gone.
    /// With `whole`, the body is gathered first and sent as one piece, so the response is
    /// never held open by a reader that has not started.
    async fn forward(
        &self,
        mut body: futures::stream::BoxStream<'static, object_store::Result<Bytes>>,
        offset: &mut u64,
        whole: bool,
    ) -> Result<bool, String> {
        let mut gathered = bytes::BytesMut::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| self.error(&e))?;
            if whole {
                gathered.extend_from_slice(&chunk);
                continue;
            }
            *offset += chunk.len() as u64;
            if self.tx.send(Msg::Data(chunk)).await.is_err() {
                return Ok(false);
            }
        }
        if whole && !gathered.is_empty() {
            *offset += gathered.len() as u64;
            if self.tx.send(Msg::Data(gathered.freeze())).await.is_err() {
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
    let hint = if has("token request")
        || has("169.254.169.254")
        || has("metadata.google.internal")
        || has("oauth2")
        || has("login.microsoftonline")
        || has("AADSTS")
    {
        format!("could not obtain credentials for {}; {}", target.url(), credential_hint(target.scheme))
    } else if has("NoSuchBucket")
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

fn credential_hint(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::S3 => "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (run `aws configure`)",
        Scheme::Gcs => "set GOOGLE_APPLICATION_CREDENTIALS, or run `gcloud auth application-default login`",
        Scheme::Azure => "set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN, or run `az login`",
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
    let json_field = |name: &str| -> Option<String> {
        let key = format!("\"{name}\":");
        let start = raw.find(&key)? + key.len();
        let rest = raw[start..].trim_start().strip_prefix('"')?;
        Some(rest[..rest.find('"')?].to_string())
    };
    let mut words = match (status, tag("Code"), tag("Message")) {
        (Some(st), Some(code), Some(msg)) => format!("HTTP {st} {code}: {msg}"),
        (Some(st), _, _) => {
            match (json_field("error"), json_field("error_description").or_else(|| json_field("message"))) {
                (Some(code), Some(msg)) => format!("HTTP {st} {code}: {msg}"),
                (None, Some(msg)) => format!("HTTP {st}: {msg}"),
                _ => format!("HTTP {st}"),
            }
        }
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
pub fn redact_queries(s: &str) -> String {
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
        assert_eq!(Target::parse("az://$web/site").unwrap().unwrap().bucket, "$web");
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
    fn json_error_bodies() {
        let oauth = "Generic GCS error: Error performing token request: Server returned non-2xx status code: 400 Bad Request: {\"error\": \"invalid_grant\", \"error_description\": \"Token has been expired or revoked.\"}";
        assert_eq!(
            store_words(oauth),
            "HTTP 400 Bad Request invalid_grant: Token has been expired or revoked."
        );
        let t = Target::parse("gs://b").unwrap().unwrap();
        let e = object_store::Error::Generic { store: "GCS", source: oauth.into() };
        assert!(describe(&e, &t, "")
            .starts_with("could not obtain credentials for gs://b; set GOOGLE_APPLICATION_CREDENTIALS"));
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
