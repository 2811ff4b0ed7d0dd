//! Configuration: command-line flags and environment, read once at start-up into one
//! validated struct that is passed down.

use crate::policy::Policy;
use crate::source::credentials::NetConfig;
use crate::source::filter::Filter;
use crate::source::remote::Target;
use crate::{DetectorArgs, Format, LimitArgs, NetArgs, ScanArgs, StateArgs, SweepArgs};
use anyhow::{bail, Context, Result};
use dlp_core::extract::{sandbox::SandboxPdf, Extractor, Limits};
use dlp_core::Scanner;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Everything `scan` needs, validated.
pub struct ScanConfig {
    pub targets: Vec<String>,
    pub format: Format,
    pub output: Option<PathBuf>,
    pub threads: usize,
    pub quiet: bool,
    pub progress: bool,
    pub scanner: Scanner,
    pub extractor: Extractor,
    /// The extractor for bucket objects: the same, but `--timeout` does not count time spent
    /// waiting for the download (request and stall timeouts bound that).
    pub remote_extractor: Extractor,
    /// `--no-extract`: scan raw bytes.
    pub raw: bool,
    pub filter: Filter,
    pub remote: RemoteConfig,
    /// Period of the progress line on stderr when there is no progress bar.
    pub progress_interval: Option<Duration>,
    pub policy: Option<Arc<Policy>>,
    /// The state store to open, if any.
    pub state: Option<String>,
    pub dry_run: bool,
    pub allow_delete: bool,
    /// SHA-256 of the detector set and settings that decide findings.
    pub ruleset_hash: String,
    /// Set for `sweep` (and `listen`, which skips objects already scanned at their version).
    pub sweep: Option<SweepConfig>,
    /// `scan`, `sweep` or `listen`, for the runs table.
    pub command: &'static str,
    /// Append findings to `--output` (listen writes one batch after another).
    pub append_output: bool,
    /// Counts kept up to date while the run goes (scans started over the API).
    pub live: Option<std::sync::Arc<crate::drivers::scan::Live>>,
    /// Fan-out sweeps: send the objects to scan to this queue instead of scanning them.
    pub enqueue: Option<crate::drivers::fanout::EnqueueConfig>,
    /// The targets name single objects (events), not prefixes: each is read with one HEAD
    /// request instead of a listing.
    pub objects_only: bool,
    /// Set for `listen`: claim each object version in the state store before fetching it,
    /// so that of many workers sharing the store one scans and acts on it.
    pub claims: Option<Claims>,
}

/// How a worker claims objects (see `State::claim`).
#[derive(Debug, Clone)]
pub struct Claims {
    /// This process's name in the claims table: `user@host/pid-random`.
    pub worker: String,
    /// How long a claim lasts unrenewed; renewed every third of it while the run goes on.
    pub lease: Duration,
    /// Per object URL, the start (Unix ms) of the full sweep that asked for it: a claim done
    /// before that is taken again.
    pub since: std::collections::HashMap<String, i64>,
}

impl Claims {
    /// Claims for this process, each lasting `lease` unrenewed.
    pub fn new(lease: Duration) -> Claims {
        let mut r = [0u8; 4];
        let _ = getrandom::getrandom(&mut r);
        let worker = format!("{}/{}-{}", crate::actions::actor(), std::process::id(), hex::encode(r));
        Claims { worker, lease, since: Default::default() }
    }
}

/// What makes a sweep incremental.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    pub full: bool,
    pub sample_percent: Option<f64>,
    pub max_objects: Option<u64>,
}

/// The state store the flags and environment name: None with `--no-state`.
pub fn state_spec(a: &StateArgs) -> Result<Option<String>> {
    if a.no_state {
        return Ok(None);
    }
    if let Some(s) = &a.state {
        return Ok(Some(s.clone()));
    }
    if let Some(s) = std::env::var("DLP_STATE").ok().filter(|s| !s.is_empty()) {
        return Ok(Some(s));
    }
    Ok(Some(crate::state::default_path()?.to_string_lossy().into_owned()))
}

