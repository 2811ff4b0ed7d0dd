//! Object operations the actions need on each store: conditional reads, copies with a
//! checksum, conditional deletes and tags. object_store covers reads and writes; deletes
//! with a precondition and tags are requests of their own, signed with object_store's
//! credentials (S3: presigned URLs; Azure: Shared Key or SAS; GCS: the bearer token).

use crate::source::credentials::Client;
use crate::source::remote::{self, key_path, Scheme, Target};
use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use futures::StreamExt;
use http::Method;
use object_store::aws::AmazonS3;
use object_store::azure::{AzureAuthorizer, AzureCredential};
use object_store::signer::{SignedUrlOptions, Signer};
use object_store::{
    Attribute, AttributeValue, Attributes, GetOptions, ObjectStore, ObjectStoreExt, PutMode, PutPayload,
};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// Which bytes an action may touch: those that were scanned.
#[derive(Debug, Clone, Default)]
pub struct Precondition {
    /// The ETag, with quotes as the store sent it.
    pub e_tag: Option<String>,
    /// S3 version id or GCS generation.
    pub version_id: Option<String>,
}

/// A conditional delete's outcome.
#[derive(Debug, PartialEq, Eq)]
pub enum Deleted {
    /// Deleted the scanned version.
    Yes,
    /// The object changed since the scan; nothing was deleted.
    Changed,
    /// There was nothing to delete.
    Gone,
}

/// An object read whole, with its attributes (content type, metadata).
pub struct Whole {
    pub bytes: Vec<u8>,
    pub attributes: Attributes,
}

/// A copy: its size and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub size: u64,
    pub sha256: String,
}

/// One bucket, ready for actions.
pub struct Bucket {
    pub target: Target,
    client: Client,
    store: Arc<dyn ObjectStore>,
    endpoint: String,
    http: reqwest::Client,
}

/// Percent-encodes a key for a URL path, keeping `/`.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Escapes text for an XML element.
fn xml_text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Whether two ETags name the same bytes (quotes aside). Two missing ETags are the same.
pub fn same_etag(a: Option<&str>, b: Option<&str>) -> bool {
    a.map(|t| t.trim_matches('"')) == b.map(|t| t.trim_matches('"'))
}

/// An object's attributes without the quarantine record (`dlp-*` metadata): that record
/// describes one copy and does not travel with the object.
fn object_attributes(all: &Attributes) -> Attributes {
    all.iter()
        .filter(
            |(k, _)| !matches!(k, Attribute::Metadata(m) if m.starts_with("dlp_") || m.starts_with("dlp-")),
        )
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The character of an XML entity or character reference (`&amp;`, `&#233;`), as quick-xml
/// reports them between pieces of text.
pub fn xml_ref(r: &quick_xml::events::BytesRef<'_>) -> Result<char, String> {
    let name = r.decode().map_err(|e| e.to_string())?;
    let c = match &*name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => r.resolve_char_ref().map_err(|e| e.to_string())?,
    };
    c.ok_or_else(|| format!("unknown entity &{name};"))
}

