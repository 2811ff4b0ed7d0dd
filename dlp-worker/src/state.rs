//! The state store: what was scanned (objects, findings without raw values), every action
//! taken (the audit log) and run summaries. SQLite by default (one file, no server),
//! PostgreSQL when given a `postgres://` URL; both through sqlx's `Any` driver, with the
//! schema migrations in `dlp-worker/migrations/{sqlite,postgres}` applied on open.

use crate::output::Record;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, Row};
use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

/// Findings stored per object: the first ones by position. The object's row keeps the full
/// count; output (`--output`, stdout) always has every finding.
pub const MAX_STORED_FINDINGS: usize = 1000;

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// An open state store.
#[derive(Clone)]
pub struct State {
    pool: AnyPool,
    /// The URL without its password, for messages.
    pub shown: String,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The schema versions, oldest first: (version, name, SQLite, PostgreSQL).
const MIGRATIONS: [(i64, &str, &str, &str); 4] = [
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "object etag",
        include_str!("../migrations/sqlite/0002_object_etag.sql"),
        include_str!("../migrations/postgres/0002_object_etag.sql"),
    ),
    (
        3,
        "sweep checkpoints",
        include_str!("../migrations/sqlite/0003_sweep_checkpoints.sql"),
        include_str!("../migrations/postgres/0003_sweep_checkpoints.sql"),
    ),
    (
        4,
        "object claims",
        include_str!("../migrations/sqlite/0004_object_claims.sql"),
        include_str!("../migrations/postgres/0004_object_claims.sql"),
    ),
];

fn migrator(backend: Backend) -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .map(|&(version, name, sqlite, postgres)| {
            let sql = if backend == Backend::Sqlite { sqlite } else { postgres };
            Migration::new(version, Cow::Borrowed(name), MigrationType::Simple, Cow::Borrowed(sql), false)
        })
        .collect();
    Migrator { migrations: Cow::Owned(migrations), ..Migrator::DEFAULT }
}

