//! `dlp-worker`: scan files, folders and stdin (buckets come next) for sensitive data.
//!
//! Exit codes: 0 clean, 1 findings reported, 2 error (some object could not be scanned, or
//! the scan could not start).

#[macro_use]
mod logs;
mod actions;
mod aws;
mod azqueue;
mod config;
mod drivers;
mod metrics;
mod output;
mod policy;
mod shutdown;
mod source;
mod state;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Find sensitive data (cards, IDs, secrets, keys) in files, folders and streams.
#[derive(Parser, Debug)]
#[command(name = "dlp-worker", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines on stderr as `text` (default) or `json` (one object per line) [default:
    /// DLP_LOG_FORMAT, else text].
    #[arg(long, global = true, value_name = "FORMAT")]
    log_format: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Scan targets once and report findings.
    Scan(Box<ScanArgs>),
    /// Scan targets incrementally: only objects new or changed since their last scan (by
    /// ETag or version, and detector set), recorded in the state store.
    Sweep(Box<SweepArgs>),
    /// Scan each object that object-created events name, as they arrive: S3 notifications on
    /// SQS, Event Grid on an Azure Storage queue, or pushed over HTTP (Event Grid, Pub/Sub).
    Listen(Box<drivers::listen::ListenArgs>),
    /// Run sweeps on cron schedules and listeners in one long-running process, from a
    /// config file; SIGTERM stops it gracefully.
    Serve(drivers::serve::ServeArgs),
    /// List or test the detectors.
    #[command(subcommand)]
    Detectors(DetectorsCommand),
    /// Query the findings in the state store.
    Findings(drivers::findings::FindingsArgs),
    /// Show the audit log: every action taken, with who, when, why and the outcome.
    Audit(drivers::findings::AuditArgs),
    /// Put quarantined objects back where they were.
    Restore(drivers::findings::RestoreArgs),
    /// Internal: serve parser requests as a sandboxed child process (started by `scan`).
    #[command(name = "__sandbox", hide = true)]
    Sandbox {
        /// Address-space limit in bytes.
        #[arg(long)]
        max_memory: u64,
    },
}

/// Options shared by every command that loads detectors.
#[derive(Args, Debug, Clone)]
pub struct DetectorArgs {
    /// Load more detectors from a TOML file or a directory of them (repeatable).
    #[arg(long = "detectors", value_name = "FILE|DIR")]
    pub detectors: Vec<PathBuf>,
    /// Do not load the builtin detectors (use only --detectors).
    #[arg(long)]
    pub no_builtin: bool,
    /// Candidate generator: `rust` (default) or `hyperscan` (builds with the `hyperscan`
    /// feature only). Both report the same findings.
    #[arg(long, value_name = "ENGINE", default_value = "rust")]
    pub engine: dlp_core::Engine,
}

