//! `dlp-worker serve --config FILE`: sweeps on cron schedules and event listeners in one
//! long-running process. SIGTERM (or SIGINT) stops it gracefully: listeners stop taking
//! events and finish (and acknowledge) the ones in flight; a running sweep stops listing,
//! finishes the objects in flight with their actions, and records them, so the next sweep
//! goes on from there; then the process exits 0.
//!
//! The file (TOML) holds jobs; every key of a job but `name`, `schedule` and `targets` is a
//! flag of `sweep` or `listen`, written without its dashes (`sample-percent = 10`, `full =
//! true`, `sqs = "https://…"`). `[defaults]` holds flags given to every job:
//!
//! ```toml
//! [defaults]
//! policy = "/etc/dlp/policy.toml"
//!
//! [[sweep]]
//! name = "nightly"
//! schedule = "0 2 * * *"        # cron, UTC; an optional leading seconds field
//! targets = ["s3://records"]
//! sample-percent = 10
//!
//! [[listen]]
//! name = "uploads"
//! sqs = "https://sqs.eu-west-1.amazonaws.com/123456789012/uploads"
//! targets = ["s3://uploads/incoming"]
//! ```
//!
//! An `[api]` table starts the HTTP API (health, readiness, metrics, findings, scans on
//! demand; see `drivers::api`):
//!
//! ```toml
//! [api]
//! listen = "0.0.0.0:8080"
//! token-file = "/etc/dlp/api-token"   # or token-env = "DLP_API_TOKEN"
//! ```
//!
//! Environment variables override the file's `[defaults]` and `[api]` keys:
//! `DLP_CONFIG__API__LISTEN=0.0.0.0:9090`, `DLP_CONFIG__DEFAULTS__SAMPLE_PERCENT=5` (the key
//! in capitals, `_` for `-`; values read as TOML when they parse, else as text).
//!
//! Every job is checked (its flags, schedule and policy) before any starts. A job that
//! fails to start, or a listener that stops with an error, stops the whole process with
//! exit 2, so its supervisor restarts it. A sweep whose next time comes while it still runs
//! skips that time.

use super::api::ApiConfig;
use super::listen::{listen_until_stopped, ListenArgs};
use crate::config::ScanConfig;
use crate::shutdown;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use toml::Value;

/// `dlp-worker serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The jobs: sweeps on schedules and listeners (see README, "serve").
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

#[derive(Parser, Debug)]
#[command(name = "sweep", no_binary_name = true)]
struct SweepJob {
    #[command(flatten)]
    args: crate::SweepArgs,
}

#[derive(Parser, Debug)]
#[command(name = "listen", no_binary_name = true)]
struct ListenJob {
    #[command(flatten)]
    args: ListenArgs,
}

/// A checked job.
enum Job {
    Sweep { name: String, schedule: Box<croner::Cron>, cfg: Box<ScanConfig> },
    Listen { name: String, args: Box<ListenArgs> },
}