/// The default state file: `$XDG_DATA_HOME/dlp-worker/state.db`, else
/// `~/.local/share/dlp-worker/state.db`.
pub fn default_path() -> Result<PathBuf> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(h) => PathBuf::from(h).join(".local/share"),
            None => {
                bail!("neither XDG_DATA_HOME nor HOME is set: give the state store with --state or DLP_STATE")
            }
        },
    };
    Ok(base.join("dlp-worker").join("state.db"))
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn hide_password(url: &str) -> String {
    // `?password=…` (or `&password=…`) in the query, as sqlx also accepts.
    if let Some(q) = url.find('?') {
        let query: Vec<String> = url[q + 1..]
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => p.to_string(),
            })
            .collect();
        return format!("{}?{}", hide_password(&url[..q]), query.join("&"));
    }
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl State {
    /// Opens (creating and migrating) the store at `spec`: a `postgres://` or
    /// `postgresql://` URL, a `sqlite://PATH` URL, or a file path.
    pub async fn open(spec: &str) -> Result<State> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
            (Backend::Postgres, spec.to_string())
        } else {
            let path =
                spec.strip_prefix("sqlite://").or_else(|| spec.strip_prefix("sqlite:")).unwrap_or(spec);
            if path.is_empty() {
                bail!("the state store {spec:?} names no file");
            }
            if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating the folder of the state store {}", dir.display()))?;
            }
            (Backend::Sqlite, format!("sqlite://{path}?mode=rwc"))
        };
        let shown = hide_password(spec);
        let mut opts = AnyPoolOptions::new().max_connections(if backend == Backend::Sqlite { 1 } else { 8 });
        if backend == Backend::Sqlite {
            // One writer at a time in one file; WAL lets `findings` read while a scan writes.
            opts = opts.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 30000; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA case_sensitive_like = ON")
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = opts
            .acquire_timeout(Duration::from_secs(30))
            .connect(&url)
            .await
            .with_context(|| format!("opening the state store {shown}"))?;
        migrator(backend)
            .run(&pool)
            .await
            .with_context(|| format!("migrating the state store {shown} to this version's schema"))?;
        Ok(State { pool, shown })
    }

    /// Records the start of a run.
    pub async fn begin_run(&self, run: &RunStart) -> Result<()> {
        sqlx::query(
            "INSERT INTO runs (id, command, targets, ruleset_hash, policy_hash, actor, dry_run, started_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&run.id)
        .bind(&run.command)
        .bind(&run.targets)
        .bind(&run.ruleset_hash)
        .bind(&run.policy_hash)
        .bind(&run.actor)
        .bind(i64::from(run.dry_run))
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .with_context(|| format!("recording the run in {}", self.shown))?;
        Ok(())
    }

    /// Records a run's totals and exit code.
    pub async fn finish_run(&self, id: &str, t: &RunTotals) -> Result<()> {
        sqlx::query(
            "UPDATE runs SET finished_at = $1, objects_scanned = $2, bytes_scanned = $3, findings = $4, \
             skipped = $5, errors = $6, actions = $7, exit_code = $8 WHERE id = $9",
        )
        .bind(now_ms())
        .bind(t.objects_scanned)
        .bind(t.bytes_scanned)
        .bind(t.findings)
        .bind(t.skipped)
        .bind(t.errors)
        .bind(t.actions)
        .bind(t.exit_code)
        .bind(id)
        .execute(&self.pool)
        .await
        .with_context(|| format!("recording the end of the run in {}", self.shown))?;
        Ok(())
    }

    /// Records scanned objects and (up to [`MAX_STORED_FINDINGS`] each of) their findings in
    /// one transaction. With `worker`, an object is recorded only while that worker holds
    /// its claim (see [`State::claim`]), which is then done (an error releases it instead);
    /// returns, per object, whether it was recorded.
    pub async fn record_objects(
        &self,
        objects: &[(ObjectRow, &[Record])],
        worker: Option<&str>,
    ) -> Result<Vec<bool>> {
        let mut tx = self.pool.begin().await?;
        let mut recorded = Vec::with_capacity(objects.len());
        for (o, findings) in objects {
            if let (Some(worker), Some(etag)) = (worker, &o.etag) {
                // An error releases the claim, so the next delivery can take it.
                let q = if o.outcome == "error" {
                    sqlx::query(
                        "DELETE FROM object_claims WHERE store = $1 AND key = $2 AND etag = $3 AND ruleset_hash = $4 \
                         AND worker = $5 AND done_at IS NULL",
                    )
                } else {
                    sqlx::query(
                        "UPDATE object_claims SET done_at = $6 WHERE store = $1 AND key = $2 AND etag = $3 \
                         AND ruleset_hash = $4 AND worker = $5 AND done_at IS NULL",
                    )
                };
                let q = q.bind(&o.store).bind(&o.key).bind(etag).bind(&o.ruleset_hash).bind(worker);
                let q = if o.outcome == "error" { q } else { q.bind(o.scanned_at) };
                let held = q.execute(&mut *tx).await?.rows_affected() == 1;
                // Lost (expired and taken by another worker): that worker records it. An
                // error is recorded anyway: it claims nothing.
                if !held && o.outcome != "error" {
                    recorded.push(false);
                    continue;
                }
            }
            recorded.push(true);
            let row = sqlx::query(
                "INSERT INTO objects (run_id, store, key, url, version, size, scanned_at, ruleset_hash, outcome, findings, error, \
                 etag) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            )
            .bind(&o.run_id)
            .bind(&o.store)
            .bind(&o.key)
            .bind(&o.url)
            .bind(&o.version)
            .bind(o.size)
            .bind(o.scanned_at)
            .bind(&o.ruleset_hash)
            .bind(o.outcome)
            .bind(o.findings)
            .bind(&o.error)
            .bind(&o.etag)
            .fetch_one(&mut *tx)
            .await?;
            let object_id: i64 = row.try_get(0)?;
            for f in findings.iter().take(MAX_STORED_FINDINGS) {
                sqlx::query(
                    "INSERT INTO findings (object_id, run_id, store, key, url, version, path, byte_start, byte_end, line, page, \
                     row_number, column_name, info_type, category, likelihood, likelihood_rank, redacted, fingerprint, test_value, \
                     quote, found_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
                     $19, $20, $21, $22)",
                )
                .bind(object_id)
                .bind(&o.run_id)
                .bind(&o.store)
                .bind(&o.key)
                .bind(&o.url)
                .bind(&f.version)
                .bind(&f.location.path)
                .bind(f.location.byte_start as i64)
                .bind(f.location.byte_end as i64)
                .bind(f.location.line.map(|v| v as i64))
                .bind(f.location.page.map(|v| v as i64))
                .bind(f.location.row.map(|v| v as i64))
                .bind(&f.location.column)
                .bind(&*f.info_type)
                .bind(f.category.as_str())
                .bind(f.likelihood.as_str())
                .bind(f.likelihood as i64)
                .bind(&f.redacted)
                .bind(&f.fingerprint)
                .bind(i64::from(f.test_value))
                .bind(&f.quote)
                .bind(o.scanned_at)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(recorded)
    }

    /// Claims an object version for `worker` until `expires_at` (Unix ms), so that of many
    /// workers sharing this store only one scans and acts on it. Taken when nobody holds it,
    /// when its holder's claim expired unfinished, or when it was done before `since` (a
    /// full sweep's items rescan what was done before the sweep began).
    pub async fn claim(&self, c: &ClaimKey<'_>, worker: &str, expires_at: i64, since: i64) -> Result<Claim> {
        let now = now_ms();
        let taken = sqlx::query(
            "INSERT INTO object_claims (store, key, etag, ruleset_hash, worker, claimed_at, expires_at, done_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL) \
             ON CONFLICT (store, key, etag, ruleset_hash) DO UPDATE SET worker = $5, claimed_at = $6, expires_at = $7, \
             done_at = NULL WHERE (object_claims.done_at IS NULL AND (object_claims.expires_at < $6 OR object_claims.worker = $5)) \
             OR object_claims.done_at < $8 RETURNING worker",
        )
        .bind(c.store)
        .bind(c.key)
        .bind(c.etag)
        .bind(c.ruleset_hash)
        .bind(worker)
        .bind(now)
        .bind(expires_at)
        .bind(since)
        .fetch_optional(&self.pool)
        .await
        .with_context(|| format!("claiming {} in the state store {}", c.key, self.shown))?;
        if taken.is_some() {
            return Ok(Claim::Taken);
        }
        let row = sqlx::query(
            "SELECT done_at FROM object_claims WHERE store = $1 AND key = $2 AND etag = $3 AND ruleset_hash = $4",
        )
        .bind(c.store)
        .bind(c.key)
        .bind(c.etag)
        .bind(c.ruleset_hash)
        .fetch_optional(&self.pool)
        .await
        .with_context(|| format!("reading the state store {}", self.shown))?;
        Ok(match row.and_then(|r| r.get::<Option<i64>, _>(0)) {
            Some(_) => Claim::Done,
            None => Claim::Busy,
        })
    }

    /// Whether the store answers (`SELECT 1`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .with_context(|| format!("the state store {} does not answer", self.shown))?;
        Ok(())
    }

    /// Renews `worker`'s unfinished claims until `expires_at`.
    pub async fn renew_claims(&self, worker: &str, expires_at: i64) -> Result<()> {
        sqlx::query("UPDATE object_claims SET expires_at = $1 WHERE worker = $2 AND done_at IS NULL")
            .bind(expires_at)
            .bind(worker)
            .execute(&self.pool)
            .await
            .with_context(|| format!("renewing claims in the state store {}", self.shown))?;
        Ok(())
    }

    /// Releases `worker`'s unfinished claims (objects it will not scan after all).
    pub async fn release_claims(&self, worker: &str) -> Result<()> {
        sqlx::query("DELETE FROM object_claims WHERE worker = $1 AND done_at IS NULL")
            .bind(worker)
            .execute(&self.pool)
            .await
            .with_context(|| format!("releasing claims in the state store {}", self.shown))?;
        Ok(())
    }

    /// Whether `key` in `store` was scanned whole before at these bytes (`etag`, see
    /// [`change_token`]) with this detector set.
    pub async fn unchanged(&self, store: &str, key: &str, etag: &str, ruleset_hash: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 FROM objects WHERE store = $1 AND key = $2 AND etag = $3 AND ruleset_hash = $4 \
             AND outcome <> 'error' LIMIT 1",
        )
        .bind(store)
        .bind(key)
        .bind(etag)
        .bind(ruleset_hash)
        .fetch_optional(&self.pool)
        .await
        .with_context(|| format!("reading the state store {}", self.shown))?;
        Ok(row.is_some())
    }

    /// The key after which an unfinished sweep (`id`, see `drivers::scan`) stopped listing.
    pub async fn checkpoint(&self, id: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT after_key FROM sweep_checkpoints WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .with_context(|| format!("reading the state store {}", self.shown))?;
        Ok(row.map(|r| r.get::<String, _>(0)))
    }

    /// Records (`after_key` Some) or clears (None, the target was listed to its end) a
    /// sweep's checkpoint.
    pub async fn save_checkpoint(
        &self,
        id: &str,
        target: &str,
        after_key: Option<&str>,
        run_id: &str,
    ) -> Result<()> {
        let q = match after_key {
            Some(k) => sqlx::query(
                "INSERT INTO sweep_checkpoints (id, target, after_key, run_id, updated_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET after_key = $3, run_id = $4, updated_at = $5",
            )
            .bind(id)
            .bind(target)
            .bind(k)
            .bind(run_id)
            .bind(now_ms()),
            None => sqlx::query("DELETE FROM sweep_checkpoints WHERE id = $1").bind(id),
        };
        q.execute(&self.pool).await.with_context(|| format!("writing to the state store {}", self.shown))?;
        Ok(())
    }

    /// Writes an action to the audit log before it is taken (status `pending`, or the final
    /// status of a dry run or a skip); returns its id for [`State::end_action`].
    pub async fn begin_action(&self, a: &ActionRow) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO actions (run_id, url, version, etag, action, rule, reason, destination, actor, dry_run, status, \
             detail, started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             RETURNING id",
        )
        .bind(&a.run_id)
        .bind(&a.url)
        .bind(&a.version)
        .bind(&a.etag)
        .bind(&a.action)
        .bind(&a.rule)
        .bind(&a.reason)
        .bind(&a.destination)
        .bind(&a.actor)
        .bind(i64::from(a.dry_run))
        .bind(&a.status)
        .bind(&a.detail)
        .bind(a.started_at)
        .bind(a.finished_at)
        .fetch_one(&self.pool)
        .await
        .with_context(|| format!("writing the audit log in {}", self.shown))?;
        Ok(row.try_get(0)?)
    }

    /// Records an action's outcome.
    pub async fn end_action(&self, id: i64, status: &str, detail: &str) -> Result<()> {
        sqlx::query("UPDATE actions SET status = $1, detail = $2, finished_at = $3 WHERE id = $4")
            .bind(status)
            .bind(detail)
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await
            .with_context(|| format!("writing the audit log in {}", self.shown))?;
        Ok(())
    }

    /// Actions started but never finished (the worker was killed), oldest first.
    pub async fn pending_actions(&self) -> Result<Vec<ActionRow>> {
        let rows = sqlx::query(&format!("{ACTION_SELECT} WHERE status = 'pending' ORDER BY id"))
            .fetch_all(&self.pool)
            .await
            .with_context(|| format!("reading the audit log in {}", self.shown))?;
        rows.iter().map(ActionRow::from_row).collect()
    }

    /// The audit log, newest last, filtered.
    pub async fn actions(&self, q: &ActionQuery) -> Result<Vec<ActionRow>> {
        let mut w = Where::default();
        if let Some(u) = &q.url {
            w.push("url = {}", Arg::Text(u.clone()));
        }
        if let Some(u) = &q.url_prefix {
            w.push("url LIKE {} ESCAPE '\\'", Arg::Text(like_prefix(u)));
        }
        if let Some(a) = &q.action {
            w.push("action = {}", Arg::Text(a.clone()));
        }
        if let Some(s) = &q.status {
            w.push("status = {}", Arg::Text(s.clone()));
        }
        if let Some(t) = q.since {
            w.push("started_at >= {}", Arg::Int(t));
        }
        // The newest `limit`, shown oldest first.
        let sql = format!("{ACTION_SELECT}{} ORDER BY id DESC LIMIT {}", w.sql, q.limit);
        let rows = w
            .bind(sqlx::query(&sql))
            .fetch_all(&self.pool)
            .await
            .with_context(|| format!("reading the audit log in {}", self.shown))?;
        rows.iter().rev().map(ActionRow::from_row).collect()
    }

    /// Stored findings, filtered, oldest first.
    pub async fn findings(&self, q: &FindingQuery) -> Result<Vec<StoredFinding>> {
        let mut w = Where::default();
        if let Some(s) = &q.store {
            w.push("store = {}", Arg::Text(s.clone()));
        }
        if let Some(p) = &q.key_prefix {
            w.push("key LIKE {} ESCAPE '\\'", Arg::Text(like_prefix(p)));
        }
        if !q.info_types.is_empty() {
            let mut parts = Vec::new();
            for t in &q.info_types {
                parts.push(w.arg(Arg::Text(t.clone())));
            }
            w.raw(&format!("info_type IN ({})", parts.join(", ")));
        }
        if let Some(l) = q.min_likelihood {
            w.push("likelihood_rank >= {}", Arg::Int(l));
        }
        if let Some(t) = q.since {
            w.push("found_at >= {}", Arg::Int(t));
        }
        if let Some(t) = q.until {
            w.push("found_at < {}", Arg::Int(t));
        }
        if let Some(r) = &q.run {
            w.push("run_id = {}", Arg::Text(r.clone()));
        }
        if let Some(id) = q.before_id {
            w.push("id < {}", Arg::Int(id));
        }
        let sql = format!(
            "SELECT id, url, version, path, byte_start, byte_end, line, page, row_number, column_name, info_type, category, \
             likelihood, redacted, fingerprint, test_value, quote, found_at, run_id FROM findings{} ORDER BY id DESC LIMIT {}",
            w.sql, q.limit
        );
        let rows = w
            .bind(sqlx::query(&sql))
            .fetch_all(&self.pool)
            .await
            .with_context(|| format!("reading findings from {}", self.shown))?;
        rows.iter().rev().map(StoredFinding::from_row).collect()
    }
}