/// `dlp-worker scan`.
#[derive(Args, Debug, Clone)]
pub struct ScanArgs {
    /// Files, directories (recursive), `file://` URLs, `-` for stdin, or buckets:
    /// `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Output format [default: table on a terminal, jsonl otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write findings to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Include the raw matched value (`quote`) in findings. Off by default: only redacted
    /// values and fingerprints leave the process.
    #[arg(long)]
    pub include_quote: bool,
    /// Report findings at or above this likelihood.
    #[arg(long, value_name = "LEVEL", default_value = "POSSIBLE")]
    pub min_likelihood: dlp_core::Likelihood,
    #[command(flatten)]
    pub detector_args: DetectorArgs,
    /// Worker threads [default: DLP_THREADS, else the number of cores].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// File holding the fingerprint key [default: DLP_FINGERPRINT_KEY_FILE, else
    /// $XDG_CONFIG_HOME/dlp-worker/fingerprint.key, created on first use].
    #[arg(long, value_name = "FILE")]
    pub fingerprint_key_file: Option<PathBuf>,
    /// Print no coverage summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub net: NetArgs,
    /// Without a terminal, print a one-line progress summary to stderr this often, in
    /// seconds (0: never).
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub progress_interval: f64,
    /// Apply this policy file to what is found: alert, tag, quarantine, delete (see README,
    /// "Policies and actions").
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Show every action the policy would take, and take none.
    #[arg(long)]
    pub dry_run: bool,
    /// Let the policy's `delete` actions delete objects.
    #[arg(long)]
    pub allow_delete: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

/// `dlp-worker sweep`: `scan` plus what makes it incremental.
#[derive(Args, Debug, Clone)]
pub struct SweepArgs {
    #[command(flatten)]
    pub scan: ScanArgs,
    /// Scan every object, changed or not.
    #[arg(long)]
    pub full: bool,
    /// Scan this share of the objects (0-100), chosen by a hash of their URL: the same ones
    /// every time.
    #[arg(long, value_name = "PERCENT")]
    pub sample_percent: Option<f64>,
    /// Scan at most this many objects, then stop listing.
    #[arg(long, value_name = "N")]
    pub max_objects: Option<u64>,
    /// Fan out: send the objects to scan, as work items, to this SQS queue instead of
    /// scanning them; `listen --sqs` workers sharing a PostgreSQL state store scan them.
    #[arg(long, value_name = "QUEUE_URL", conflicts_with = "enqueue_azure_queue")]
    pub enqueue_sqs: Option<String>,
    /// Fan out through this Azure Storage queue (`https://ACCOUNT.queue.core.windows.net/QUEUE`),
    /// for `listen --azure-queue` workers.
    #[arg(long, value_name = "QUEUE_URL")]
    pub enqueue_azure_queue: Option<String>,
    /// Objects per work item (one queue message), at most as many as fit in 45,000 bytes.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub enqueue_batch: usize,
}

/// Where the state store is.
#[derive(Args, Debug, Clone)]
pub struct StateArgs {
    /// The state store: a SQLite file (or sqlite://PATH) or a postgres:// URL [default:
    /// DLP_STATE, else $XDG_DATA_HOME/dlp-worker/state.db].
    #[arg(long, value_name = "URL|FILE")]
    pub state: Option<String>,
    /// Record nothing in the state store (no policy can be used then).
    #[arg(long, conflicts_with = "state")]
    pub no_state: bool,
}

/// Which objects of a target to scan.
#[derive(Args, Debug, Clone)]
pub struct SelectArgs {
    /// Scan only objects whose path below the target matches this glob (repeatable; `*.pdf`
    /// matches in any folder, `reports/**` under one).
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Do not scan objects whose path below the target matches this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Leave out objects smaller than this.
    #[arg(long, value_name = "SIZE", value_parser = config::parse_size)]
    pub min_size: Option<u64>,
    /// Leave out objects larger than this (see --max-object-size to scan only their start).
    #[arg(long, value_name = "SIZE", value_parser = config::parse_size)]
    pub max_size: Option<u64>,
    /// Leave out objects last modified before this: 2026-11-01, 2026-11-01T12:00:00Z, or an
    /// age such as 36h or 7d.
    #[arg(long, value_name = "TIME", value_parser = source::filter::parse_since)]
    pub modified_since: Option<chrono::DateTime<chrono::Utc>>,
}

/// How bucket objects are fetched. Credentials and endpoints come from each cloud's own
/// environment and files (see README, "Buckets"), never from flags.
#[derive(Args, Debug, Clone)]
pub struct NetArgs {
    /// Bucket objects downloaded at once.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub concurrency: usize,
    /// Retries of a failed request (5xx, 429, timeout, dropped connection), with
    /// exponential backoff and jitter.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub retries: usize,
    /// Stop retrying a request after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 180.0)]
    pub retry_timeout: f64,
    /// Longest one request may take, in seconds (large objects are read in parts).
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub request_timeout: f64,
    /// Objects larger than this are read with consecutive ranged GETs of this size.
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = config::parse_size)]
    pub part_size: u64,
    /// At most this many store requests a second (GETs, and one per 1,000 listed objects),
    /// to stay under a provider's limits.
    #[arg(long, value_name = "N")]
    pub max_requests_per_second: Option<f64>,
}

