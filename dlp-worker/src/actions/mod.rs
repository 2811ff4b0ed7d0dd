//! Actions: what a policy does to an object once it is scanned. Every action is written to
//! the audit log (the state store's `actions` table) before it starts (`pending`) and again
//! with its outcome (`done`, `skipped`, `failed`), so a worker killed mid-action leaves a
//! record that the next run finishes ([`Actions::recover`]). Destructive actions touch only
//! the version that was scanned.

pub mod alert;
pub mod store;

use crate::output::Record;
use crate::policy::{Action, Decision, ObjectFacts, Policy};
use crate::source::credentials::NetConfig;
use crate::source::remote::{Scheme, Target};
use crate::source::ObjectRef;
use crate::state::{self, ActionRow, ObjectRow, State};
use anyhow::{anyhow, bail, Context, Result};
use dlp_core::Category;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use store::{Bucket, Deleted, Precondition};

/// An object whose scan has ended, with what was found.
pub struct ObjectDone {
    pub obj: ObjectRef,
    /// Its findings, up to [`state::MAX_STORED_FINDINGS`].
    pub records: Vec<Record>,
    /// All findings per info type and likelihood.
    pub counts: BTreeMap<String, (Category, [u64; 5])>,
    pub findings: u64,
    pub error: Option<String>,
}

/// Run-wide settings of the actions.
pub struct Settings {
    pub run_id: String,
    pub ruleset_hash: String,
    pub dry_run: bool,
    pub allow_delete: bool,
    pub net: NetConfig,
    /// With claims (listen), this worker's name in them: objects are recorded only under
    /// its claim.
    pub worker: Option<String>,
}

/// Records scanned objects and applies the policy to them.
pub struct Actions {
    pub state: Option<State>,
    policy: Option<Arc<Policy>>,
    settings: Settings,
    actor: String,
    http: reqwest::Client,
    buckets: tokio::sync::Mutex<HashMap<String, Arc<Bucket>>>,
    alerts: Option<alert::Alerts>,
    gate: Option<std::path::PathBuf>,
    /// Actions taken (or, dry, that would be).
    pub taken: AtomicU64,
    /// Actions that failed, and state writes that failed.
    pub failed: AtomicU64,
}

/// `user@host`, for the audit log.
pub fn actor() -> String {
    let host = whoami::fallible::hostname().unwrap_or_else(|_| "unknown-host".into());
    format!("{}@{host}", whoami::username())
}

/// The outcome of one action.
enum Outcome {
    Done(String),
    Skipped(String),
}