/// SHA-256 over the detectors' definitions and the minimum likelihood: two scans with the
/// same hash report the same findings for the same bytes.
fn ruleset_hash(scanner: &Scanner, min_likelihood: dlp_core::Likelihood) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for d in scanner.detectors() {
        h.update(serde_json::to_vec(&d.spec).unwrap_or_default());
        h.update(b"\n");
    }
    h.update(min_likelihood.as_str());
    hex::encode(h.finalize())
}

/// Checks the policy against the command line before anything is scanned.
fn check_policy(policy: &Policy, targets: &[String], dry_run: bool, allow_delete: bool) -> Result<()> {
    use crate::policy::Action;
    if !dry_run && !allow_delete {
        if let Some(r) = policy.rules.iter().find(|r| r.actions.contains(&Action::Delete)) {
            bail!(
                "policy rule {:?} deletes objects: pass --allow-delete to let it, or --dry-run to see what it would delete",
                r.name
            );
        }
    }
    if let Some(q) = &policy.quarantine {
        if let Some(Ok(loc)) = Target::parse(&q.location) {
            for t in targets {
                if let Some(Ok(t)) = Target::parse(t) {
                    let overlaps = t.scheme == loc.scheme
                        && t.bucket == loc.bucket
                        && (t.prefix.is_empty()
                            || loc.prefix.is_empty()
                            || loc.prefix.starts_with(&t.prefix)
                            || t.prefix.starts_with(&loc.prefix));
                    if overlaps {
                        bail!(
                            "the quarantine location {} is inside the target {}: quarantined objects would be scanned again; use another bucket or a prefix outside the target",
                            q.location,
                            t.url()
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

/// How bucket objects are fetched.
pub struct RemoteConfig {
    pub net: NetConfig,
    pub concurrency: usize,
    pub part_size: u64,
    /// A download that sends nothing for this long fails.
    pub stall_timeout: Duration,
    /// `--max-requests-per-second`.
    pub max_rps: Option<f64>,
}

fn seconds(flag: &str, v: f64) -> Result<Duration> {
    if !(v.is_finite() && v > 0.0) {
        bail!("{flag} must be a positive number of seconds");
    }
    Ok(Duration::from_secs_f64(v))
}

impl RemoteConfig {
    pub fn from_args(a: &NetArgs) -> Result<RemoteConfig> {
        if a.concurrency == 0 {
            bail!("--concurrency must be at least 1");
        }
        if a.part_size < 1024 * 1024 {
            bail!("--part-size must be at least 1M");
        }
        let request_timeout = seconds("--request-timeout", a.request_timeout)?;
        let retry_timeout = seconds("--retry-timeout", a.retry_timeout)?;
        Ok(RemoteConfig {
            net: NetConfig {
                retries: a.retries,
                retry_timeout,
                request_timeout,
                connect_timeout: request_timeout.min(Duration::from_secs(10)),
            },
            concurrency: a.concurrency,
            part_size: a.part_size,
            // Long enough for every retry of one request: the last may start up to a backoff
            // (15 s) after the retry timeout, then wait for a connection and an answer.
            stall_timeout: retry_timeout + request_timeout * 2 + Duration::from_secs(30),
            max_rps: match a.max_requests_per_second {
                Some(r) if !(r.is_finite() && r > 0.0) => {
                    bail!("--max-requests-per-second must be a positive number")
                }
                r => r,
            },
        })
    }
}

impl ScanConfig {
    /// `sweep`: a scan that needs the state store.
    pub fn from_sweep(a: SweepArgs) -> Result<ScanConfig> {
        if a.scan.state.no_state {
            bail!("sweep compares objects with their last scan in the state store: drop --no-state");
        }
        if let Some(p) = a.sample_percent {
            if !(p.is_finite() && p > 0.0 && p <= 100.0) {
                bail!("--sample-percent must be more than 0 and at most 100");
            }
        }
        if a.max_objects == Some(0) {
            bail!("--max-objects must be at least 1");
        }
        use crate::drivers::fanout::{EnqueueConfig, QueueUrl};
        let queue = match (a.enqueue_sqs, a.enqueue_azure_queue) {
            (Some(u), _) => Some(QueueUrl::Sqs(u)),
            (None, Some(u)) => Some(QueueUrl::Azure(u)),
            (None, None) => None,
        };
        if a.enqueue_batch == 0 {
            bail!("--enqueue-batch must be at least 1");
        }
        let mut cfg = ScanConfig::from_args(a.scan)?;
        if queue.is_some() {
            if let Some(t) = cfg.targets.iter().find(|t| crate::source::remote::Target::parse(t).is_none()) {
                bail!("{t}: a fan-out sweep enqueues bucket objects for workers on other machines: give s3://, gs:// or az:// targets");
            }
        }
        cfg.enqueue = queue.map(|queue| EnqueueConfig { queue, batch: a.enqueue_batch });
        cfg.sweep =
            Some(SweepConfig { full: a.full, sample_percent: a.sample_percent, max_objects: a.max_objects });
        cfg.command = "sweep";
        Ok(cfg)
    }

    pub fn from_args(args: ScanArgs) -> Result<ScanConfig> {
        let threads = match args.threads {
            Some(n) => n,
            None => match std::env::var("DLP_THREADS") {
                Ok(v) => {
                    v.parse().with_context(|| format!("DLP_THREADS={v:?} is not a number of threads"))?
                }
                Err(_) => std::thread::available_parallelism().map_or(1, |n| n.get()),
            },
        };
        if threads == 0 {
            bail!("the number of threads must be at least 1");
        }
        let key_file = match args.fingerprint_key_file {
            Some(p) => p,
            None => default_key_file()?,
        };
        let key = load_or_create_key(&key_file)?;
        let scanner = build_scanner(&args.detector_args, |b| {
            b.include_quote(args.include_quote).min_likelihood(args.min_likelihood).fingerprint_key(key)
        })?;
        let extractor = build_extractor(&args.limits, threads)?;
        let state = state_spec(&args.state)?;
        let policy = match &args.policy {
            Some(p) => {
                let known = scanner.detectors().iter().map(|d| d.spec.id.clone()).collect();
                let policy = Policy::load(p, &known)?;
                check_policy(&policy, &args.targets, args.dry_run, args.allow_delete)?;
                if policy.alert.jsonl.as_deref() == Some("-") && args.output.is_none() {
                    bail!("the policy sends alerts to stdout (jsonl = \"-\"), where findings go too: write findings elsewhere with --output FILE");
                }
                if state.is_none() {
                    bail!("--policy needs the state store for its audit log; drop --no-state");
                }
                Some(Arc::new(policy))
            }
            None if args.dry_run => bail!("--dry-run shows what a policy would do: give one with --policy"),
            None => None,
        };
        let ruleset_hash = ruleset_hash(&scanner, args.min_likelihood);
        let stdout_tty = std::io::stdout().is_terminal();
        let format = args.format.unwrap_or(if stdout_tty && args.output.is_none() {
            Format::Table
        } else {
            Format::Jsonl
        });
        Ok(ScanConfig {
            targets: args.targets,
            format,
            output: args.output,
            threads,
            quiet: args.quiet,
            progress: std::io::stderr().is_terminal(),
            scanner,
            raw: args.limits.no_extract,
            extractor: extractor.clone(),
            remote_extractor: extractor
                .clone()
                .with_limits(Limits { max_time_excludes_source: true, ..extractor.limits().clone() }),
            filter: Filter::new(
                &args.select.include,
                &args.select.exclude,
                args.select.min_size,
                args.select.max_size,
                args.select.modified_since,
            )?,
            remote: RemoteConfig::from_args(&args.net)?,
            progress_interval: if args.progress_interval == 0.0 {
                None
            } else {
                Some(seconds("--progress-interval", args.progress_interval)?)
            },
            policy,
            state,
            dry_run: args.dry_run,
            allow_delete: args.allow_delete,
            ruleset_hash,
            sweep: None,
            command: "scan",
            append_output: false,
            live: None,
            enqueue: None,
            objects_only: false,
            claims: None,
        })
    }
}

/// The extractor for these limits; PDF runs in sandboxed child processes (this same
/// executable, `__sandbox`) unless `--no-sandbox`.
fn build_extractor(args: &LimitArgs, threads: usize) -> Result<Extractor> {
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        bail!("--timeout must be a positive number of seconds");
    }
    let limits = Limits {
        max_object_bytes: args.max_object_size,
        max_total_bytes: args.max_extracted_size,
        max_member_bytes: args.max_member_size,
        max_ratio: args.max_ratio.max(1),
        ratio_grace: 1024 * 1024,
        max_depth: args.max_depth,
        max_entries: args.max_entries,
        max_time: Duration::from_secs_f64(args.timeout),
        max_time_excludes_source: false,
    };
    let extractor = Extractor::new(limits);
    if args.no_sandbox {
        return Ok(extractor);
    }
    let exe = std::env::current_exe()
        .context("finding this executable to start PDF sandboxes (or pass --no-sandbox)")?;
    let sandbox = SandboxPdf::new(
        exe,
        vec!["__sandbox".into(), "--max-memory".into(), args.sandbox_memory.to_string()],
        threads,
    );
    let sandbox = match std::env::var(dlp_core::extract::sandbox::SELFTEST_ENV) {
        Ok(v) => sandbox.env(dlp_core::extract::sandbox::SELFTEST_ENV, &v),
        Err(_) => sandbox,
    };
    Ok(extractor.with_pdf_backend(Some(Arc::new(sandbox))))
}

/// Parses a size: a number of bytes with an optional K, M, G or T suffix (powers of 1024;
/// `KiB`, `MB` and friends are read the same way).
pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("{s:?} is not a size (e.g. 512M, 2G, 1048576)"))?;
    let shift = match unit.trim().to_ascii_uppercase().trim_end_matches('B').trim_end_matches('I') {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("{s:?}: unknown size unit {unit:?} (use K, M, G or T)")),
    };
    n.checked_mul(1u64 << shift).ok_or_else(|| format!("{s:?} is too large"))
}

/// Builds a scanner from the builtin and user detectors; `tune` sets options.
pub fn build_scanner(
    args: &DetectorArgs,
    tune: impl FnOnce(dlp_core::ScannerBuilder) -> dlp_core::ScannerBuilder,
) -> Result<Scanner> {
    let mut b = Scanner::builder();
    if !args.no_builtin {
        b = b.builtin().context("loading the builtin detectors")?;
    }
    for p in &args.detectors {
        b = b.load_path(p).context("loading detectors (fix the file, or drop --detectors)")?;
    }
    if args.no_builtin && args.detectors.is_empty() {
        bail!("--no-builtin needs at least one --detectors FILE|DIR");
    }
    tune(b.engine(args.engine)).build().context("compiling detectors")
}

fn default_key_file() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("DLP_FINGERPRINT_KEY_FILE") {
        return Ok(PathBuf::from(p));
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(x) if !x.is_empty() => PathBuf::from(x),
        _ => match std::env::var_os("HOME") {
            Some(h) => PathBuf::from(h).join(".config"),
            None => bail!("cannot place the fingerprint key: neither XDG_CONFIG_HOME nor HOME is set; pass --fingerprint-key-file"),
        },
    };
    Ok(base.join("dlp-worker").join("fingerprint.key"))
}

/// Reads the hex key in `path`, creating it (mode 0600) with a random key if missing.
fn load_or_create_key(path: &Path) -> Result<Vec<u8>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = hex::decode(text.trim()).with_context(|| {
                format!("fingerprint key file {} is not hex; delete it to make a new key", path.display())
            })?;
            if key.len() < 16 {
                bail!(
                    "fingerprint key in {} is shorter than 16 bytes; use at least 32 random bytes in hex",
                    path.display()
                );
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = dlp_core::finding::random_key();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {} for the fingerprint key", dir.display()))?;
            }
            write_private(path, hex::encode(&key).as_bytes())
                .with_context(|| format!("creating fingerprint key file {}", path.display()))?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading fingerprint key file {}", path.display())),
    }
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(data)?;
    f.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1 KB"), Ok(1024));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