/// Limits on the work one object may cause (see README, "Limits"). Sizes take K, M, G
/// suffixes (powers of 1024).
#[derive(Args, Debug, Clone)]
pub struct LimitArgs {
    /// Largest object read; the rest of a larger one is not scanned.
    #[arg(long, value_name = "SIZE", default_value = "64G", value_parser = config::parse_size)]
    pub max_object_size: u64,
    /// Most bytes decompressed or extracted from one object.
    #[arg(long, value_name = "SIZE", default_value = "512M", value_parser = config::parse_size)]
    pub max_extracted_size: u64,
    /// Most bytes read from one archive member, and the largest document parsed in memory.
    #[arg(long, value_name = "SIZE", default_value = "100M", value_parser = config::parse_size)]
    pub max_member_size: u64,
    /// Largest compression ratio of a member once it passes 1 MiB.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_ratio: u64,
    /// Deepest nesting of archives and documents.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub max_depth: u32,
    /// Most members read from one archive or document.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_entries: u64,
    /// Wall time per object, in seconds (for bucket objects, not counting time waiting for
    /// the download).
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0)]
    pub timeout: f64,
    /// Scan each object's bytes as they are: no decompression, archive, document or encoding
    /// handling (useful to measure detectors on text with known offsets).
    #[arg(long)]
    pub no_extract: bool,
    /// Run the PDF parser inside this process instead of in sandboxed child processes
    /// (faster to start; a parser crash or hang then affects the whole scan).
    #[arg(long)]
    pub no_sandbox: bool,
    /// Address-space limit of each sandboxed parser process.
    #[arg(long, value_name = "SIZE", default_value = "2G", value_parser = config::parse_size)]
    pub sandbox_memory: u64,
}

/// Output formats for findings.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON finding per line.
    Jsonl,
    /// One JSON document with findings and coverage.
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// A table for people.
    Table,
}

#[derive(Subcommand, Debug)]
enum DetectorsCommand {
    /// List every detector with its category and validator.
    List {
        #[command(flatten)]
        detector_args: DetectorArgs,
        /// table or json.
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
    },
    /// Run every detector's examples and negative examples; exit 1 on any failure. With
    /// FILEs, only the detectors in them are loaded and tested.
    Test {
        /// Detector files or directories to test (instead of the builtin set).
        #[arg(value_name = "FILE|DIR")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        detector_args: DetectorArgs,
    },
}

/// Formats for `detectors list`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    /// Aligned columns.
    Table,
    /// A JSON array of detector definitions.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = logs::init(cli.log_format.as_deref()) {
        say!("error: {e:#}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Scan(args) => config::ScanConfig::from_args(*args).and_then(drivers::scan::run),
        Command::Sweep(args) => shutdown::install()
            .and_then(|()| config::ScanConfig::from_sweep(*args))
            .and_then(drivers::scan::run),
        Command::Listen(args) => drivers::listen::listen(*args),
        Command::Serve(args) => drivers::serve::serve(args),
        Command::Findings(args) => drivers::findings::findings(args),
        Command::Audit(args) => drivers::findings::audit(args),
        Command::Restore(args) => drivers::findings::restore(args),
        Command::Sandbox { max_memory } => match dlp_core::extract::sandbox::serve(Some(max_memory)) {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(e) => Err(anyhow::anyhow!("sandbox: {e}")),
        },
        Command::Detectors(DetectorsCommand::List { detector_args, format }) => {
            drivers::detectors::list(&detector_args, format)
        }
        Command::Detectors(DetectorsCommand::Test { files, mut detector_args }) => {
            if !files.is_empty() {
                detector_args.no_builtin = true;
                detector_args.detectors.extend(files);
            }
            drivers::detectors::test(&detector_args)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            say!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