impl Actions {
    pub fn new(state: Option<State>, policy: Option<Arc<Policy>>, settings: Settings) -> Result<Actions> {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.net.connect_timeout)
            .build()
            .context("starting the HTTP client")?;
        let alerts = match &policy {
            Some(p) if p.rules.iter().any(|r| r.actions.contains(&Action::Alert)) => {
                Some(alert::Alerts::new(&p.alert, http.clone())?)
            }
            _ => None,
        };
        Ok(Actions {
            state,
            policy,
            settings,
            actor: actor(),
            http,
            buckets: tokio::sync::Mutex::new(HashMap::new()),
            alerts,
            gate: std::env::var_os("DLP_TEST_ACTION_GATE").map(std::path::PathBuf::from),
            taken: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        })
    }

    /// A line for stderr, printed at once (a dry run over many objects prints many).
    fn say(&self, line: String) {
        say!("{line}");
    }

    /// The client of the bucket a target names, made once per run.
    async fn bucket(&self, target: &Target) -> Result<Arc<Bucket>> {
        let key = target.bucket_url();
        let mut buckets = self.buckets.lock().await;
        if let Some(b) = buckets.get(&key) {
            return Ok(b.clone());
        }
        let b = Arc::new(Bucket::new(
            Target { prefix: String::new(), ..target.clone() },
            &self.settings.net,
            self.http.clone(),
        )?);
        buckets.insert(key, b.clone());
        Ok(b)
    }

    /// Records a batch of scanned objects in the state store, in one transaction; per
    /// object, whether it was recorded, so that the policy may act on it: not when its claim
    /// is gone, nor, with claims, when recording failed (its event is received again).
    pub async fn record(&self, batch: &[ObjectDone]) -> Vec<bool> {
        let Some(state) = &self.state else { return vec![true; batch.len()] };
        let rows: Vec<(ObjectRow, &[Record])> = batch
            .iter()
            .map(|d| {
                let row = ObjectRow {
                    run_id: self.settings.run_id.clone(),
                    store: d.obj.store_name(),
                    key: d.obj.key.clone(),
                    url: d.obj.name.clone(),
                    version: d.obj.version.clone(),
                    size: d.obj.size.map(|s| s as i64),
                    scanned_at: state::now_ms(),
                    ruleset_hash: self.settings.ruleset_hash.clone(),
                    outcome: if d.error.is_some() {
                        "error"
                    } else if d.findings > 0 {
                        "findings"
                    } else {
                        "clean"
                    },
                    findings: d.findings as i64,
                    error: d.error.clone(),
                    etag: state::change_token(
                        d.obj.e_tag.as_deref(),
                        d.obj.version_id.as_deref(),
                        d.obj.size,
                        d.obj.last_modified,
                    ),
                };
                (row, d.records.as_slice())
            })
            .collect();
        let worker = self.settings.worker.as_deref();
        match state.record_objects(&rows, worker).await {
            Ok(recorded) => {
                for (d, _) in batch.iter().zip(&recorded).filter(|(_, r)| !**r) {
                    self.say(format!(
                        "{}: not recorded: its claim is gone (another worker took it over, or another version was read)",
                        d.obj.name
                    ));
                }
                recorded
            }
            Err(e) => {
                self.failed.fetch_add(batch.len() as u64, Ordering::Relaxed);
                let first = batch.first().map_or("", |d| d.obj.name.as_str());
                self.say(format!(
                    "error: recording {} objects ({first}, ...) in the state store {}: {e:#}",
                    batch.len(),
                    state.shown
                ));
                vec![worker.is_none(); batch.len()]
            }
        }
    }

    /// The run these actions belong to.
    pub fn run_id(&self) -> &str {
        &self.settings.run_id
    }

    /// Whether the policy may act on this object (it has findings and there is a policy).
    pub fn wants(&self, d: &ObjectDone) -> bool {
        self.policy.is_some() && d.findings > 0
    }

    /// Applies the policy to a recorded object.
    pub async fn act(&self, d: ObjectDone) {
        let Some(policy) = self.policy.clone() else { return };
        if d.findings == 0 {
            return;
        }
        let facts = ObjectFacts {
            url: d.obj.name.clone(),
            size: d.obj.size,
            content_type: d.obj.content_type.clone(),
            last_modified: d.obj.last_modified,
            counts: d.counts,
        };
        if let Some(decision) = policy.decide(&facts, chrono::Utc::now()) {
            if let Some(gate) = &self.gate {
                // Test hook (DLP_TEST_ACTION_GATE): hold actions until the file exists, so a
                // test can change an object between its scan and the actions on it.
                while !gate.exists() {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
            self.apply(&policy, &decision, &d.obj, &d.records, d.findings).await;
        }
    }

    async fn apply(
        &self,
        policy: &Policy,
        decision: &Decision<'_>,
        obj: &ObjectRef,
        records: &[Record],
        total: u64,
    ) {
        let rule = decision.rule;
        for action in &rule.actions {
            match action {
                Action::Alert => {
                    let Some(alerts) = &self.alerts else { continue };
                    let payload = alert::payload(
                        &self.settings.run_id,
                        obj,
                        decision,
                        records,
                        total,
                        self.settings.dry_run,
                    );
                    for sink in alerts.sinks() {
                        let dest = sink.describe();
                        self.audited(
                            obj,
                            "alert",
                            decision,
                            Some(dest.clone()),
                            format!("would alert {dest}"),
                            async {
                                alerts
                                    .send(sink, &payload)
                                    .await
                                    .map(|()| Outcome::Done(format!("sent to {dest}")))
                            },
                        )
                        .await;
                    }
                }
                Action::Tag => {
                    let tags = vec![
                        (policy.tag.classification_key.clone(), rule.classification.clone()),
                        (policy.tag.info_types_key.clone(), tag_value(&decision.info_types.join("+"))),
                    ];
                    let shown: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    let shown = shown.join(", ");
                    self.audited(obj, "tag", decision, None, format!("would tag {shown}"), async {
                        let Some(target) = &obj.bucket else {
                            return Ok(Outcome::Skipped("local files have no tags".into()));
                        };
                        let bucket = self.bucket(target).await?;
                        bucket.set_tags(&obj.key, &precondition(obj), &tags).await?;
                        Ok(Outcome::Done(format!("tagged {shown}")))
                    })
                    .await;
                }
                Action::Redact => {
                    let dest = redact_destination(policy, obj);
                    let what = format!("would write a redacted copy to {dest}");
                    self.audited(obj, "redact", decision, Some(dest.clone()), what, async {
                        self.redact(policy, obj, records, total, &dest).await
                    })
                    .await;
                }
                Action::Quarantine => {
                    let Some(q) = &policy.quarantine else { continue };
                    let Some(Ok(location)) = Target::parse(&q.location) else { continue };
                    let dest = match &obj.bucket {
                        Some(t) => {
                            location.url_of(&store::quarantine_key(&location, t.scheme, &t.bucket, &obj.key))
                        }
                        None => location.url_of(&local_quarantine_key(&location, &obj.key)),
                    };
                    let what = format!("would quarantine to {dest}");
                    self.audited(obj, "quarantine", decision, Some(dest.clone()), what, async {
                        self.quarantine(obj, &location, &dest, &rule.name, &decision.reason).await
                    })
                    .await;
                }
                Action::Delete => {
                    let what = "would delete".to_string();
                    if !self.settings.allow_delete && !self.settings.dry_run {
                        // Checked at start-up too; kept here so no path deletes without it.
                        self.audited(obj, "delete", decision, None, what, async {
                            Ok(Outcome::Skipped("--allow-delete was not given".into()))
                        })
                        .await;
                        continue;
                    }
                    self.audited(obj, "delete", decision, None, what, async { self.delete(obj).await }).await;
                }
            }
        }
    }

    /// Writes the audit row, runs `act` (unless dry), records its outcome.
    async fn audited<F>(
        &self,
        obj: &ObjectRef,
        action: &str,
        decision: &Decision<'_>,
        destination: Option<String>,
        dry_text: String,
        act: F,
    ) where
        F: std::future::Future<Output = Result<Outcome>>,
    {
        let dry = self.settings.dry_run;
        let mut row = ActionRow {
            id: 0,
            run_id: self.settings.run_id.clone(),
            url: obj.name.clone(),
            version: obj.version.clone(),
            etag: obj.e_tag.clone(),
            action: action.into(),
            rule: decision.rule.name.clone(),
            reason: decision.reason.clone(),
            destination,
            actor: self.actor.clone(),
            dry_run: dry,
            status: if dry { "dry_run".into() } else { "pending".into() },
            detail: dry.then(|| dry_text.clone()),
            started_at: state::now_ms(),
            finished_at: dry.then(state::now_ms),
        };
        self.taken.fetch_add(1, Ordering::Relaxed);
        let id = match &self.state {
            Some(s) => match s.begin_action(&row).await {
                Ok(id) => Some(id),
                Err(e) => {
                    // No audit record, no action.
                    self.failed.fetch_add(1, Ordering::Relaxed);
                    self.say(format!("error: {action} {}: not taken: {e:#}", obj.name));
                    return;
                }
            },
            None => None,
        };
        if dry {
            self.say(format!(
                "dry run: {dry_text}: {} (rule {}: {})",
                obj.name, decision.rule.name, decision.reason
            ));
            return;
        }
        let (status, detail) = match act.await {
            Ok(Outcome::Done(d)) => ("done", d),
            Ok(Outcome::Skipped(d)) => {
                self.say(format!("{action} {}: skipped: {d}", obj.name));
                ("skipped", d)
            }
            Err(e) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let d = format!("{e:#}");
                self.say(format!("error: {action} {}: {d}", obj.name));
                ("failed", d)
            }
        };
        row.status = status.into();
        if let (Some(s), Some(id)) = (&self.state, id) {
            if let Err(e) = s.end_action(id, status, &detail).await {
                self.failed.fetch_add(1, Ordering::Relaxed);
                self.say(format!(
                    "error: {action} {} was {status} but the audit log could not say so: {e:#}",
                    obj.name
                ));
            }
        }
    }

    /// Copies the object to quarantine, verifies the copy, then deletes the original only if
    /// it is still the scanned version.
    async fn quarantine(
        &self,
        obj: &ObjectRef,
        location: &Target,
        dest: &str,
        rule: &str,
        reason: &str,
    ) -> Result<Outcome> {
        let to = self.bucket(location).await?;
        let dest_key = dest.strip_prefix(&format!("{}/", location.bucket_url())).unwrap_or(dest).to_string();
        // Azure metadata names must be identifiers (`dlp_source`); S3 and GCS keep the usual
        // `dlp-source` (some S3 servers turn `_` in header names into `-`).
        let extra = [
            ("dlp-source", obj.name.clone()),
            ("dlp-source-version", obj.version.clone().unwrap_or_default()),
            ("dlp-rule", rule.to_string()),
            ("dlp-reason", reason.to_string()),
            ("dlp-quarantined-at", chrono::Utc::now().to_rfc3339()),
        ];
        let names: Vec<String> = extra
            .iter()
            .map(|(k, _)| if location.scheme == Scheme::Azure { k.replace('-', "_") } else { k.to_string() })
            .collect();
        let extra: Vec<(&str, String)> =
            extra.iter().zip(&names).map(|((_, v), k)| (k.as_str(), header_safe(v))).collect();
        let Some(target) = &obj.bucket else {
            let abs = std::fs::canonicalize(&obj.key).with_context(|| format!("reading {}", obj.key))?;
            let path_name =
                if location.scheme == Scheme::Azure { "dlp_source_path" } else { "dlp-source-path" };
            let mut extra = extra.clone();
            let abs = header_safe(&abs.to_string_lossy());
            extra.push((path_name, abs));
            return local::quarantine(obj, &to, &dest_key, &extra).await;
        };
        let from = self.bucket(target).await?;
        let pre = precondition(obj);
        let version = obj.version.clone().unwrap_or_default();
        let changed = || {
            Outcome::Skipped("the object changed or was deleted since it was scanned; not quarantined".into())
        };
        // Never over another quarantined version: a copy at the destination must be this
        // version's (left by an interrupted attempt); then it is verified like a new one.
        let copied = match to.source_version_of(&dest_key).await? {
            Some(v) if v.as_deref() != Some(version.as_str()) => bail!(
                "{dest} holds another quarantined version ({}); restore or remove it first; the original was left in place",
                v.as_deref().unwrap_or("unknown")
            ),
            Some(_) => match from.checksum_if(&obj.key, &pre).await? {
                Some(c) => c,
                None => return Ok(changed()),
            },
            None => match from.copy_to(&obj.key, &pre, &to, &dest_key, &extra, true).await? {
                Some(c) => c,
                None => return Ok(changed()),
            },
        };
        match to.checksum(&dest_key).await? {
            Some(c) if c == copied => {}
            Some(c) => bail!(
                "the quarantine copy {dest} does not match the original ({} bytes, sha256 {} vs {} bytes, sha256 {}); the original was left in place",
                c.size, c.sha256, copied.size, copied.sha256
            ),
            None => bail!("the quarantine copy {dest} is missing after writing it; the original was left in place"),
        }
        match from.delete_if(&obj.key, &pre).await? {
            Deleted::Yes | Deleted::Gone => Ok(Outcome::Done(format!(
                "copied to {dest} ({} bytes, sha256 {}), verified, original deleted",
                copied.size, copied.sha256
            ))),
            Deleted::Changed => {
                // Overwritten between the copy and the delete: the new bytes were not scanned,
                // so they stay; the copy of the old bytes goes.
                let removed = to.delete_if(&dest_key, &Precondition::default()).await;
                Ok(Outcome::Skipped(format!(
                    "the object was overwritten after it was scanned; left in place{}",
                    match removed {
                        Ok(_) => ", and the quarantine copy removed".to_string(),
                        Err(e) => format!("; removing the quarantine copy {dest} failed: {e:#}"),
                    }
                )))
            }
        }
    }

    /// Writes the object with each finding replaced by `[INFO_TYPE]`, beside it or over it
    /// (only if unchanged since the scan). Only objects whose findings lie in their own bytes
    /// (plain text, not archive members or documents) can be redacted this way.
    async fn redact(
        &self,
        policy: &Policy,
        obj: &ObjectRef,
        records: &[Record],
        total: u64,
        dest: &str,
    ) -> Result<Outcome> {
        if total as usize > records.len() {
            return Ok(Outcome::Skipped(format!(
                "{total} findings; only objects with at most {} can be redacted",
                state::MAX_STORED_FINDINGS
            )));
        }
        if obj.size.is_some_and(|s| s > policy.redact_max) {
            return Ok(Outcome::Skipped(format!(
                "larger than [redact] max_size ({})",
                policy.redact.max_size
            )));
        }
        if records.iter().any(|r| r.location.path != obj.base_name || r.location.page.is_some()) {
            return Ok(Outcome::Skipped(
                "findings inside archive members or documents; redact rewrites plain-text objects only"
                    .into(),
            ));
        }
        let replace = policy.redact.mode == "replace";
        let changed = || Ok(Outcome::Skipped("the object changed since it was scanned; not redacted".into()));
        let Some(target) = &obj.bucket else {
            if !local::unchanged(obj)? {
                return changed();
            }
            let data = std::fs::read(&obj.key).with_context(|| format!("reading {}", obj.key))?;
            let Some(out) = redact_bytes(&data, records) else { return Ok(not_plain_text()) };
            let path = if replace { obj.key.clone() } else { format!("{}{}", obj.key, policy.redact.suffix) };
            if replace && !local::unchanged(obj)? {
                return changed();
            }
            local::write_file(&path, &out)?;
            return Ok(Outcome::Done(format!("{} findings replaced; written to {path}", records.len())));
        };
        let bucket = self.bucket(target).await?;
        let pre = precondition(obj);
        let Some(got) = bucket.read_all(&obj.key, &pre, policy.redact_max).await? else { return changed() };
        let Some(out) = redact_bytes(&got.bytes, records) else { return Ok(not_plain_text()) };
        let dest_key = if replace { obj.key.clone() } else { format!("{}{}", obj.key, policy.redact.suffix) };
        let mode = if replace {
            object_store::PutMode::Update(object_store::UpdateVersion {
                e_tag: obj.e_tag.clone(),
                version: None,
            })
        } else {
            object_store::PutMode::Overwrite
        };
        let mut attributes = got.attributes;
        let from = if target.scheme == Scheme::Azure { "dlp_redacted_from" } else { "dlp-redacted-from" };
        attributes.insert(object_store::Attribute::Metadata(from.into()), header_safe(&obj.name).into());
        let opts = object_store::PutOptions { mode, attributes, ..Default::default() };
        match bucket.store().put_opts(&crate::source::remote::key_path(&dest_key), out.into(), opts).await {
            Ok(_) => Ok(Outcome::Done(format!("{} findings replaced; written to {dest}", records.len()))),
            Err(object_store::Error::Precondition { .. }) => changed(),
            Err(e) => bail!("writing {dest}: {}", bucket.describe(&e)),
        }
    }

    async fn delete(&self, obj: &ObjectRef) -> Result<Outcome> {
        let Some(target) = &obj.bucket else { return local::delete(obj) };
        let from = self.bucket(target).await?;
        Ok(match from.delete_if(&obj.key, &precondition(obj)).await? {
            Deleted::Yes => Outcome::Done("deleted".into()),
            Deleted::Gone => Outcome::Skipped("already deleted".into()),
            Deleted::Changed => {
                Outcome::Skipped("the object was overwritten after it was scanned; not deleted".into())
            }
        })
    }

    /// Finishes actions a killed worker on this machine left `pending`: a quarantine whose
    /// original is still there (same version) is done again; one whose original is gone is
    /// checked in quarantine and marked done. Deletes are finished only with
    /// `--allow-delete`. Returns how many were finished.
    pub async fn recover(&self) -> Result<u64> {
        let Some(state) = &self.state else { return Ok(0) };
        let pending = state.pending_actions().await?;
        let mut n = 0;
        for row in pending.iter().filter(|r| r.actor == self.actor) {
            if row.action == "delete" && !self.settings.allow_delete {
                self.say(format!(
                    "an interrupted delete of {} is still pending; run with --allow-delete to finish it",
                    row.url
                ));
                continue;
            }
            let (status, detail) = match self.recover_one(row).await {
                Ok((s, d)) => (s, d),
                Err(e) => ("failed", format!("interrupted, and could not be finished on restart: {e:#}")),
            };
            state.end_action(row.id, status, &detail).await?;
            n += 1;
        }
        Ok(n)
    }

    async fn recover_one(&self, row: &ActionRow) -> Result<(&'static str, String)> {
        let redo = "interrupted; the next scan of the object takes it again";
        if !matches!(row.action.as_str(), "quarantine" | "delete") {
            return Ok(("failed", redo.into()));
        }
        let dest = || -> Result<(Target, Target)> {
            let d = row.destination.as_deref().ok_or_else(|| {
                anyhow!(
                    "the audit record of {} names no quarantine copy; check the quarantine location by hand",
                    row.url
                )
            })?;
            let Some(Ok(t)) = Target::parse(d) else {
                bail!("the audit record of {} names {d:?}, not a bucket URL; check it by hand", row.url)
            };
            Ok((Target { prefix: String::new(), ..t.clone() }, t))
        };
        let Some(Ok(target)) = Target::parse(&row.url) else {
            // A local file: no version to compare; what exists decides.
            let exists = std::path::Path::new(&row.url).exists();
            if row.action == "delete" {
                return Ok(if exists {
                    ("failed", redo.into())
                } else {
                    ("done", "deleted before an interruption; checked on restart".into())
                });
            }
            let (location, d) = dest()?;
            let to = self.bucket(&location).await?;
            let copy = to.metadata_of(&d.prefix, "dlp-source").await?;
            return Ok(match (exists, copy) {
                (false, Some(_)) => (
                    "done",
                    "copied, verified and the file removed before an interruption; checked on restart".into(),
                ),
                (true, Some(Some(src))) if src == header_safe(&row.url) => {
                    to.delete_if(&d.prefix, &Precondition::default()).await?;
                    ("failed", format!("{redo} (the unfinished copy was removed)"))
                }
                (true, _) => ("failed", redo.into()),
                (false, None) => (
                    "failed",
                    format!("after an interruption the file is neither at {} nor at {}", row.url, d.url()),
                ),
            });
        };
        let key = target.prefix.clone();
        let pre = Precondition {
            e_tag: row.etag.clone(),
            version_id: row
                .version
                .clone()
                .filter(|v| Some(v.as_str()) != row.etag.as_deref().map(|t| t.trim_matches('"'))),
        };
        let from = self.bucket(&target).await?;
        let current = from.head(&key).await?;
        let same =
            current.as_ref().is_some_and(|m| store::same_etag(m.e_tag.as_deref(), pre.e_tag.as_deref()));
        if row.action == "delete" {
            return Ok(match (current.is_some(), same) {
                (false, _) => ("done", "deleted before an interruption; checked on restart".into()),
                (true, true) => match from.delete_if(&key, &pre).await? {
                    Deleted::Yes | Deleted::Gone => ("done", "deleted (finished on restart)".into()),
                    Deleted::Changed => {
                        ("skipped", "the object was overwritten after it was scanned; not deleted".into())
                    }
                },
                (true, false) => {
                    ("skipped", "the object was overwritten after it was scanned; not deleted".into())
                }
            });
        }
        let (location, d) = dest()?;
        if same {
            let obj = ObjectRef {
                name: row.url.clone(),
                bucket: Some(Target { prefix: String::new(), ..target.clone() }),
                key: key.clone(),
                version: row.version.clone(),
                e_tag: pre.e_tag.clone(),
                version_id: pre.version_id.clone(),
                ..Default::default()
            };
            let out = self.quarantine(&obj, &location, &d.url(), &row.rule, &row.reason).await?;
            return Ok(match out {
                Outcome::Done(d) => ("done", format!("{d} (finished on restart)")),
                Outcome::Skipped(d) => ("skipped", d),
            });
        }
        // The original is gone or changed: only a copy of this very version counts.
        let to = self.bucket(&location).await?;
        let ours = to.source_version_of(&d.prefix).await?.is_some_and(|v| v == row.version);
        Ok(match (current.is_some(), ours) {
            (false, true) => ("done", "copied, verified and the original deleted before an interruption; checked on restart".into()),
            (true, true) => {
                to.delete_if(&d.prefix, &Precondition::default()).await?;
                ("skipped", "the object was overwritten after it was scanned; left in place, and the unfinished quarantine copy removed (on restart)".into())
            }
            (true, false) => ("skipped", "the object was overwritten after it was scanned; left in place (on restart)".into()),
            (false, false) => ("failed", format!("after an interruption the object is neither at {} nor at {}; check versions of the bucket", row.url, d.url())),
        })
    }
}

