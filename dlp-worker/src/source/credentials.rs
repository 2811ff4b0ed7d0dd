//! Store clients configured the way each cloud's own tools read their configuration, so
//! that a user's existing setup just works. No secret ever comes from the command line.
//!
//! - **S3**: the `AWS_*` environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!   `AWS_SESSION_TOKEN`, `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`,
//!   `AWS_ENDPOINT_URL_S3`, web identity, ECS/EKS container credentials), then the profile
//!   (`AWS_PROFILE`, else `default`) in `~/.aws/credentials` and `~/.aws/config`
//!   (`AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`), then EC2 instance metadata.
//! - **GCS**: `STORAGE_EMULATOR_HOST` (as Google's client libraries read it), else
//!   `GOOGLE_APPLICATION_CREDENTIALS` / `GOOGLE_SERVICE_ACCOUNT*`, else gcloud's application
//!   default credentials, else the metadata server (workload identity).
//! - **Azure**: `AZURE_STORAGE_CONNECTION_STRING` (as `az storage` reads it), else
//!   `AZURE_STORAGE_ACCOUNT[_NAME]` with `AZURE_STORAGE_KEY`/`AZURE_STORAGE_ACCOUNT_KEY`,
//!   `AZURE_STORAGE_SAS_TOKEN`, a service principal (`AZURE_CLIENT_ID`, …), workload or
//!   managed identity; `AZURE_STORAGE_ENDPOINT` for another endpoint.

use anyhow::{anyhow, bail, Context, Result};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GcpCredential, GoogleCloudStorageBuilder};
use object_store::{BackoffConfig, ClientConfigKey, ObjectStore, RetryConfig, StaticCredentialProvider};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Network settings shared by every store client.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Retries of a failed request (5xx, 429, timeouts, dropped connections).
    pub retries: usize,
    /// Give up retrying a request after this long.
    pub retry_timeout: Duration,
    /// Longest a single request may take.
    pub request_timeout: Duration,
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
}

impl NetConfig {
    fn retry(&self) -> RetryConfig {
        RetryConfig {
            // Randomised ("decorrelated jitter") exponential backoff, 100 ms up to 15 s.
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(15),
                base: 2.0,
            },
            max_retries: self.retries,
            retry_timeout: self.retry_timeout,
        }
    }

    /// `(key, value)` client settings, applied through each builder's `with_config` so
    /// that settings read from the environment (e.g. `AWS_ALLOW_HTTP`) are kept.
    fn client_settings(&self, allow_http: bool) -> Vec<(ClientConfigKey, String)> {
        let secs = |d: Duration| format!("{}ms", d.as_millis().max(1));
        let mut v = vec![
            (ClientConfigKey::Timeout, secs(self.request_timeout)),
            (ClientConfigKey::ConnectTimeout, secs(self.connect_timeout)),
        ];
        if allow_http {
            v.push((ClientConfigKey::AllowHttp, "true".into()));
        }
        v
    }
}

fn is_http(url: &str) -> bool {
    url.trim().to_ascii_lowercase().starts_with("http://")
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A bucket's client: object_store's, kept concrete for the requests object_store has no
/// call for (tags, conditional deletes; see `actions::store`).
#[derive(Debug, Clone)]
pub enum Client {
    S3(Arc<object_store::aws::AmazonS3>),
    Gcs {
        store: Arc<object_store::gcp::GoogleCloudStorage>,
        /// `https://storage.googleapis.com`, or the emulator's URL.
        base_url: String,
    },
    Azure {
        store: Arc<object_store::azure::MicrosoftAzure>,
        account: String,
        /// `https://<account>.blob.core.windows.net`, or the emulator's URL with the account.
        endpoint: String,
    },
}

impl Client {
    /// The generic store.
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        match self {
            Client::S3(s) => s.clone(),
            Client::Gcs { store, .. } => store.clone(),
            Client::Azure { store, .. } => store.clone(),
        }
    }
}