/// `<Tag><Key>k</Key><Value>v</Value></Tag>` pairs from a tagging document.
fn parse_tags(xml: &str) -> Result<Vec<(String, String)>> {
    use quick_xml::events::Event;
    let bad = |e: &dyn std::fmt::Display| anyhow!("unreadable tag list from the store: {e}");
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut tags, mut key, mut value) = (Vec::new(), None, None);
    // The text of the Key or Value element being read; entity references arrive as events
    // of their own between pieces of text.
    let mut text: Option<String> = None;
    loop {
        match reader.read_event().map_err(|e| bad(&e))? {
            Event::Start(e) if matches!(e.local_name().as_ref(), b"Key" | b"Value") => {
                text = Some(String::new())
            }
            Event::Text(t) => {
                if let Some(buf) = &mut text {
                    buf.push_str(&t.decode().map_err(|e| bad(&e))?);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(buf) = &mut text {
                    buf.push(xml_ref(&r).map_err(|e| bad(&e))?);
                }
            }
            Event::End(e) => match e.local_name().as_ref() {
                b"Key" => key = text.take(),
                b"Value" => value = text.take(),
                b"Tag" => {
                    if let Some(k) = key.take() {
                        tags.push((k, value.take().unwrap_or_default()));
                    }
                    value = None;
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(tags)
}

fn tag_document(root: &str, tags: &[(String, String)]) -> String {
    let mut body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><{root}><TagSet>");
    for (k, v) in tags {
        body.push_str(&format!("<Tag><Key>{}</Key><Value>{}</Value></Tag>", xml_text(k), xml_text(v)));
    }
    body.push_str(&format!("</TagSet></{root}>"));
    body
}

/// `ours` replace tags of the same key in `existing`; other tags stay.
fn merge_tags(existing: Vec<(String, String)>, ours: &[(String, String)]) -> Vec<(String, String)> {
    let mut tags: Vec<_> = existing.into_iter().filter(|(k, _)| !ours.iter().any(|(o, _)| o == k)).collect();
    tags.extend(ours.iter().cloned());
    tags
}

impl Bucket {
    /// The client for `target`'s bucket.
    pub fn new(
        target: Target,
        net: &crate::source::credentials::NetConfig,
        http: reqwest::Client,
    ) -> Result<Bucket> {
        let (client, endpoint) = remote::client(&target, net)?;
        Ok(Bucket { store: client.store(), client, target, endpoint, http })
    }

    /// The store's words for an error, with what to do.
    pub fn describe(&self, e: &object_store::Error) -> String {
        remote::describe(e, &self.target, &self.endpoint)
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// GETs the version of `key` that `pre` names (`If-Match` on its ETag, or its version
    /// id); None when the object changed or went away. The ETag of the answer is checked
    /// too: a store that ignored the condition would hand back other bytes.
    async fn get_scanned(&self, key: &str, pre: &Precondition) -> Result<Option<object_store::GetResult>> {
        let opts = GetOptions {
            if_match: pre.e_tag.clone().filter(|t| !t.starts_with("W/")),
            version: pre.version_id.clone(),
            ..Default::default()
        };
        let got = match self.store.get_opts(&key_path(key), opts).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. } | object_store::Error::Precondition { .. }) => {
                return Ok(None)
            }
            Err(e) => bail!("reading {}: {}", self.target.url_of(key), self.describe(&e)),
        };
        if pre.e_tag.is_some()
            && got.meta.e_tag.is_some()
            && !same_etag(pre.e_tag.as_deref(), got.meta.e_tag.as_deref())
        {
            return Ok(None);
        }
        Ok(Some(got))
    }

    /// The object's current ETag and version, or None when it does not exist.
    pub async fn head(&self, key: &str) -> Result<Option<object_store::ObjectMeta>> {
        match self.store.head(&key_path(key)).await {
            Ok(m) => Ok(Some(m)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => bail!("reading {}: {}", self.target.url_of(key), self.describe(&e)),
        }
    }

    /// Copies `key` (only the scanned version, per `pre`) to `to` under `dest_key`, with
    /// its content type and metadata plus `extra` metadata; returns the size and SHA-256 of
    /// what was written. `Ok(None)`: the object changed or went away since the scan.
    /// `create_only`: fail rather than replace an object at the destination.
    pub async fn copy_to(
        &self,
        key: &str,
        pre: &Precondition,
        to: &Bucket,
        dest_key: &str,
        extra: &[(&str, String)],
        create_only: bool,
    ) -> Result<Option<Copied>> {
        let Some(got) = self.get_scanned(key, pre).await? else { return Ok(None) };
        let mut attributes = object_attributes(&got.attributes);
        for (k, v) in extra {
            attributes.insert(Attribute::Metadata((*k).to_string().into()), AttributeValue::from(v.clone()));
        }
        let dest = key_path(dest_key);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut body = got.into_stream();
        // Small objects go in one PUT (conditional when asked); larger ones as a multipart
        // upload, which is only visible once complete.
        const ONE_PUT: usize = 8 * 1024 * 1024;
        let mut buf = Vec::new();
        let mut upload: Option<object_store::WriteMultipart> = None;
        while let Some(chunk) = body.next().await {
            let chunk =
                chunk.map_err(|e| anyhow!("reading {}: {}", self.target.url_of(key), self.describe(&e)))?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
            match &mut upload {
                Some(w) => {
                    w.wait_for_capacity(4).await.map_err(|e| {
                        anyhow!("writing {}: {}", to.target.url_of(dest_key), to.describe(&e))
                    })?;
                    w.put(chunk);
                }
                None => {
                    buf.extend_from_slice(&chunk);
                    if buf.len() > ONE_PUT {
                        if create_only && to.head(dest_key).await?.is_some() {
                            bail!("{} exists already; not replacing it", to.target.url_of(dest_key));
                        }
                        let opts = object_store::PutMultipartOptions {
                            attributes: attributes.clone(),
                            ..Default::default()
                        };
                        let mp = to.store.put_multipart_opts(&dest, opts).await.map_err(|e| {
                            anyhow!("writing {}: {}", to.target.url_of(dest_key), to.describe(&e))
                        })?;
                        let mut w = object_store::WriteMultipart::new_with_chunk_size(mp, ONE_PUT);
                        w.put(std::mem::take(&mut buf).into());
                        upload = Some(w);
                    }
                }
            }
        }
        match upload {
            Some(w) => {
                w.finish()
                    .await
                    .map_err(|e| anyhow!("writing {}: {}", to.target.url_of(dest_key), to.describe(&e)))?;
            }
            None => {
                let opts = object_store::PutOptions {
                    attributes,
                    mode: if create_only { PutMode::Create } else { PutMode::Overwrite },
                    ..Default::default()
                };
                match to.store.put_opts(&dest, PutPayload::from(buf), opts).await {
                    Ok(_) => {}
                    Err(object_store::Error::AlreadyExists { .. }) => {
                        bail!("{} exists already; not replacing it", to.target.url_of(dest_key))
                    }
                    Err(e) => bail!("writing {}: {}", to.target.url_of(dest_key), to.describe(&e)),
                }
            }
        }
        Ok(Some(Copied { size, sha256: hex::encode(hasher.finalize()) }))
    }

    /// Reads the scanned version of `key` into memory, if it is at most `max` bytes; None
    /// when it changed or went away since the scan.
    pub async fn read_all(&self, key: &str, pre: &Precondition, max: u64) -> Result<Option<Whole>> {
        let Some(got) = self.get_scanned(key, pre).await? else { return Ok(None) };
        if got.meta.size > max {
            bail!("{} is larger than {max} bytes", self.target.url_of(key));
        }
        let attributes = object_attributes(&got.attributes);
        let bytes = got
            .bytes()
            .await
            .map_err(|e| anyhow!("reading {}: {}", self.target.url_of(key), self.describe(&e)))?;
        Ok(Some(Whole { bytes: bytes.to_vec(), attributes }))
    }

    /// The `dlp-source-version` metadata of `key`: whose copy it is. `Ok(None)`: no such
    /// object; `Ok(Some(None))`: an object without that record.
    pub async fn source_version_of(&self, key: &str) -> Result<Option<Option<String>>> {
        self.metadata_of(key, "dlp-source-version").await
    }

    /// One metadata value of `key` (`name` with `-`, or with `_` as Azure spells it).
    pub async fn metadata_of(&self, key: &str, name: &str) -> Result<Option<Option<String>>> {
        let opts = GetOptions { head: true, ..Default::default() };
        let alt = name.replace('-', "_");
        match self.store.get_opts(&key_path(key), opts).await {
            Ok(got) => Ok(Some(got.attributes.iter().find_map(|(k, v)| match k {
                Attribute::Metadata(m) if *m == *name || *m == *alt => Some(v.to_string()),
                _ => None,
            }))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => bail!("reading {}: {}", self.target.url_of(key), self.describe(&e)),
        }
    }

    /// Reads `key` whole and returns its size and SHA-256 (to verify a copy).
    pub async fn checksum(&self, key: &str) -> Result<Option<Copied>> {
        self.checksum_if(key, &Precondition::default()).await
    }

    /// [`Bucket::checksum`] of the version `pre` names; None when it changed or is gone.
    pub async fn checksum_if(&self, key: &str, pre: &Precondition) -> Result<Option<Copied>> {
        let Some(got) = self.get_scanned(key, pre).await? else { return Ok(None) };
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut body = got.into_stream();
        while let Some(chunk) = body.next().await {
            let chunk =
                chunk.map_err(|e| anyhow!("reading {}: {}", self.target.url_of(key), self.describe(&e)))?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
        }
        Ok(Some(Copied { size, sha256: hex::encode(hasher.finalize()) }))
    }

    /// Deletes `key` only if it is still the scanned version: S3 and Azure `If-Match` on the
    /// ETag, GCS `ifGenerationMatch`.
    pub async fn delete_if(&self, key: &str, pre: &Precondition) -> Result<Deleted> {
        let url = self.target.url_of(key);
        // Checked first as well: a store that ignores If-Match would otherwise delete bytes
        // nobody scanned. The conditional request then closes all but a store's own window.
        if let Some(want) = &pre.e_tag {
            match self.head(key).await? {
                None => return Ok(Deleted::Gone),
                Some(m) if !same_etag(m.e_tag.as_deref(), Some(want)) => return Ok(Deleted::Changed),
                Some(_) => {}
            }
        }
        let (status, body) = match &self.client {
            Client::S3(s3) => self.s3_delete(s3, key, pre).await?,
            Client::Azure { store, account, endpoint } => {
                let mut req = http::Request::builder().method(Method::DELETE).uri(format!(
                    "{endpoint}/{}/{}",
                    self.target.bucket,
                    encode_key(key)
                ));
                if let Some(t) = &pre.e_tag {
                    req = req.header("if-match", t.as_str());
                }
                self.azure_send(store, account, req, Vec::new()).await?
            }
            Client::Gcs { store, base_url } => {
                let mut u = format!(
                    "{base_url}/storage/v1/b/{}/o/{}",
                    self.target.bucket,
                    encode_key(key).replace('/', "%2F")
                );
                if let Some(g) = &pre.version_id {
                    u.push_str(&format!("?ifGenerationMatch={g}"));
                }
                self.gcs_send(store, self.http.delete(u)).await?
            }
        };
        match status {
            200..=299 => Ok(Deleted::Yes),
            404 => Ok(Deleted::Gone),
            412 => Ok(Deleted::Changed),
            _ => bail!("deleting {url}: the store answered {status}: {}", short(&body)),
        }
    }

    async fn s3_delete(&self, s3: &AmazonS3, key: &str, pre: &Precondition) -> Result<(u16, String)> {
        let mut opts = SignedUrlOptions::default();
        if let Some(t) = &pre.e_tag {
            opts.signed_headers
                .insert("if-match", t.parse().map_err(|_| anyhow!("an ETag that is not a header value"))?);
        }
        let signed = s3
            .signed_url_opts(Method::DELETE, &key_path(key), Duration::from_secs(300), &opts)
            .await
            .map_err(|e| {
                anyhow!("signing a request for {}: {}", self.target.url_of(key), self.describe(&e))
            })?;
        let mut req = self.http.delete(signed);
        for (k, v) in &opts.signed_headers {
            req = req.header(k, v);
        }
        let (status, body) = send(req).await?;
        // An S3-compatible store without conditional deletes: check, then delete. The
        // object could change between the two requests (documented in the README).
        if status == 501 && pre.e_tag.is_some() {
            match self.head(key).await? {
                None => return Ok((404, String::new())),
                Some(m) if !same_etag(m.e_tag.as_deref(), pre.e_tag.as_deref()) => {
                    return Ok((412, String::new()))
                }
                Some(_) => {}
            }
            let signed =
                s3.signed_url(Method::DELETE, &key_path(key), Duration::from_secs(300)).await.map_err(
                    |e| anyhow!("signing a request for {}: {}", self.target.url_of(key), self.describe(&e)),
                )?;
            return send(self.http.delete(signed)).await;
        }
        Ok((status, body))
    }

    /// Sets `tags` on `key` (keeping its other tags): S3 object tags, Azure blob index
    /// tags, GCS custom metadata. None of them changes the object's ETag or generation.
    pub async fn set_tags(&self, key: &str, pre: &Precondition, tags: &[(String, String)]) -> Result<()> {
        let url = self.target.url_of(key);
        match &self.client {
            Client::S3(s3) => {
                let mut query = vec![("tagging".to_string(), String::new())];
                if let Some(v) = &pre.version_id {
                    query.push(("versionId".to_string(), v.clone()));
                }
                let opts = SignedUrlOptions::new().with_query(query);
                let get = s3
                    .signed_url_opts(Method::GET, &key_path(key), Duration::from_secs(300), &opts)
                    .await
                    .map_err(|e| anyhow!("signing a request for {url}: {}", self.describe(&e)))?;
                let (status, body) = send(self.http.get(get)).await?;
                if !(200..300).contains(&status) {
                    bail!("reading the tags of {url}: the store answered {status}: {}", short(&body));
                }
                let doc = tag_document("Tagging", &merge_tags(parse_tags(&body)?, tags));
                let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(doc.as_bytes()));
                let put = s3
                    .signed_url_opts(Method::PUT, &key_path(key), Duration::from_secs(300), &opts)
                    .await
                    .map_err(|e| anyhow!("signing a request for {url}: {}", self.describe(&e)))?;
                let (status, body) = send(self.http.put(put).header("content-md5", md5).body(doc)).await?;
                if !(200..300).contains(&status) {
                    bail!("tagging {url}: the store answered {status}: {}", short(&body));
                }
            }
            Client::Azure { store, account, endpoint } => {
                let blob = format!("{endpoint}/{}/{}?comp=tags", self.target.bucket, encode_key(key));
                let req = http::Request::builder().method(Method::GET).uri(&blob);
                let (status, body) = self.azure_send(store, account, req, Vec::new()).await?;
                if !(200..300).contains(&status) {
                    bail!("reading the tags of {url}: the store answered {status}: {}", short(&body));
                }
                let doc = tag_document("Tags", &merge_tags(parse_tags(&body)?, tags));
                // Set Blob Tags takes no ETag condition; the scan's version is in the tags.
                let req = http::Request::builder()
                    .method(Method::PUT)
                    .uri(&blob)
                    .header("content-type", "application/xml; charset=UTF-8");
                let (status, body) = self.azure_send(store, account, req, doc.into_bytes()).await?;
                if !(200..300).contains(&status) {
                    bail!("tagging {url}: the store answered {status}: {}", short(&body));
                }
            }
            Client::Gcs { store, base_url } => {
                let mut u = format!(
                    "{base_url}/storage/v1/b/{}/o/{}",
                    self.target.bucket,
                    encode_key(key).replace('/', "%2F")
                );
                if let Some(g) = &pre.version_id {
                    u.push_str(&format!("?ifGenerationMatch={g}"));
                }
                let metadata: serde_json::Map<String, serde_json::Value> =
                    tags.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
                let body = serde_json::json!({ "metadata": metadata });
                let (status, text) = self
                    .gcs_send(
                        store,
                        self.http.patch(u).header("content-type", "application/json").body(body.to_string()),
                    )
                    .await?;
                if !(200..300).contains(&status) {
                    bail!("tagging {url}: the store answered {status}: {}", short(&text));
                }
            }
        }
        Ok(())
    }

    async fn azure_send(
        &self,
        store: &object_store::azure::MicrosoftAzure,
        account: &str,
        req: http::request::Builder,
        body: Vec<u8>,
    ) -> Result<(u16, String)> {
        let r = azure_signed(&self.http, store, account, req, body)
            .await
            .map_err(|e| anyhow!("{e:#} ({})", self.endpoint))?;
        send(r).await
    }

    async fn gcs_send(
        &self,
        store: &object_store::gcp::GoogleCloudStorage,
        req: reqwest::RequestBuilder,
    ) -> Result<(u16, String)> {
        let credential = store
            .credentials()
            .get_credential()
            .await
            .map_err(|e| anyhow!("getting Google Cloud credentials: {}", self.describe(&e)))?;
        let req = if credential.bearer.is_empty() { req } else { req.bearer_auth(&credential.bearer) };
        send(req).await
    }
}

/// `req` with `body`, signed with the Azure credentials of `store` (Shared Key, SAS or
/// Entra ID token) for `account`: Blob and Queue requests alike.
pub async fn azure_signed(
    http: &reqwest::Client,
    store: &object_store::azure::MicrosoftAzure,
    account: &str,
    req: http::request::Builder,
    body: Vec<u8>,
) -> Result<reqwest::RequestBuilder> {
    let credential =
        store.credentials().get_credential().await.map_err(|e| anyhow!("getting Azure credentials: {e}"))?;
    let mut req = req
        .header("content-length", body.len())
        .body(object_store::client::HttpRequestBody::from(body.clone()))
        .context("building a request")?;
    if let AzureCredential::SASToken(pairs) = &*credential {
        let mut url = reqwest::Url::parse(&req.uri().to_string()).context("building a request URL")?;
        url.query_pairs_mut().extend_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        *req.uri_mut() = url.as_str().parse().context("building a request URL")?;
    }
    AzureAuthorizer::new(&credential, account)
        .try_authorize(&mut req)
        .map_err(|e| anyhow!("signing an Azure request: {e}"))?;
    let mut r = http.request(req.method().clone(), req.uri().to_string());
    for (k, v) in req.headers() {
        r = r.header(k, v);
    }
    Ok(r.body(body))
}

/// Sends a request; returns the status and the body (for errors). Transport errors are
/// retried a few times.
async fn send(req: reqwest::RequestBuilder) -> Result<(u16, String)> {
    let mut delay = Duration::from_millis(200);
    for attempt in 0.. {
        let Some(r) = req.try_clone() else { bail!("internal error: request cannot be retried") };
        match r.timeout(Duration::from_secs(60)).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                if (status == 503 || status == 500 || status == 429) && attempt < 4 {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    continue;
                }
                let body = resp.text().await.unwrap_or_default();
                return Ok((status, body));
            }
            Err(e) if attempt < 4 => {
                let _ = e;
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => bail!("{}", remote::redact_queries(&format!("{e}"))),
        }
    }
    unreachable!("the loop returns")
}

/// The start of an error body, on one line.
fn short(body: &str) -> String {
    let one: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match one.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &one[..i]),
        None => one,
    }
}