fn not_plain_text() -> Outcome {
    Outcome::Skipped("the object's bytes are not the scanned text (an encoding or format); redact rewrites plain-text objects only".into())
}

/// Where `redact` writes for an object.
fn redact_destination(policy: &Policy, obj: &ObjectRef) -> String {
    if policy.redact.mode == "replace" {
        obj.name.clone()
    } else {
        format!("{}{}", obj.name, policy.redact.suffix)
    }
}

/// `data` with each finding's bytes replaced by `[INFO_TYPE]`; None when a finding's span
/// does not hold the value it names (checked through its redacted form), i.e. the findings'
/// offsets are not offsets in these bytes.
fn redact_bytes(data: &[u8], records: &[Record]) -> Option<Vec<u8>> {
    let mut spans: Vec<(usize, usize, &str)> = Vec::with_capacity(records.len());
    for r in records {
        let (s, e) =
            (usize::try_from(r.location.byte_start).ok()?, usize::try_from(r.location.byte_end).ok()?);
        if s >= e || e > data.len() || dlp_core::redact::redact(r.category, &data[s..e]) != r.redacted {
            return None;
        }
        spans.push((s, e, &r.info_type));
    }
    spans.sort();
    let mut out = Vec::with_capacity(data.len());
    let mut at = 0;
    for (s, e, t) in spans {
        if s < at {
            // Overlaps the previous finding: already replaced, extend the cut.
            at = at.max(e);
            continue;
        }
        out.extend_from_slice(&data[at..s]);
        out.extend_from_slice(format!("[{t}]").as_bytes());
        at = e;
    }
    out.extend_from_slice(&data[at..]);
    Some(out)
}