/// A job's table as command-line arguments: `key = v` becomes `--key v`, `key = true`
/// `--key`, `key = false` nothing, arrays repeat the flag; `targets` come last.
fn to_args(defaults: &toml::Table, job: &toml::Table) -> Result<Vec<String>, String> {
    let mut merged = defaults.clone();
    merged.extend(job.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut args = Vec::new();
    for (k, v) in &merged {
        if matches!(k.as_str(), "name" | "schedule" | "targets") {
            continue;
        }
        let flag = format!("--{k}");
        let scalar = |v: &Value| match v {
            Value::String(s) => Ok(s.clone()),
            Value::Integer(i) => Ok(i.to_string()),
            Value::Float(f) => Ok(f.to_string()),
            _ => Err(format!("`{k}`: give a string, a number, true or false, or a list of them")),
        };
        match v {
            Value::Boolean(true) => args.push(flag),
            Value::Boolean(false) => {}
            Value::Array(items) => {
                for i in items {
                    args.extend([flag.clone(), scalar(i)?]);
                }
            }
            v => args.extend([flag, scalar(v)?]),
        }
    }
    let targets = match job.get("targets") {
        Some(Value::Array(t)) if !t.is_empty() => t,
        _ => return Err("`targets`: give a list of the buckets or folders to scan".into()),
    };
    args.push("--".into());
    for t in targets {
        args.push(t.as_str().ok_or("`targets`: give strings")?.to_string());
    }
    Ok(args)
}

/// A sweep's configuration from its table and `[defaults]` (also for scans started over the
/// API); the error says what is wrong, without the file's name.
pub(super) fn sweep_config(defaults: &toml::Table, job: &toml::Table) -> Result<ScanConfig, String> {
    let args = to_args(defaults, job)?;
    let parsed = SweepJob::try_parse_from(&args).map_err(|e| first_line(&e))?;
    let mut cfg = ScanConfig::from_sweep(parsed.args).map_err(|e| format!("{e:#}"))?;
    // Each run adds to the job's `output`, as listeners do.
    cfg.append_output = true;
    Ok(cfg)
}

/// The prefix of environment variables that override the config file.
const ENV_PREFIX: &str = "DLP_CONFIG__";

/// Applies `DLP_CONFIG__TABLE__KEY=value` overrides to `[defaults]` and `[api]`; returns
/// what each set (`api.listen`), for the log (values may be secrets: never logged).
fn apply_env(
    doc: &mut toml::Table,
    vars: impl Iterator<Item = (String, String)>,
) -> Result<Vec<String>, String> {
    let mut set = Vec::new();
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else { continue };
        let (table, key) = rest
            .split_once("__")
            .filter(|(t, k)| !t.is_empty() && !k.is_empty())
            .ok_or_else(|| format!("{name}: write {ENV_PREFIX}TABLE__KEY (DEFAULTS or API)"))?;
        let table = match table {
            "DEFAULTS" => "defaults",
            "API" => "api",
            _ => {
                return Err(format!("{name}: only [defaults] and [api] keys can be set from the environment"))
            }
        };
        let key = key.to_ascii_lowercase().replace('_', "-");
        // `2`, `true`, `["a", "b"]` as TOML; anything else (paths, URLs, dates) as text.
        let parsed = format!("v = {value}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .filter(|v| !matches!(v, Value::Datetime(_)))
            .unwrap_or(Value::String(value));
        let t = doc.entry(table).or_insert_with(|| Value::Table(toml::Table::new()));
        let Value::Table(t) = t else { return Err(format!("{name}: `{table}` in the file is not a table")) };
        t.insert(key.clone(), parsed);
        set.push(format!("{table}.{key}"));
    }
    Ok(set)
}

fn load(path: &Path) -> Result<(Vec<Job>, Option<ApiConfig>)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut doc: toml::Table =
        text.parse().map_err(|e: toml::de::Error| anyhow!("{}: {e}", path.display()))?;
    // Only the overrides must be text; other variables may hold anything.
    let mut vars = Vec::new();
    for (k, v) in std::env::vars_os() {
        let Some(k) = k.to_str().filter(|k| k.starts_with(ENV_PREFIX)) else { continue };
        let v = v.into_string().map_err(|_| anyhow!("{k}: the value is not UTF-8"))?;
        vars.push((k.to_string(), v));
    }
    let set = apply_env(&mut doc, vars.into_iter()).map_err(|e| anyhow!("{e}"))?;
    if !set.is_empty() {
        say!("serve: from the environment: {}", set.join(", "));
    }
    let mut defaults = toml::Table::new();
    let mut jobs = Vec::new();
    for (key, v) in &doc {
        match (key.as_str(), v) {
            ("defaults", Value::Table(t)) => defaults = t.clone(),
            ("sweep" | "listen", Value::Array(_)) | ("api", Value::Table(_)) => {}
            _ => {
                bail!(
                    "{}: unknown `{key}`: give [defaults], [api], [[sweep]] and [[listen]] tables",
                    path.display()
                )
            }
        }
    }
    for kind in ["sweep", "listen"] {
        let Some(Value::Array(list)) = doc.get(kind) else { continue };
        for (i, job) in list.iter().enumerate() {
            let job = job
                .as_table()
                .ok_or_else(|| anyhow!("{}: [[{kind}]] #{}: not a table", path.display(), i + 1))?;
            let name = job
                .get("name")
                .and_then(Value::as_str)
                .map_or_else(|| format!("{kind} #{}", i + 1), str::to_string);
            let at = format!("{}: [[{kind}]] {name:?}", path.display());
            let args = to_args(&defaults, job).map_err(|e| anyhow!("{at}: {e}"))?;
            jobs.push(if kind == "sweep" {
                let schedule = job
                    .get("schedule")
                    .and_then(Value::as_str)
                    .ok_or_else(|| anyhow!("{at}: `schedule`: give a cron expression, e.g. \"0 2 * * *\""))?;
                let schedule = croner::parser::CronParser::builder()
                    .seconds(croner::parser::Seconds::Optional)
                    .build()
                    .parse(schedule)
                    .map_err(|e| anyhow!("{at}: `schedule` {schedule:?}: {e}"))?;
                let cfg = sweep_config(&defaults, job).map_err(|e| anyhow!("{at}: {e}"))?;
                Job::Sweep { name, schedule: Box::new(schedule), cfg: Box::new(cfg) }
            } else {
                if job.contains_key("schedule") {
                    bail!("{at}: `schedule` is for sweeps; a listener runs all the time");
                }
                let parsed =
                    ListenJob::try_parse_from(&args).map_err(|e| anyhow!("{at}: {}", first_line(&e)))?;
                Job::Listen { name, args: Box::new(parsed.args) }
            });
        }
    }
    let api = match doc.get("api") {
        Some(Value::Table(t)) => {
            let api =
                ApiConfig::from_table(t, &defaults).map_err(|e| anyhow!("{}: {e:#}", path.display()))?;
            // Scans started over the API take [defaults]: check them now, not at the first
            // POST /scans.
            let mut probe = toml::Table::new();
            probe.insert("targets".into(), Value::Array(vec![Value::String("s3://dlp-config-check".into())]));
            sweep_config(&defaults, &probe).map_err(|e| {
                anyhow!("{}: [defaults], for scans started over the API: {e}", path.display())
            })?;
            Some(api)
        }
        _ => None,
    };
    if jobs.is_empty() && api.is_none() {
        bail!("{}: no [[sweep]] or [[listen]] jobs, and no [api]", path.display());
    }
    Ok((jobs, api))
}