/// Where a quarantined object goes: `<location>/<scheme>/<bucket>/<key>`.
pub fn quarantine_key(location: &Target, scheme: Scheme, bucket: &str, key: &str) -> String {
    let s = match scheme {
        Scheme::S3 => "s3",
        Scheme::Gcs => "gs",
        Scheme::Azure => "az",
    };
    if location.prefix.is_empty() {
        format!("{s}/{bucket}/{key}")
    } else {
        format!("{}/{s}/{bucket}/{key}", location.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_merge() {
        let xml = r#"<?xml version="1.0"?><Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>owner</Key><Value>a&amp;b</Value></Tag><Tag><Key>dlp-classification</Key><Value>OLD</Value></Tag></TagSet></Tagging>"#;
        let existing = parse_tags(xml).unwrap();
        assert_eq!(existing[0], ("owner".to_string(), "a&b".to_string()));
        let merged = merge_tags(existing, &[("dlp-classification".into(), "CONFIDENTIAL".into())]);
        assert_eq!(merged.len(), 2);
        let doc = tag_document("Tagging", &merged);
        assert_eq!(parse_tags(&doc).unwrap(), merged);
        assert!(doc.contains("<Value>a&amp;b</Value>"));
    }

    #[test]
    fn keys_are_encoded() {
        assert_eq!(encode_key("a b/ü?.txt"), "a%20b/%C3%BC%3F.txt");
    }

    #[test]
    fn quarantine_keys_keep_the_source() {
        let q = Target::parse("s3://quar/held").unwrap().unwrap();
        assert_eq!(quarantine_key(&q, Scheme::Azure, "c", "a/b.txt"), "held/az/c/a/b.txt");
    }
}
