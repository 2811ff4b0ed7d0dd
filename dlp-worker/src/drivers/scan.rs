//! `dlp-worker scan`: list targets on one thread, scan objects on a pool of threads fed
//! through a bounded channel, and write findings from the calling thread as they arrive.
//! Bucket objects are downloaded by tasks on a small I/O runtime and streamed to the scan
//! threads (see `source::remote`). Memory is bounded: objects are streamed, and every
//! channel is bounded (backpressure).

use crate::config::ScanConfig;
use crate::output::{self, Coverage, ObjectError, Record, Skip};
use crate::source::remote::{self, Remote, Target};
use crate::source::{local, Input, Job, Listed};
use anyhow::{Context, Result};
use crossbeam_channel::{bounded, RecvTimeoutError, Sender};
use dlp_core::extract::{Event as ExtractEvent, Extractor};
use dlp_core::Scanner;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Stack of each scanning thread (address space is reserved, not memory used).
const SCAN_THREAD_STACK: usize = 64 * 1024 * 1024;

/// What workers and the lister tell the writer.
enum Event {
    Finding(Box<Record>),
    Scanned { bytes: u64, findings: u64 },
    Skipped(Skip),
    Error(ObjectError),
    Filtered,
}

pub fn run(cfg: ScanConfig) -> Result<ExitCode> {
    let started = Instant::now();
    let out: Box<dyn Write + Send> = match &cfg.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating output file {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    // Bucket targets need the I/O runtime; local scans never start it.
    let runtime = if cfg.targets.iter().any(|t| Target::parse(t).is_some()) {
        Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("dlp-io")
                .enable_all()
                .build()
                .context("starting the I/O runtime")?,
        )
    } else {
        None
    };
    let remote = runtime.as_ref().map(|rt| Remote {
        rt: rt.handle().clone(),
        net: cfg.remote.net.clone(),
        fetch_slots: Arc::new(tokio::sync::Semaphore::new(cfg.remote.concurrency)),
        part_size: cfg.remote.part_size,
        stall_timeout: cfg.remote.stall_timeout,
        downloaded: Arc::new(AtomicU64::new(0)),
    });
    let downloaded = remote.as_ref().map(|r| r.downloaded.clone());
    let mut sink = output::sink(cfg.format, out);
    let progress = if cfg.progress { Some(progress_bar()) } else { None };
    let mut cov = Coverage::default();
    let (job_tx, job_rx) = bounded::<Job>((cfg.threads * 4).max(cfg.remote.concurrency));
    let (ev_tx, ev_rx) = bounded::<Event>(4096);
    let scanner = &cfg.scanner;
    let extractors = (&cfg.extractor, &cfg.remote_extractor);
    let raw = cfg.raw;
    let fetch_slots = remote.as_ref().map(|r| r.fetch_slots.clone());
    let write_result: std::io::Result<()> = std::thread::scope(|s| {
        // Owned here, so that it is dropped when this closure returns early (the output
        // failed): scan threads then stop at their next send instead of blocking on a full
        // channel, and the scope can join them.
        let ev_rx = ev_rx;
        let lister_tx = ev_tx.clone();
        let targets = &cfg.targets;
        let filter = &cfg.filter;
        let remote = remote.as_ref();
        s.spawn(move || {
            let mut emit = |item| match item {
                Listed::Object(job) => job_tx.send(job).is_ok(),
                Listed::Filtered => lister_tx.send(Event::Filtered).is_ok(),
                Listed::Skipped { object, reason, detail } => lister_tx
                    .send(Event::Skipped(Skip {
                        object,
                        path: None,
                        status: "skipped",
                        reason: reason.into(),
                        detail,
                    }))
                    .is_ok(),
                Listed::Error { object, error } => {
                    lister_tx.send(Event::Error(ObjectError { object, error })).is_ok()
                }
            };
            for t in targets {
                let more = match (Target::parse(t), remote) {
                    (None, _) => local::list(t, filter, &mut emit),
                    (Some(Ok(target)), Some(remote)) => remote::list(&target, remote, filter, &mut emit),
                    (Some(Ok(_)), None) => unreachable!("the runtime starts when any target is a bucket"),
                    (Some(Err(error)), _) => emit(Listed::Error { object: t.clone(), error }),
                };
                if !more {
                    break;
                }
            }
        });
        let (mut threads_started, mut spawn_error) = (0, None);
        for i in 0..cfg.threads {
            let rx = job_rx.clone();
            let tx = ev_tx.clone();
            // Third-party parsers that run in this process (spreadsheets, mail, Parquet, Avro,
            // 7z) get a large stack: deep recursion on hostile input should not overflow it,
            // since an overflow aborts the whole process.
            let spawned = std::thread::Builder::new()
                .name(format!("scan-{i}"))
                .stack_size(SCAN_THREAD_STACK)
                .spawn_scoped(s, move || {
                    for job in rx {
                        if !scan_object(scanner, extractors, raw, job, &tx) {
                            break;
                        }
                    }
                });
            match spawned {
                Ok(_) => threads_started += 1,
                Err(e) => {
                    spawn_error = Some(format!("starting scan thread {i}: {e}"));
                    break;
                }
            }
        }
        drop(ev_tx);
        drop(job_rx);
        if threads_started == 0 {
            // Nothing would scan the listed objects: fail rather than report them clean.
            return Err(std::io::Error::other(spawn_error.unwrap_or_else(|| "no scan threads".into())));
        }
        if let Some(e) = spawn_error {
            eprintln!("dlp-worker: warning: {e}; scanning with {threads_started} threads");
        }
        // Without a progress bar, a one-line summary goes to stderr every interval.
        let periodic = cfg.progress_interval.filter(|_| progress.is_none() && !cfg.quiet);
        let tick = periodic.map_or(Duration::from_secs(3600), |p| p.min(Duration::from_secs(1)));
        let mut last_line = Instant::now();
        loop {
            match ev_rx.recv_timeout(tick) {
                Ok(Event::Finding(r)) => {
                    cov.findings += 1;
                    if let Err(e) = sink.finding(*r) {
                        // Stop the lister too: it may be waiting for a download slot.
                        if let Some(slots) = &fetch_slots {
                            slots.close();
                        }
                        return Err(e);
                    }
                }
                Ok(Event::Scanned { bytes, findings }) => {
                    cov.objects_scanned += 1;
                    cov.bytes_scanned += bytes;
                    cov.objects_with_findings += u64::from(findings > 0);
                    if let Some(pb) = &progress {
                        pb.set_position(cov.objects_scanned);
                        pb.set_message(progress_text(&cov, downloaded.as_deref(), started));
                    }
                }
                Ok(Event::Skipped(skip)) => cov.skipped.push(skip),
                Ok(Event::Error(e)) => cov.errors.push(e),
                Ok(Event::Filtered) => cov.objects_filtered += 1,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if let Some(every) = periodic {
                if last_line.elapsed() >= every {
                    last_line = Instant::now();
                    eprintln!(
                        "dlp-worker: progress: {} objects, {}",
                        cov.objects_scanned,
                        progress_text(&cov, downloaded.as_deref(), started)
                    );
                }
            }
        }
        Ok(())
    });
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    if let Some(rt) = runtime {
        // Downloads still running belong to objects no longer wanted (the writer failed).
        rt.shutdown_background();
    }
    write_result.context("writing findings")?;
    cov.duration_ms = started.elapsed().as_millis() as u64;
    sink.finish(&cov, scanner).context("writing findings")?;
    report_coverage(&cfg, &cov);
    Ok(ExitCode::from(if !cov.errors.is_empty() {
        2
    } else if cov.findings > 0 {
        1
    } else {
        0
    }))
}

/// `12.0 MiB scanned, 3 findings, 1 errors, 4.0 MiB/s`; with buckets, the bytes downloaded
/// so far (of objects still being scanned too) give the volume and the rate.
fn progress_text(cov: &Coverage, downloaded: Option<&AtomicU64>, started: Instant) -> String {
    let secs = started.elapsed().as_secs_f64().max(1e-3);
    let (volume, bytes) = match downloaded {
        Some(d) => {
            let d = d.load(Ordering::Relaxed);
            (
                format!(
                    "{} scanned, {} downloaded",
                    output::human_bytes(cov.bytes_scanned),
                    output::human_bytes(d)
                ),
                d,
            )
        }
        None => (format!("{} scanned", output::human_bytes(cov.bytes_scanned)), cov.bytes_scanned),
    };
    format!(
        "{volume}, {} findings, {} errors, {}/s",
        cov.findings,
        cov.errors.len(),
        output::human_bytes((bytes as f64 / secs) as u64)
    )
}

/// Scans one object (extracting archives and documents), sending its findings, coverage
/// notes and outcome. Returns false when the writer has gone away. A panic inside the scan
/// is contained to this object and reported as an error.
/// `extractors`: for local objects, and for bucket objects.
fn scan_object(
    scanner: &Scanner,
    (extractor, remote_extractor): (&Extractor, &Extractor),
    raw: bool,
    job: Job,
    tx: &Sender<Event>,
) -> bool {
    let Job { mut obj, input } = job;
    // A bucket object's version is known once its first response arrives.
    let mut input = match input {
        Input::Remote(body) => match body.open() {
            Ok((version, reader)) => {
                obj.version = version;
                Opened::Remote(reader)
            }
            Err(error) => return tx.send(Event::Error(ObjectError { object: obj.name, error })).is_ok(),
        },
        Input::File(p) => Opened::File(p),
        Input::Stdin => Opened::Stdin,
    };
    let obj = &obj;
    let mut findings = 0u64;
    let mut writer_gone = false;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut on = |ev: ExtractEvent<'_>| {
            let event = match ev {
                ExtractEvent::Finding { members, page, finding } => {
                    findings += 1;
                    Event::Finding(Box::new(Record::new(obj, members, page, finding)))
                }
                ExtractEvent::Note(note) => Event::Skipped(Skip::from_note(obj, note)),
            };
            if !writer_gone && tx.send(event).is_err() {
                writer_gone = true;
            }
        };
        if raw {
            let mut sink = |finding| on(ExtractEvent::Finding { members: &[], page: None, finding });
            let bytes = match &mut input {
                Opened::Stdin => scanner.scan_reader(std::io::stdin().lock(), &mut sink),
                Opened::File(path) => {
                    std::fs::File::open(path).and_then(|f| scanner.scan_reader(f, &mut sink))
                }
                Opened::Remote(reader) => scanner.scan_reader(reader, &mut sink),
            };
            return bytes.map(|n| dlp_core::extract::Summary { object_bytes: n, text_bytes: n, parts: 1 });
        }
        match &mut input {
            Opened::Stdin => extractor.scan(scanner, &mut std::io::stdin().lock(), &obj.base_name, &mut on),
            Opened::File(path) => match std::fs::File::open(path) {
                Ok(mut file) => extractor.scan_file(scanner, &mut file, &obj.base_name, &mut on),
                Err(e) => Err(e),
            },
            Opened::Remote(reader) => remote_extractor.scan(scanner, reader, &obj.base_name, &mut on),
        }
    }));
    let event = match outcome {
        Ok(Ok(summary)) => Event::Scanned { bytes: summary.object_bytes, findings },
        Ok(Err(e)) => {
            Event::Error(ObjectError { object: obj.name.clone(), error: io_error_text(&e, findings) })
        }
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Event::Error(ObjectError {
                object: obj.name.clone(),
                error: format!(
                    "internal error while scanning ({msg}); findings may be incomplete; please report it"
                ),
            })
        }
    };
    !writer_gone && tx.send(event).is_ok()
}

/// An object's bytes, ready to read.
enum Opened {
    File(std::path::PathBuf),
    Stdin,
    Remote(remote::BodyReader),
}

fn io_error_text(e: &std::io::Error, findings_before: u64) -> String {
    let what = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file (removed while scanning?)".to_string(),
        std::io::ErrorKind::PermissionDenied => {
            "permission denied; run as a user that can read it, or exclude it".to_string()
        }
        _ if e.raw_os_error() == Some(21) => "is a directory".to_string(),
        _ => format!("read failed: {e}"),
    };
    if findings_before > 0 {
        format!("{what} (after {findings_before} findings; the object was only partly scanned)")
    } else {
        what
    }
}

fn report_coverage(cfg: &ScanConfig, cov: &Coverage) {
    if cfg.quiet {
        return;
    }
    let mut err = std::io::stderr().lock();
    for s in &cov.skipped {
        let _ = writeln!(err, "dlp-worker: {}", s.text());
    }
    for e in &cov.errors {
        let _ = writeln!(err, "dlp-worker: error: {}: {}", e.object, e.error);
    }
    let _ = writeln!(err, "dlp-worker: {}", cov.summary());
}

fn progress_bar() -> ProgressBar {
    let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template("{spinner} {pos} objects, {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}
