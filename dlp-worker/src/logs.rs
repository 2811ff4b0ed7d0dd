//! Log lines on stderr. For people (the default): `dlp-worker: MESSAGE`. For log pipelines
//! (`--log-format json` or `DLP_LOG_FORMAT=json`): one JSON object per line through
//! `tracing`'s JSON formatter, e.g.
//! `{"timestamp":"2026-12-01T09:30:00.123456Z","level":"ERROR","message":"s3://b/k: …","threadName":"nightly"}`:
//! the level from the message's `error:`/`warning:` prefix (which is then left out), and the
//! thread, which under `serve` is the job's name. Findings never go to the log.

use anyhow::{bail, Result};
use std::sync::atomic::{AtomicBool, Ordering};

static JSON: AtomicBool = AtomicBool::new(false);

/// Logs one line: `say!("error: {}: {e}", object)`.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::logs::line(format_args!($($arg)*))
    };
}

/// Chooses the format: `format` (`--log-format`), else `DLP_LOG_FORMAT`, else text.
pub fn init(format: Option<&str>) -> Result<()> {
    let env = std::env::var("DLP_LOG_FORMAT").unwrap_or_default();
    match format.unwrap_or(&env) {
        "" | "text" => Ok(()),
        "json" => {
            let subscriber = tracing_subscriber::fmt()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .with_target(false)
                .with_thread_names(true)
                .with_writer(std::io::stderr)
                .finish();
            if tracing::subscriber::set_global_default(subscriber).is_err() {
                bail!("the log format was set twice");
            }
            JSON.store(true, Ordering::Relaxed);
            Ok(())
        }
        other => bail!("log format {other:?} (--log-format or DLP_LOG_FORMAT): give text or json"),
    }
}

/// Writes one log line (see [`say!`]).
pub fn line(args: std::fmt::Arguments<'_>) {
    if !JSON.load(Ordering::Relaxed) {
        eprintln!("dlp-worker: {args}");
        return;
    }
    let text = args.to_string();
    if let Some(m) = text.strip_prefix("error: ") {
        tracing::error!("{m}");
    } else if let Some(m) = text.strip_prefix("warning: ") {
        tracing::warn!("{m}");
    } else {
        tracing::info!("{text}");
    }
}