fn first_line(e: &clap::Error) -> String {
    let text = e.to_string();
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim_start_matches("error: ").to_string()
}

pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    let (jobs, api) = load(&args.config)?;
    shutdown::install()?;
    let (done, finished) = crossbeam_channel::unbounded::<(String, Result<()>)>();
    let mut threads = Vec::new();
    let ready = Arc::new(AtomicBool::new(false));
    if let Some(api) = api {
        let (done, ready) = (done.clone(), ready.clone());
        threads.push(
            std::thread::Builder::new()
                .name("api".into())
                .spawn(move || {
                    let _ = done.send(("the API".into(), super::api::run(api, ready)));
                })
                .context("starting the API thread")?,
        );
    }
    for job in jobs {
        let done = done.clone();
        let (name, run): (String, Box<dyn FnOnce() -> Result<()> + Send>) = match job {
            Job::Sweep { name, schedule, cfg } => {
                let n = name.clone();
                (name, Box::new(move || sweeps(&n, &schedule, &cfg)))
            }
            Job::Listen { name, args } => (name, Box::new(move || listen_until_stopped(*args).map(|_| ()))),
        };
        say!("serve: starting {name}");
        threads.push(
            std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || {
                    let _ = done.send((name, run()));
                })
                .context("starting a job thread")?,
        );
    }
    drop(done);
    ready.store(true, Ordering::Relaxed);
    let mut code = ExitCode::SUCCESS;
    for (name, result) in finished.iter() {
        match result {
            Ok(()) if shutdown::requested() => {}
            Ok(()) => say!("serve: {name} ended"),
            Err(e) => {
                say!("error: serve: {name}: {e:#}; stopping the other jobs");
                code = ExitCode::from(2);
                shutdown::request();
            }
        }
    }
    for t in threads {
        let _ = t.join();
    }
    say!("serve: stopped");
    Ok(code)
}