/// The S3 client for `bucket`. Returns the client and the endpoint it talks to (for errors).
pub fn s3(bucket: &str, net: &NetConfig) -> Result<(Client, String)> {
    // object_store's `from_env`, except that a session token without a key id in the
    // environment is ignored, as the AWS CLI ignores it: it belongs to no key in use.
    let mut b = AmazonS3Builder::new();
    let key_in_env = env("AWS_ACCESS_KEY_ID").is_some();
    for (k, v) in std::env::vars() {
        if !k.starts_with("AWS_") || (k == "AWS_SESSION_TOKEN" && !key_in_env) {
            continue;
        }
        if let Ok(key) = k.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
            b = b.with_config(key, v);
        }
    }
    let mut b = b.with_bucket_name(bucket);
    let profile = aws_profile().context("reading the AWS profile")?;
    // The AWS CLI's order: AWS_REGION, then AWS_DEFAULT_REGION, then the profile's region.
    let region = env("AWS_REGION")
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| profile.as_ref().and_then(|p| p.get("region").cloned()));
    if let Some(region) = region {
        b = b.with_region(region);
    }
    // The AWS CLI's order: environment keys, then web identity (EKS), then the profile.
    let web_identity = env("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() && env("AWS_ROLE_ARN").is_some();
    if !key_in_env && !web_identity {
        if let Some(p) = &profile {
            if let (Some(id), Some(secret)) = (p.get("aws_access_key_id"), p.get("aws_secret_access_key")) {
                b = b.with_access_key_id(id).with_secret_access_key(secret);
                if let Some(token) = p.get("aws_session_token") {
                    b = b.with_token(token);
                }
            }
        }
    }
    let endpoint = env("AWS_ENDPOINT_URL_S3")
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .or_else(|| env("AWS_ENDPOINT"))
        .or_else(|| profile.as_ref().and_then(|p| p.get("endpoint_url").cloned()));
    if let Some(e) = &endpoint {
        b = b.with_endpoint(e);
    }
    let allow_http = endpoint.as_deref().is_some_and(is_http);
    for (k, v) in net.client_settings(allow_http) {
        b = b.with_config(AmazonS3ConfigKey::Client(k), v);
    }
    let shown = endpoint.unwrap_or_else(|| "AWS S3".into());
    let store =
        b.with_retry(net.retry()).build().with_context(|| format!("configuring S3 for s3://{bucket}"))?;
    Ok((Client::S3(Arc::new(store)), shown))
}

