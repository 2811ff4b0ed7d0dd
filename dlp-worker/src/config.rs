//! Configuration: command-line flags and environment, read once at start-up into one
//! validated struct that is passed down.

use crate::{DetectorArgs, Format, ScanArgs};
use anyhow::{bail, Context, Result};
use dlp_core::Scanner;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Everything `scan` needs, validated.
pub struct ScanConfig {
    pub targets: Vec<String>,
    pub format: Format,
    pub output: Option<PathBuf>,
    pub threads: usize,
    pub quiet: bool,
    pub progress: bool,
    pub scanner: Scanner,
}

impl ScanConfig {
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
        })
    }
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
    tune(b).build().context("compiling detectors")
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
