//! `dlp-worker findings`, `audit` and `restore`: read the state store, and put quarantined
//! objects back.

use crate::actions::store::{Bucket, Precondition};
use crate::config::{state_spec, RemoteConfig};
use crate::source::filter::parse_since;
use crate::source::remote::Target;
use crate::state::{self, ActionQuery, ActionRow, FindingQuery, State};
use crate::{NetArgs, StateArgs};
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use serde::Serialize;
use std::io::Write;
use std::process::ExitCode;

/// Output formats of `findings` and `audit`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryFormat {
    /// Aligned columns.
    Table,
    /// A JSON array.
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

/// `dlp-worker findings`.
#[derive(Args, Debug)]
pub struct FindingsArgs {
    #[command(flatten)]
    pub state: StateArgs,
    /// Only findings in objects under this bucket or prefix: `s3://bucket`,
    /// `s3://bucket/prefix`, or a local path prefix.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Only these info types (repeatable).
    #[arg(long = "info-type", value_name = "INFO_TYPE")]
    pub info_types: Vec<String>,
    /// Only findings at or above this likelihood.
    #[arg(long, value_name = "LEVEL")]
    pub min_likelihood: Option<dlp_core::Likelihood>,
    /// Only findings recorded since: 2026-11-01, an RFC 3339 time, or an age (36h, 7d).
    #[arg(long, value_name = "TIME", value_parser = parse_since)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only findings recorded before this time.
    #[arg(long, value_name = "TIME", value_parser = parse_since)]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// Only findings of this run (its id is in `dlp-worker audit` and the runs table).
    #[arg(long, value_name = "RUN_ID")]
    pub run: Option<String>,
    /// At most this many rows: the newest, shown oldest first.
    #[arg(long, default_value_t = 1000)]
    pub limit: u32,
    #[arg(long, value_enum, default_value = "table")]
    pub format: QueryFormat,
}

/// `dlp-worker audit`.
#[derive(Args, Debug)]
pub struct AuditArgs {
    #[command(flatten)]
    pub state: StateArgs,
    /// Only actions on objects whose URL starts with this.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Only this action: alert, tag, quarantine, delete, restore.
    #[arg(long)]
    pub action: Option<String>,
    /// Only this outcome: pending, done, skipped, failed, dry_run.
    #[arg(long)]
    pub status: Option<String>,
    /// Only actions since: a date, an RFC 3339 time, or an age (36h, 7d).
    #[arg(long, value_name = "TIME", value_parser = parse_since)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    #[arg(long, default_value_t = 1000)]
    pub limit: u32,
    #[arg(long, value_enum, default_value = "table")]
    pub format: QueryFormat,
}

/// `dlp-worker restore`.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The original URLs of quarantined objects (as in findings and the audit log).
    #[arg(required = true, value_name = "URL")]
    pub objects: Vec<String>,
    /// Show what would be restored, and restore nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub state: StateArgs,
    #[command(flatten)]
    pub net: NetArgs,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the I/O runtime")
}

async fn open(a: &StateArgs) -> Result<State> {
    let spec = state_spec(a)?.ok_or_else(|| anyhow!("--no-state: there is no state store to read"))?;
    State::open(&spec).await
}