/// The settings of the AWS profile in use: `AWS_PROFILE` (or `AWS_DEFAULT_PROFILE`), else
/// `default`, merged from the credentials file and the config file (credentials win). None
/// when neither file has it and no profile was named.
fn aws_profile() -> Result<Option<HashMap<String, String>>> {
    let named = env("AWS_PROFILE").or_else(|| env("AWS_DEFAULT_PROFILE"));
    let name = named.clone().unwrap_or_else(|| "default".into());
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let file =
        |var: &str, rel: &str| env(var).map(PathBuf::from).or_else(|| home.as_ref().map(|h| h.join(rel)));
    let mut merged: Option<HashMap<String, String>> = None;
    let config_section = if name == "default" { "default".to_string() } else { format!("profile {name}") };
    let sources = [
        (file("AWS_CONFIG_FILE", ".aws/config"), config_section),
        (file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"), name.clone()),
    ];
    for (path, section) in sources {
        let Some(path) = path else { continue };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        if let Some(values) = ini_section(&text, &section) {
            merged.get_or_insert_with(HashMap::new).extend(values);
        }
    }
    let Some(p) = merged else {
        if let Some(n) = named {
            bail!(
                "the AWS profile {n:?} (from AWS_PROFILE) is in neither ~/.aws/credentials nor ~/.aws/config; \
                 create it with `aws configure --profile {n}` or unset AWS_PROFILE"
            );
        }
        return Ok(None);
    };
    if !p.contains_key("aws_access_key_id") {
        for key in ["role_arn", "sso_session", "sso_start_url", "credential_process", "source_profile"] {
            if p.contains_key(key) && env("AWS_ACCESS_KEY_ID").is_none() {
                bail!(
                    "the AWS profile {name:?} gets credentials through `{key}`, which dlp-worker does not run; \
                     export them first: eval \"$(aws configure export-credentials --profile {name} --format env)\""
                );
            }
        }
    }
    Ok(Some(p))
}

/// The `key = value` pairs of `[section]` in an INI file (the AWS files' format: `#` and
/// `;` comments, indented lines continue nested settings and are skipped).
fn ini_section(text: &str, section: &str) -> Option<HashMap<String, String>> {
    let mut found: Option<HashMap<String, String>> = None;
    let mut inside = false;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            inside = name == section;
            if inside {
                found.get_or_insert_with(HashMap::new);
            }
            continue;
        }
        if !inside || raw.starts_with([' ', '\t']) {
            continue;
        }
        if let (Some(map), Some((k, v))) = (found.as_mut(), line.split_once('=')) {
            map.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    found
}

/// The GCS client for `bucket`, and the endpoint it talks to.
pub fn gcs(bucket: &str, net: &NetConfig) -> Result<(Client, String)> {
    let mut b = GoogleCloudStorageBuilder::from_env().with_bucket_name(bucket);
    let mut shown = "Google Cloud Storage".to_string();
    let mut allow_http = false;
    let mut base_url = "https://storage.googleapis.com".to_string();
    if let Some(host) = env("STORAGE_EMULATOR_HOST") {
        let url = if host.contains("://") { host } else { format!("http://{host}") };
        allow_http = is_http(&url);
        // An emulator takes no token. Explicit empty credentials also keep the client from
        // asking the cloud metadata server for one.
        b = b.with_base_url(url.trim_end_matches('/')).with_credentials(Arc::new(
            StaticCredentialProvider::new(GcpCredential { bearer: String::new() }),
        ));
        base_url = url.trim_end_matches('/').to_string();
        shown = url;
    }
    for (k, v) in net.client_settings(allow_http) {
        b = b.with_config(object_store::gcp::GoogleConfigKey::Client(k), v);
    }
    let store = b.with_retry(net.retry()).build().with_context(|| {
        format!("configuring GCS for gs://{bucket} (set GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default login`)")
    })?;
    Ok((Client::Gcs { store: Arc::new(store), base_url }, shown))
}

/// The Azure Blob client for `container`, and the endpoint it talks to.
pub fn azure(container: &str, net: &NetConfig) -> Result<(Client, String)> {
    let mut b = MicrosoftAzureBuilder::from_env().with_container_name(container);
    let mut endpoint = env("AZURE_STORAGE_ENDPOINT");
    if let Some(cs) = env("AZURE_STORAGE_CONNECTION_STRING") {
        let c = connection_string(&cs)?;
        // As `az storage` does, the connection string alone decides: no key or service
        // principal from the environment may take precedence over its SAS.
        b = MicrosoftAzureBuilder::new().with_container_name(container).with_account(&c.account);
        if let Some(key) = c.key {
            b = b.with_access_key(key);
        }
        if let Some(sas) = c.sas {
            b = b.with_config(AzureConfigKey::SasKey, sas);
        }
        endpoint = Some(c.blob_endpoint);
    } else {
        // The names `az storage` reads, beside object_store's own.
        if env("AZURE_STORAGE_ACCOUNT_NAME").is_none() {
            if let Some(a) = env("AZURE_STORAGE_ACCOUNT") {
                b = b.with_account(a);
            }
        }
        if env("AZURE_STORAGE_ACCOUNT_KEY").is_none() && env("AZURE_STORAGE_ACCESS_KEY").is_none() {
            if let Some(k) = env("AZURE_STORAGE_KEY") {
                b = b.with_access_key(k);
            }
        }
    }
    if env("AZURE_STORAGE_ACCOUNT_NAME").is_none()
        && env("AZURE_STORAGE_ACCOUNT").is_none()
        && env("AZURE_STORAGE_CONNECTION_STRING").is_none()
        && env("AZURE_STORAGE_USE_EMULATOR").is_none()
    {
        bail!(
            "az://{container}: no storage account; set AZURE_STORAGE_ACCOUNT (and AZURE_STORAGE_KEY, \
             AZURE_STORAGE_SAS_TOKEN or a login), or AZURE_STORAGE_CONNECTION_STRING"
        );
    }
    if let Some(e) = &endpoint {
        b = b.with_endpoint(e.clone());
    }
    for (k, v) in net.client_settings(endpoint.as_deref().is_some_and(is_http)) {
        b = b.with_config(AzureConfigKey::Client(k), v);
    }
    let account = b.get_config_value(&AzureConfigKey::AccountName).unwrap_or_default();
    let blob_endpoint = match &endpoint {
        Some(e) => e.trim_end_matches('/').to_string(),
        None if env("AZURE_STORAGE_USE_EMULATOR").is_some_and(|v| v == "true" || v == "1") => {
            format!("http://127.0.0.1:10000/{account}")
        }
        None => format!("https://{account}.blob.core.windows.net"),
    };
    let shown = endpoint.unwrap_or_else(|| "Azure Blob Storage".into());
    let store = b
        .with_retry(net.retry())
        .build()
        .with_context(|| format!("configuring Azure Blob for az://{container}"))?;
    Ok((Client::Azure { store: Arc::new(store), account, endpoint: blob_endpoint }, shown))
}

/// The parts of an Azure Storage connection string dlp-worker uses.
#[derive(Debug, PartialEq)]
struct ConnectionString {
    account: String,
    key: Option<String>,
    sas: Option<String>,
    blob_endpoint: String,
}

/// Azurite's well-known development account, as `UseDevelopmentStorage=true` means it.
const DEV_ACCOUNT: &str = "devstoreaccount1";
const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn connection_string(cs: &str) -> Result<ConnectionString> {
    let mut kv = HashMap::new();
    for part in cs.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| anyhow!("AZURE_STORAGE_CONNECTION_STRING: {part:?} is not Name=Value"))?;
        kv.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    if kv.get("usedevelopmentstorage").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(ConnectionString {
            account: DEV_ACCOUNT.into(),
            key: Some(DEV_KEY.into()),
            sas: None,
            blob_endpoint: format!("http://127.0.0.1:10000/{DEV_ACCOUNT}"),
        });
    }
    let account = kv.get("accountname").cloned();
    let blob_endpoint = match (kv.get("blobendpoint"), &account) {
        (Some(e), _) => e.trim_end_matches('/').to_string(),
        (None, Some(a)) => {
            let proto = kv.get("defaultendpointsprotocol").map_or("https", String::as_str);
            let suffix = kv.get("endpointsuffix").map_or("core.windows.net", String::as_str);
            format!("{proto}://{a}.blob.{suffix}")
        }
        (None, None) => bail!("AZURE_STORAGE_CONNECTION_STRING has neither AccountName nor BlobEndpoint"),
    };
    let account = match account {
        Some(a) => a,
        // A SAS-only string names the account in the endpoint's host or path.
        None => account_from_endpoint(&blob_endpoint).ok_or_else(|| {
            anyhow!(
                "AZURE_STORAGE_CONNECTION_STRING: no AccountName, and none in BlobEndpoint {blob_endpoint}"
            )
        })?,
    };
    let key = kv.get("accountkey").cloned();
    let sas = kv.get("sharedaccesssignature").cloned();
    if key.is_none() && sas.is_none() {
        bail!("AZURE_STORAGE_CONNECTION_STRING has neither AccountKey nor SharedAccessSignature");
    }
    Ok(ConnectionString { account, key, sas, blob_endpoint })
}