/// Runs a sweep at each time of its schedule until shutdown.
fn sweeps(name: &str, schedule: &croner::Cron, cfg: &ScanConfig) -> Result<()> {
    loop {
        let now = chrono::Utc::now();
        let next = schedule
            .find_next_occurrence(&now, false)
            .map_err(|e| anyhow!("{name}: no next time for its schedule: {e}"))?;
        say!("serve: {name}: next sweep at {}", next.format("%Y-%m-%dT%H:%M:%SZ"));
        while chrono::Utc::now() < next {
            if shutdown::requested() {
                return Ok(());
            }
            let left = (next - chrono::Utc::now()).to_std().unwrap_or_default();
            std::thread::sleep(left.min(Duration::from_millis(200)));
        }
        if shutdown::requested() {
            return Ok(());
        }
        say!("serve: {name}: sweeping {}", cfg.targets.join(" "));
        match crate::drivers::scan::run_ref(cfg) {
            // The sweep printed its summary, unless `quiet`.
            Ok((_, cov)) if cfg.quiet => {
                say!("serve: {name}: {}", crate::drivers::scan::sweep_summary(&cov))
            }
            Ok(_) => say!("serve: {name}: sweep done"),
            // A failed sweep (e.g. the store unreachable) is retried at its next time.
            Err(e) => say!("error: serve: {name}: {e:#}; trying again at the next time"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides() {
        let mut doc: toml::Table =
            "[defaults]\npolicy = \"a.toml\"\n[api]\nlisten = \"127.0.0.1:1\"".parse().unwrap();
        let vars = [
            ("DLP_CONFIG__API__LISTEN", "0.0.0.0:9090"),
            ("DLP_CONFIG__API__MAX_RUNNING_SCANS", "3"),
            ("DLP_CONFIG__DEFAULTS__STATE", "postgres://u:p@db/dlp"),
            ("DLP_CONFIG__DEFAULTS__INCLUDE", "[\"*.txt\", \"*.csv\"]"),
            ("DLP_CONFIG__DEFAULTS__MODIFIED_SINCE", "2026-01-01"),
            ("DLP_STATE", "ignored"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let set = apply_env(&mut doc, vars.into_iter()).unwrap();
        assert_eq!(
            set,
            [
                "api.listen",
                "api.max-running-scans",
                "defaults.state",
                "defaults.include",
                "defaults.modified-since"
            ]
        );
        assert_eq!(doc["defaults"]["modified-since"].as_str(), Some("2026-01-01"));
        assert_eq!(doc["api"]["listen"].as_str(), Some("0.0.0.0:9090"));
        assert_eq!(doc["api"]["max-running-scans"].as_integer(), Some(3));
        assert_eq!(doc["defaults"]["state"].as_str(), Some("postgres://u:p@db/dlp"));
        assert_eq!(doc["defaults"]["include"].as_array().map(Vec::len), Some(2));
        assert_eq!(doc["defaults"]["policy"].as_str(), Some("a.toml"));
        for bad in ["DLP_CONFIG__SWEEP__FULL", "DLP_CONFIG__API", "DLP_CONFIG____X"] {
            let e = apply_env(&mut doc, [(bad.to_string(), "1".to_string())].into_iter()).unwrap_err();
            assert!(e.starts_with(bad), "{e}");
        }
    }

    #[test]
    fn job_tables_become_flags() {
        let d: toml::Table = "policy = \"p.toml\"\nquiet = true".parse().unwrap();
        let j: toml::Table =
            "name = \"n\"\nschedule = \"* * * * *\"\ntargets = [\"s3://b\", \"d\"]\nsample-percent = 10\nfull = false\ninclude = [\"*.txt\", \"*.csv\"]\nquiet = false"
                .parse()
                .unwrap();
        let a = to_args(&d, &j).unwrap();
        assert_eq!(
            a,
            [
                "--include",
                "*.txt",
                "--include",
                "*.csv",
                "--policy",
                "p.toml",
                "--sample-percent",
                "10",
                "--",
                "s3://b",
                "d"
            ]
        );
        assert!(to_args(&d, &"name = \"x\"".parse().unwrap()).is_err());
        assert!(to_args(&d, &"targets = [\"d\"]\nx = {a = 1}".parse().unwrap()).is_err());
    }
}