/// `abc_%` → `abc\_\%%`: a LIKE pattern matching strings that start with `p`.
fn like_prefix(p: &str) -> String {
    let mut s = String::with_capacity(p.len() + 1);
    for c in p.chars() {
        if matches!(c, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('%');
    s
}

enum Arg {
    Text(String),
    Int(i64),
}

/// A WHERE clause with numbered placeholders, built from optional filters.
#[derive(Default)]
struct Where {
    sql: String,
    args: Vec<Arg>,
}

impl Where {
    fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }
    fn raw(&mut self, cond: &str) {
        self.sql.push_str(if self.sql.is_empty() { " WHERE " } else { " AND " });
        self.sql.push_str(cond);
    }
    /// `cond` with `{}` where the argument goes.
    fn push(&mut self, cond: &str, a: Arg) {
        let p = self.arg(a);
        self.raw(&cond.replace("{}", &p));
    }
    fn bind<'q>(
        &'q self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for a in &self.args {
            q = match a {
                Arg::Text(s) => q.bind(s.as_str()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

/// An object version as claims name it: its store, key, change token (see
/// [`change_token`]) and the detector set.
pub struct ClaimKey<'a> {
    pub store: &'a str,
    pub key: &'a str,
    pub etag: &'a str,
    pub ruleset_hash: &'a str,
}

/// What [`State::claim`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The caller holds it now: scan, record, act.
    Taken,
    /// Another live worker holds it: leave it (its event comes again if that worker dies).
    Busy,
    /// Done (recorded) already.
    Done,
}

/// The start of a run.
pub struct RunStart {
    pub id: String,
    pub command: String,
    pub targets: String,
    pub ruleset_hash: String,
    pub policy_hash: Option<String>,
    pub actor: String,
    pub dry_run: bool,
}

/// A run's totals.
#[derive(Default)]
pub struct RunTotals {
    pub objects_scanned: i64,
    pub bytes_scanned: i64,
    pub findings: i64,
    pub skipped: i64,
    pub errors: i64,
    pub actions: i64,
    pub exit_code: i64,
}

/// One scanned object.
pub struct ObjectRow {
    pub run_id: String,
    /// `s3://bucket`, `gs://bucket`, `az://container`, `file` or `stdin`.
    pub store: String,
    pub key: String,
    pub url: String,
    pub version: Option<String>,
    pub size: Option<i64>,
    pub scanned_at: i64,
    pub ruleset_hash: String,
    /// `clean`, `findings` or `error`.
    pub outcome: &'static str,
    pub findings: i64,
    pub error: Option<String>,
    /// What identifies the scanned bytes: the ETag without quotes, or `<size>-<mtime ms>` for
    /// a local file (see [`change_token`]).
    pub etag: Option<String>,
}

/// What identifies an object's bytes for incremental sweeps: the ETag without quotes (the
/// version id when there is no ETag), else `<size>-<modified ms>` (local files).
pub fn change_token(
    e_tag: Option<&str>,
    version_id: Option<&str>,
    size: Option<u64>,
    modified: Option<chrono::DateTime<chrono::Utc>>,
) -> Option<String> {
    if let Some(t) = e_tag.or(version_id) {
        return Some(t.trim_matches('"').to_string());
    }
    match (size, modified) {
        (Some(s), Some(m)) => Some(format!("{s}-{}", m.timestamp_millis())),
        _ => None,
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, Serialize)]
pub struct ActionRow {
    pub id: i64,
    pub run_id: String,
    /// The object acted on.
    pub url: String,
    /// Its version when it was scanned (the precondition of destructive actions).
    pub version: Option<String>,
    /// The ETag it was scanned at (with quotes).
    pub etag: Option<String>,
    pub action: String,
    pub rule: String,
    /// Why: the findings that matched the rule (info types and counts, never values).
    pub reason: String,
    /// Where a copy went (quarantine, redacted copy) or where an alert was sent.
    pub destination: Option<String>,
    /// `user@host` that ran the worker.
    pub actor: String,
    pub dry_run: bool,
    /// `pending`, `done`, `skipped`, `failed` or `dry_run`.
    pub status: String,
    pub detail: Option<String>,
    pub started_at: i64,
    pub finished_at: Option<i64>,
}

const ACTION_SELECT: &str =
    "SELECT id, run_id, url, version, etag, action, rule, reason, destination, actor, dry_run, \
                             status, detail, started_at, finished_at FROM actions";

impl ActionRow {
    fn from_row(r: &AnyRow) -> Result<ActionRow> {
        Ok(ActionRow {
            id: r.try_get("id")?,
            run_id: r.try_get("run_id")?,
            url: r.try_get("url")?,
            version: r.try_get("version")?,
            etag: r.try_get("etag")?,
            action: r.try_get("action")?,
            rule: r.try_get("rule")?,
            reason: r.try_get("reason")?,
            destination: r.try_get("destination")?,
            actor: r.try_get("actor")?,
            dry_run: r.try_get::<i64, _>("dry_run")? != 0,
            status: r.try_get("status")?,
            detail: r.try_get("detail")?,
            started_at: r.try_get("started_at")?,
            finished_at: r.try_get("finished_at")?,
        })
    }
}

/// Filters of [`State::actions`].
#[derive(Default)]
pub struct ActionQuery {
    /// Exactly this object.
    pub url: Option<String>,
    pub url_prefix: Option<String>,
    pub action: Option<String>,
    pub status: Option<String>,
    pub since: Option<i64>,
    pub limit: i64,
}

/// Filters of [`State::findings`].
#[derive(Default)]
pub struct FindingQuery {
    pub store: Option<String>,
    pub key_prefix: Option<String>,
    pub info_types: Vec<String>,
    pub min_likelihood: Option<i64>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub run: Option<String>,
    pub limit: i64,
    /// Only findings older than this one (its id): the API's pages.
    pub before_id: Option<i64>,
}

/// A finding as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredFinding {
    /// The row's id (the API's page tokens).
    #[serde(skip)]
    pub id: i64,
    pub object: String,
    pub version: Option<String>,
    pub path: String,
    pub byte_start: i64,
    pub byte_end: i64,
    pub line: Option<i64>,
    pub page: Option<i64>,
    pub row: Option<i64>,
    pub column: Option<String>,
    pub info_type: String,
    pub category: String,
    pub likelihood: String,
    pub redacted: String,
    pub fingerprint: String,
    pub test_value: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    pub found_at: i64,
    pub run_id: String,
}

impl StoredFinding {
    fn from_row(r: &AnyRow) -> Result<StoredFinding> {
        Ok(StoredFinding {
            id: r.try_get("id")?,
            object: r.try_get("url")?,
            version: r.try_get("version")?,
            path: r.try_get("path")?,
            byte_start: r.try_get("byte_start")?,
            byte_end: r.try_get("byte_end")?,
            line: r.try_get("line")?,
            page: r.try_get("page")?,
            row: r.try_get("row_number")?,
            column: r.try_get("column_name")?,
            info_type: r.try_get("info_type")?,
            category: r.try_get("category")?,
            likelihood: r.try_get("likelihood")?,
            redacted: r.try_get("redacted")?,
            fingerprint: r.try_get("fingerprint")?,
            test_value: r.try_get::<i64, _>("test_value")? != 0,
            quote: r.try_get("quote")?,
            found_at: r.try_get("found_at")?,
            run_id: r.try_get("run_id")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(hide_password("postgres://u:s3cret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(hide_password("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(hide_password("/tmp/a@b.db"), "/tmp/a@b.db");
        assert_eq!(
            hide_password("postgres://u:pw@h/db?sslmode=require&password=s3cret"),
            "postgres://u:***@h/db?sslmode=require&password=***"
        );
    }

    #[test]
    fn like_prefixes_escape_wildcards() {
        assert_eq!(like_prefix("a_b%c"), "a\\_b\\%c%");
    }
}