fn account_from_endpoint(endpoint: &str) -> Option<String> {
    let rest = endpoint.split_once("://")?.1;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if let Some(acct) = host.split('.').next().filter(|_| host.contains(".blob.")) {
        return Some(acct.to_string());
    }
    path.split('/').next().filter(|p| !p.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini() {
        let text = "[default]\naws_access_key_id = A\n\n[profile dev]\nregion=eu-west-1\ns3 =\n  max_concurrent_requests = 5\nendpoint_url = http://x\n# c\n[other]\nregion = no\n";
        let d = ini_section(text, "default").unwrap();
        assert_eq!(d.get("aws_access_key_id").map(String::as_str), Some("A"));
        let dev = ini_section(text, "profile dev").unwrap();
        assert_eq!(dev.get("region").map(String::as_str), Some("eu-west-1"));
        assert_eq!(dev.get("endpoint_url").map(String::as_str), Some("http://x"));
        assert!(!dev.contains_key("max_concurrent_requests"));
        assert!(ini_section(text, "profile missing").is_none());
    }

    #[test]
    fn connection_strings() {
        let c = connection_string("DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=a2V5==;BlobEndpoint=http://127.0.0.1:10000/acct/;").unwrap();
        assert_eq!(c.account, "acct");
        assert_eq!(c.key.as_deref(), Some("a2V5=="));
        assert_eq!(c.blob_endpoint, "http://127.0.0.1:10000/acct");
        let c =
            connection_string("AccountName=prod;AccountKey=k;EndpointSuffix=core.chinacloudapi.cn").unwrap();
        assert_eq!(c.blob_endpoint, "https://prod.blob.core.chinacloudapi.cn");
        let c = connection_string(
            "BlobEndpoint=https://sas1.blob.core.windows.net;SharedAccessSignature=sv=1&sig=x",
        )
        .unwrap();
        assert_eq!((c.account.as_str(), c.sas.as_deref()), ("sas1", Some("sv=1&sig=x")));
        let dev = connection_string("UseDevelopmentStorage=true").unwrap();
        assert_eq!(dev.account, DEV_ACCOUNT);
        assert!(connection_string("AccountName=a").is_err());
        assert!(connection_string("garbage").is_err());
    }
}