fn time_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// One CSV field, quoted when it needs to be.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn write_rows<T: Serialize>(
    format: QueryFormat,
    header: &[&str],
    rows: &[T],
    cells: impl Fn(&T) -> Vec<String>,
) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match format {
        QueryFormat::Json => {
            serde_json::to_writer_pretty(&mut out, rows)?;
            writeln!(out)?;
        }
        QueryFormat::Csv => {
            writeln!(out, "{}", header.join(","))?;
            for r in rows {
                let c: Vec<String> = cells(r).iter().map(|c| csv_field(c)).collect();
                writeln!(out, "{}", c.join(","))?;
            }
        }
        QueryFormat::Table => {
            let table: Vec<Vec<String>> = rows.iter().map(&cells).collect();
            let widths: Vec<usize> = (0..header.len())
                .map(|i| {
                    table
                        .iter()
                        .map(|r| r[i].chars().count())
                        .chain([header[i].len()])
                        .max()
                        .unwrap_or(0)
                        .min(60)
                })
                .collect();
            let line = |cells: Vec<String>| {
                let n = cells.len();
                cells
                    .into_iter()
                    .enumerate()
                    .map(|(i, c)| if i + 1 == n { c } else { format!("{c:w$}", w = widths[i]) })
                    .collect::<Vec<_>>()
                    .join("  ")
            };
            writeln!(out, "{}", line(header.iter().map(|h| h.to_string()).collect()))?;
            for r in table {
                writeln!(out, "{}", line(r))?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// Splits `s3://bucket/prefix` into the store column and a key prefix; a local path is a
/// key prefix of the `file` store.
pub(super) fn target_filter(t: &str) -> Result<(String, Option<String>)> {
    match Target::parse(t) {
        Some(Ok(t)) => Ok((t.bucket_url(), (!t.prefix.is_empty()).then(|| t.prefix.clone()))),
        Some(Err(e)) => bail!("--target: {e}"),
        None => Ok(("file".into(), Some(t.to_string()))),
    }
}

pub fn findings(a: FindingsArgs) -> Result<ExitCode> {
    let (store, key_prefix) = match &a.target {
        Some(t) => {
            let (s, p) = target_filter(t)?;
            (Some(s), p)
        }
        None => (None, None),
    };
    let q = FindingQuery {
        store,
        key_prefix,
        info_types: a.info_types.clone(),
        min_likelihood: a.min_likelihood.map(|l| l as i64),
        since: a.since.map(|t| t.timestamp_millis()),
        until: a.until.map(|t| t.timestamp_millis()),
        run: a.run.clone(),
        limit: i64::from(a.limit),
        before_id: None,
    };
    let rows = runtime()?.block_on(async { open(&a.state).await?.findings(&q).await })?;
    write_rows(
        a.format,
        &[
            "FOUND_AT",
            "OBJECT",
            "VERSION",
            "PATH",
            "LINE",
            "INFO_TYPE",
            "LIKELIHOOD",
            "REDACTED",
            "FINGERPRINT",
        ],
        &rows,
        |f| {
            vec![
                time_text(f.found_at),
                f.object.clone(),
                f.version.clone().unwrap_or_default(),
                f.path.clone(),
                f.line.map(|l| l.to_string()).unwrap_or_default(),
                f.info_type.clone(),
                f.likelihood.clone(),
                f.redacted.clone(),
                f.fingerprint.chars().take(16).collect(),
            ]
        },
    )?;
    Ok(ExitCode::SUCCESS)
}

pub fn audit(a: AuditArgs) -> Result<ExitCode> {
    let q = ActionQuery {
        url_prefix: a.target.clone(),
        url: None,
        action: a.action.clone(),
        status: a.status.clone(),
        since: a.since.map(|t| t.timestamp_millis()),
        limit: i64::from(a.limit),
    };
    let rows = runtime()?.block_on(async { open(&a.state).await?.actions(&q).await })?;
    write_rows(
        a.format,
        &[
            "STARTED_AT",
            "ACTION",
            "STATUS",
            "OBJECT",
            "VERSION",
            "RULE",
            "ACTOR",
            "DESTINATION",
            "REASON",
            "DETAIL",
        ],
        &rows,
        |r| {
            vec![
                time_text(r.started_at),
                r.action.clone(),
                r.status.clone(),
                r.url.clone(),
                r.version.clone().unwrap_or_default(),
                r.rule.clone(),
                r.actor.clone(),
                r.destination.clone().unwrap_or_default(),
                r.reason.clone(),
                r.detail.clone().unwrap_or_default(),
            ]
        },
    )?;
    Ok(ExitCode::SUCCESS)
}

pub fn restore(a: RestoreArgs) -> Result<ExitCode> {
    let net = RemoteConfig::from_args(&a.net)?.net;
    let rt = runtime()?;
    rt.block_on(async {
        let state = open(&a.state).await?;
        let http = reqwest::Client::builder()
            .connect_timeout(net.connect_timeout)
            .build()
            .context("starting the HTTP client")?;
        let run_id = format!("{}-restore", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
        let mut failed = 0;
        for url in &a.objects {
            match restore_one(&state, &net, &http, url, &run_id, a.dry_run).await {
                Ok(msg) => say!("{msg}"),
                Err(e) => {
                    failed += 1;
                    say!("error: restoring {url}: {e:#}");
                }
            }
        }
        Ok(ExitCode::from(if failed > 0 { 2 } else { 0 }))
    })
}

async fn restore_one(
    state: &State,
    net: &crate::source::credentials::NetConfig,
    http: &reqwest::Client,
    url: &str,
    run_id: &str,
    dry_run: bool,
) -> Result<String> {
    let history = state
        .actions(&ActionQuery { url: Some(url.to_string()), limit: 100_000, ..Default::default() })
        .await?;
    let last = history
        .iter()
        .rev()
        .find(|r| r.status == "done" && (r.action == "quarantine" || r.action == "restore"))
        .ok_or_else(|| {
            anyhow!("the audit log has no quarantine of it (see `dlp-worker audit --target {url}`)")
        })?;
    if last.action == "restore" {
        bail!("it was restored already ({})", time_text(last.started_at));
    }
    let dest = last.destination.clone().ok_or_else(|| anyhow!("the audit log names no quarantine copy"))?;
    let Some(Ok(q)) = Target::parse(&dest) else { bail!("the quarantine copy {dest} is not a bucket URL") };
    let mut row = ActionRow {
        id: 0,
        run_id: run_id.to_string(),
        url: url.to_string(),
        version: last.version.clone(),
        etag: None,
        action: "restore".into(),
        rule: last.rule.clone(),
        reason: format!("restore of the quarantine of {}", time_text(last.started_at)),
        destination: Some(dest.clone()),
        actor: crate::actions::actor(),
        dry_run,
        status: if dry_run { "dry_run".into() } else { "pending".into() },
        detail: None,
        started_at: state::now_ms(),
        finished_at: None,
    };
    if dry_run {
        row.detail = Some(format!("would copy {dest} back to {url}"));
        state.begin_action(&row).await?;
        return Ok(format!("dry run: would restore {url} from {dest}"));
    }
    let id = state.begin_action(&row).await?;
    let result = copy_back(net, http, url, &q).await;
    let (status, detail) = match &result {
        Ok(d) => ("done", d.clone()),
        Err(e) => ("failed", format!("{e:#}")),
    };
    state.end_action(id, status, &detail).await?;
    result.map(|d| format!("restored {url}: {d}"))
}

/// Copies the quarantine copy back (never over an object that is there now), verifies it,
/// then removes the quarantine copy.
async fn copy_back(
    net: &crate::source::credentials::NetConfig,
    http: &reqwest::Client,
    url: &str,
    q: &Target,
) -> Result<String> {
    let qbucket = Bucket::new(Target { prefix: String::new(), ..q.clone() }, net, http.clone())?;
    let Some(meta) = qbucket.head(&q.prefix).await? else {
        bail!("the quarantine copy {} is gone", q.url());
    };
    let pre = Precondition { e_tag: meta.e_tag.clone(), version_id: None };
    let copied = match Target::parse(url) {
        Some(Ok(orig)) => {
            let to = Bucket::new(Target { prefix: String::new(), ..orig.clone() }, net, http.clone())?;
            let copied = qbucket
                .copy_to(&q.prefix, &pre, &to, &orig.prefix, &[], true)
                .await?
                .ok_or_else(|| anyhow!("the quarantine copy changed while it was read; try again"))?;
            if to.checksum(&orig.prefix).await?.as_ref() != Some(&copied) {
                bail!("the restored object does not match the quarantine copy; the copy was kept");
            }
            copied
        }
        Some(Err(e)) => bail!("{e}"),
        None => {
            // The absolute path the file had, recorded with the copy.
            let path = qbucket
                .metadata_of(&q.prefix, "dlp-source-path")
                .await?
                .flatten()
                .unwrap_or_else(|| url.to_string());
            restore_file(&qbucket, &q.prefix, &path).await?
        }
    };
    qbucket.delete_if(&q.prefix, &pre).await?;
    Ok(format!("{} bytes, sha256 {}, verified; quarantine copy removed", copied.size, copied.sha256))
}

/// Writes a quarantined local file back to its path through a temporary file in the same
/// folder, never replacing a file that is there now.
async fn restore_file(qbucket: &Bucket, key: &str, path: &str) -> Result<crate::actions::store::Copied> {
    use futures::StreamExt;
    use object_store::ObjectStoreExt;
    use sha2::{Digest, Sha256};
    let target = std::path::Path::new(path);
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).with_context(|| format!("writing in {}", dir.display()))?;
    let got = qbucket
        .store()
        .get(&object_store::path::Path::from(key))
        .await
        .map_err(|e| anyhow!("reading the quarantine copy: {}", qbucket.describe(&e)))?;
    let mut body = got.into_stream();
    let mut h = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| anyhow!("reading the quarantine copy: {}", qbucket.describe(&e)))?;
        h.update(&chunk);
        size += chunk.len() as u64;
        tmp.write_all(&chunk).context("writing the restored file")?;
    }
    tmp.as_file().sync_all().context("writing the restored file")?;
    tmp.persist_noclobber(target).map_err(|e| anyhow!("{path}: {} (not replaced)", e.error))?;
    Ok(crate::actions::store::Copied { size, sha256: hex::encode(h.finalize()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("a"), "a");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
    }
}