/// The precondition for the bytes an object was scanned at.
fn precondition(obj: &ObjectRef) -> Precondition {
    Precondition { e_tag: obj.e_tag.clone(), version_id: obj.version_id.clone() }
}

/// Tag values: letters, digits, spaces and `+ - = . _ : / @` (what S3 and Azure allow), at
/// most 256 characters.
fn tag_value(v: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || " +-=._:/@".contains(c);
    v.chars().map(|c| if allowed(c) { c } else { '_' }).take(256).collect()
}

/// Metadata values travel in HTTP headers: printable ASCII only; other bytes are
/// percent-encoded.
fn header_safe(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where a local file goes in quarantine: `<location>/file/<absolute path>`.
fn local_quarantine_key(location: &Target, path: &str) -> String {
    let abs = std::fs::canonicalize(path)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| path.to_string());
    let abs = abs.trim_start_matches('/');
    if location.prefix.is_empty() {
        format!("file/{abs}")
    } else {
        format!("{}/file/{abs}", location.prefix)
    }
}

/// Actions on local files. A file system has no conditional delete: the file's size and
/// modification time are checked again just before it is removed (a write in between
/// could be lost; the README says so).
mod local {
    use super::*;
    use sha2::{Digest, Sha256};
    use tokio::io::AsyncWriteExt;

    /// Writes `data` to `path` through a temporary file in the same folder (so a reader never
    /// sees half a file).
    pub fn write_file(path: &str, data: &[u8]) -> Result<()> {
        use std::io::Write;
        let p = std::path::Path::new(path);
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        let mut tmp =
            tempfile::NamedTempFile::new_in(dir).with_context(|| format!("writing in {}", dir.display()))?;
        tmp.write_all(data)
            .and_then(|()| tmp.as_file().sync_all())
            .with_context(|| format!("writing {path}"))?;
        tmp.persist(p).map_err(|e| anyhow!("writing {path}: {}", e.error))?;
        Ok(())
    }

    pub fn unchanged(obj: &ObjectRef) -> Result<bool> {
        let m = match std::fs::metadata(&obj.key) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e).with_context(|| format!("reading {}", obj.key)),
        };
        let mtime = m.modified().ok().map(chrono::DateTime::<chrono::Utc>::from);
        Ok(Some(m.len()) == obj.size && mtime == obj.last_modified)
    }

    fn sha256_file(path: &str) -> Result<(u64, String)> {
        let mut f = std::fs::File::open(path).with_context(|| format!("reading {path}"))?;
        let mut h = Sha256::new();
        let n = std::io::copy(&mut f, &mut h).with_context(|| format!("reading {path}"))?;
        Ok((n, hex::encode(h.finalize())))
    }

    pub async fn quarantine(
        obj: &ObjectRef,
        to: &Bucket,
        dest_key: &str,
        extra: &[(&str, String)],
    ) -> Result<Outcome> {
        if !unchanged(obj)? {
            return Ok(Outcome::Skipped(
                "the file changed or was removed since it was scanned; not quarantined".into(),
            ));
        }
        let mut attributes = object_store::Attributes::new();
        for (k, v) in extra {
            attributes.insert(object_store::Attribute::Metadata((*k).to_string().into()), v.clone().into());
        }
        // Streamed in 8 MiB pieces: one PUT for a small file, a multipart upload otherwise.
        let path = crate::source::remote::key_path(dest_key);
        let mut w =
            object_store::buffered::BufWriter::new(to.store().clone(), path).with_attributes(attributes);
        let mut file = std::fs::File::open(&obj.key).with_context(|| format!("reading {}", obj.key))?;
        let mut h = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 8 * 1024 * 1024];
        loop {
            let n =
                std::io::Read::read(&mut file, &mut buf).with_context(|| format!("reading {}", obj.key))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            size += n as u64;
            w.write_all(&buf[..n]).await.context("writing the quarantine copy")?;
        }
        w.shutdown().await.with_context(|| format!("writing {}", to.target.url_of(dest_key)))?;
        let sha = hex::encode(h.finalize());
        match to.checksum(dest_key).await? {
            Some(c) if c.size == size && c.sha256 == sha => {}
            _ => bail!(
                "the quarantine copy {} does not match the file; the file was left in place",
                to.target.url_of(dest_key)
            ),
        }
        if !unchanged(obj)? || sha256_file(&obj.key)?.1 != sha {
            to.delete_if(dest_key, &Precondition::default()).await?;
            return Ok(Outcome::Skipped(
                "the file changed while it was copied; left in place, copy removed".into(),
            ));
        }
        std::fs::remove_file(&obj.key).with_context(|| format!("removing {}", obj.key))?;
        Ok(Outcome::Done(format!(
            "copied to {} ({size} bytes, sha256 {sha}), verified, file removed",
            to.target.url_of(dest_key)
        )))
    }

    pub fn delete(obj: &ObjectRef) -> Result<Outcome> {
        if !unchanged(obj)? {
            return Ok(Outcome::Skipped(
                "the file changed or was removed since it was scanned; not deleted".into(),
            ));
        }
        std::fs::remove_file(&obj.key).with_context(|| format!("removing {}", obj.key))?;
        Ok(Outcome::Done("deleted".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Location;

    fn record(start: u64, end: u64, info_type: &str, category: Category, raw: &[u8]) -> Record {
        Record {
            object: "o".into(),
            version: None,
            location: Location {
                path: "o".into(),
                byte_start: start,
                byte_end: end,
                line: Some(1),
                page: None,
                row: None,
                column: None,
            },
            info_type: info_type.into(),
            category,
            likelihood: dlp_core::Likelihood::Likely,
            redacted: dlp_core::redact::redact(category, raw),
            fingerprint: String::new(),
            test_value: false,
            subtype: None,
            quote: None,
        }
    }

    #[test]
    fn redaction_replaces_each_span_once() {
        let data = b"card 4539 1488 0343 6467 mail a@b.example end";
        let card = record(5, 24, "CREDIT_CARD_NUMBER", Category::Pci, &data[5..24]);
        let mail = record(30, 41, "EMAIL_ADDRESS", Category::Pii, &data[30..41]);
        // A second detector on the same digits overlaps the first span.
        let overlap = record(10, 24, "OTHER", Category::Pci, &data[10..24]);
        let out = redact_bytes(data, &[mail, card, overlap]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "card [CREDIT_CARD_NUMBER] mail [EMAIL_ADDRESS] end");
    }

    #[test]
    fn redaction_refuses_offsets_that_are_not_in_these_bytes() {
        let data = b"card 4539 1488 0343 6467";
        let mut card = record(5, 24, "CREDIT_CARD_NUMBER", Category::Pci, &data[5..24]);
        card.redacted = "**** **** **** 0000".into();
        assert!(redact_bytes(data, &[card]).is_none());
        let beyond = record(20, 40, "X", Category::Pci, b"whatever");
        assert!(redact_bytes(data, &[beyond]).is_none());
    }
}
