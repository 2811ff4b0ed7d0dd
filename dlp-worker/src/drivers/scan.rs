//! `dlp-worker scan`: list targets on one thread, scan objects on a pool of threads fed
//! through a bounded channel, and write findings from the calling thread as they arrive.
//! Bucket objects are downloaded by tasks on a small I/O runtime and streamed to the scan
//! threads (see `source::remote`). Memory is bounded: objects are streamed, and every
//! channel is bounded (backpressure).

use super::checkpoint::{Progress, TargetMark};
use crate::actions::{self, Actions, ObjectDone};
use crate::config::ScanConfig;
use crate::output::{self, Coverage, ObjectError, Record, Skip};
use crate::source::remote::{self, Remote, Target};
use crate::source::{local, Gate, Input, Job, Listed, ObjectRef};
use crate::state::{self, State};
use anyhow::{Context, Result};
use crossbeam_channel::{bounded, RecvTimeoutError, Sender};
use dlp_core::extract::{Event as ExtractEvent, Extractor};
use dlp_core::Scanner;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A run's counts while it goes, for `GET /scans/{id}`.
#[derive(Debug, Default)]
pub struct Live {
    pub objects: AtomicU64,
    pub bytes: AtomicU64,
    pub findings: AtomicU64,
    pub skipped: AtomicU64,
    pub errors: AtomicU64,
    /// The run's id in the state store, once it is known.
    pub run_id: std::sync::OnceLock<String>,
}

impl Live {
    /// Shows the run's coverage so far.
    fn show(&self, cov: &Coverage) {
        self.objects.store(cov.objects_scanned, Ordering::Relaxed);
        self.bytes.store(cov.bytes_scanned, Ordering::Relaxed);
        self.findings.store(cov.findings, Ordering::Relaxed);
        self.skipped.store(cov.skipped.len() as u64, Ordering::Relaxed);
        self.errors.store(cov.errors.len() as u64, Ordering::Relaxed);
    }
}

/// Stack of each scanning thread (address space is reserved, not memory used).
const SCAN_THREAD_STACK: usize = 64 * 1024 * 1024;

/// What workers and the lister tell the writer.
enum Event {
    Finding(Box<Record>),
    /// An object's scan ended: scanned whole (`error` None), or not.
    Done {
        obj: Box<ObjectRef>,
        bytes: u64,
        findings: u64,
        error: Option<String>,
    },
    Skipped(Skip),
    /// A target that could not be listed.
    Error(ObjectError),
    Filtered,
    /// Not scanned by a sweep: `unchanged` or `not_sampled`.
    Passed(&'static str),
    /// Not scanned: another worker holds its claim (listen).
    Busy(String),
    /// A fan-out sweep sent this many objects in this many work items.
    Enqueued {
        objects: u64,
        messages: u64,
    },
    /// Listing stopped at `--max-objects`.
    Stopped,
}

/// What the writer gathers of an object while its findings arrive, for the state store
/// and the policy.
#[derive(Default)]
struct Gathered {
    records: Vec<Record>,
    counts: BTreeMap<String, (dlp_core::Category, [u64; 5])>,
}

pub fn run(cfg: ScanConfig) -> Result<ExitCode> {
    run_ref(&cfg).map(|(code, _)| code)
}

/// One scan of `cfg.targets`; returns the exit code and what it covered.
pub fn run_ref(cfg: &ScanConfig) -> Result<(ExitCode, Coverage)> {
    let started = Instant::now();
    let out: Box<dyn Write + Send> = match &cfg.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(cfg.append_output)
                .truncate(!cfg.append_output)
                .open(p)
                .with_context(|| format!("creating output file {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    // Bucket targets, the state store and actions need the I/O runtime.
    let runtime = if cfg.state.is_some() || cfg.targets.iter().any(|t| Target::parse(t).is_some()) {
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
    let run_id = new_run_id();
    let metrics = crate::metrics::get();
    metrics.run(cfg.command);
    let live = cfg.live.as_deref();
    if let Some(l) = live {
        let _ = l.run_id.set(run_id.clone());
    }
    let actions = match (&runtime, &cfg.state) {
        (Some(rt), Some(spec)) => Some(Arc::new(rt.block_on(start_actions(cfg, spec, &run_id))?)),
        _ => None,
    };
    let listing = match (&runtime, &actions) {
        (Some(rt), Some(a)) if cfg.command == "sweep" => Some(Arc::new(sweep_progress(cfg, rt, a)?)),
        _ => None,
    };
    let remote = runtime.as_ref().map(|rt| Remote {
        rt: rt.handle().clone(),
        net: cfg.remote.net.clone(),
        fetch_slots: Arc::new(tokio::sync::Semaphore::new(cfg.remote.concurrency)),
        part_size: cfg.remote.part_size,
        stall_timeout: cfg.remote.stall_timeout,
        downloaded: Arc::new(AtomicU64::new(0)),
        limiter: cfg.remote.max_rps.map(|r| Arc::new(remote::Limiter::new(r))),
        objects_only: cfg.objects_only,
    });
    let downloaded = remote.as_ref().map(|r| r.downloaded.clone());
    // A fan-out sweep sends what it lists to a queue instead of scanning it.
    let mut enqueuer = match &cfg.enqueue {
        Some(e) => {
            let full = cfg.sweep.as_ref().is_some_and(|s| s.full);
            let since = if full { state::now_ms() } else { 0 };
            Some(super::fanout::Enqueuer::new(e, &cfg.remote.net, since, &run_id)?)
        }
        None => None,
    };
    let enqueue_to = cfg.enqueue.as_ref().map(|e| e.queue.url().to_string());
    let io = runtime.as_ref().map(|rt| rt.handle().clone());
    let mut sink = output::sink(cfg.format, out);
    let progress = if cfg.progress { Some(progress_bar()) } else { None };
    let mut cov = Coverage::default();
    let (job_tx, job_rx) = bounded::<Job>((cfg.threads * 4).max(cfg.remote.concurrency));
    let (ev_tx, ev_rx) = bounded::<Event>(4096);
    let scanner = &cfg.scanner;
    let extractors = (&cfg.extractor, &cfg.remote_extractor);
    let raw = cfg.raw;
    let fetch_slots = remote.as_ref().map(|r| r.fetch_slots.clone());
    // Scanned objects go to the state store and the policy on the I/O runtime, a few at a
    // time; the channel is bounded, so a slow store slows the writer, not memory.
    let (act_tx, act_task) = match (&runtime, &actions) {
        (Some(rt), Some(a)) => {
            let (tx, rx) = tokio::sync::mpsc::channel::<ObjectDone>(256);
            (Some(tx), Some(rt.spawn(act_loop(a.clone(), rx, listing.clone(), cfg.claims.clone()))))
        }
        _ => (None, None),
    };
    let gather = act_tx.is_some();
    let mut gathered: HashMap<String, Gathered> = HashMap::new();
    let write_result: std::io::Result<()> = std::thread::scope(|s| {
        // Owned here, so that it is dropped when this closure returns early (the output
        // failed): scan threads then stop at their next send instead of blocking on a full
        // channel, and the scope can join them.
        let ev_rx = ev_rx;
        let lister_tx = ev_tx.clone();
        let targets = &cfg.targets;
        let filter = &cfg.filter;
        let remote = remote.as_ref();
        let mut gate_state =
            sweep_gate(cfg, actions.as_ref().and_then(|a| a.state.clone()), runtime.as_ref());
        let stop_tx = ev_tx.clone();
        let listing = listing.as_deref();
        s.spawn(move || {
            // Which target is being listed, and whether its listing failed (for checkpoints).
            let current = std::cell::Cell::new(0usize);
            let list_failed = std::cell::Cell::new(false);
            let stopping = std::cell::Cell::new(false);
            // Objects sent to the queue are done for the checkpoint; a failed send stops
            // the listing.
            let sent = |r: Result<Vec<String>>, messages: u64| match r {
                Ok(urls) => {
                    if let Some(p) = listing {
                        urls.iter().for_each(|u| p.done(u));
                    }
                    if !urls.is_empty() {
                        let _ = lister_tx.send(Event::Enqueued { objects: urls.len() as u64, messages });
                    }
                    true
                }
                Err(e) => {
                    let object = enqueue_to.clone().unwrap_or_default();
                    let _ = lister_tx.send(Event::Error(ObjectError { object, error: format!("{e:#}") }));
                    false
                }
            };
            let mut gate = |o: &ObjectRef| {
                let mut g = gate_state.decide(o);
                if matches!(g, Gate::Pass("busy")) {
                    let _ = lister_tx.send(Event::Busy(o.name.clone()));
                }
                if let (Gate::Scan, Some(q), Some(io)) = (&g, enqueuer.as_mut(), &io) {
                    if let Some(p) = listing {
                        p.listed(current.get(), &o.key, &o.name, false);
                    }
                    let before = q.messages;
                    let r = io.block_on(q.add(o.name.clone()));
                    g = if sent(r, q.messages - before) { Gate::Pass("enqueued") } else { Gate::Stop };
                } else if let (Some(p), Gate::Scan | Gate::Pass(_)) = (listing, &g) {
                    p.listed(current.get(), &o.key, &o.name, matches!(g, Gate::Pass(_)));
                }
                stopping.set(stopping.get() || matches!(g, Gate::Stop));
                g
            };
            let mut emit = |item| match item {
                Listed::Object(job) => job_tx.send(*job).is_ok(),
                Listed::Filtered => lister_tx.send(Event::Filtered).is_ok(),
                Listed::Passed("busy" | "enqueued") => true, // counted by the gate
                Listed::Passed(reason) => lister_tx.send(Event::Passed(reason)).is_ok(),
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
                    list_failed.set(true);
                    lister_tx.send(Event::Error(ObjectError { object, error })).is_ok()
                }
            };
            for (i, t) in targets.iter().enumerate() {
                current.set(i);
                list_failed.set(false);
                let after = listing.and_then(|p| p.targets.get(i)).and_then(|m| m.resume_after.as_deref());
                let more = match (Target::parse(t), remote) {
                    (None, _) => local::list(t, filter, &mut gate, &mut emit),
                    (Some(Ok(target)), Some(remote)) => {
                        remote::list(&target, after, remote, filter, &mut gate, &mut emit)
                    }
                    (Some(Ok(_)), None) => unreachable!("the runtime starts when any target is a bucket"),
                    (Some(Err(error)), _) => emit(Listed::Error { object: t.clone(), error }),
                };
                if !more {
                    break;
                }
                if let Some(p) = listing.filter(|_| !stopping.get() && !list_failed.get()) {
                    p.listing_ended(i);
                }
            }
            if let (Some(q), Some(io)) = (enqueuer.as_mut(), &io) {
                let before = q.messages;
                let r = io.block_on(q.flush());
                sent(r, q.messages - before);
            }
            if gate_state.stopped {
                let _ = stop_tx.send(Event::Stopped);
            }
        });
        let (mut threads_started, mut spawn_error) = (0, None);
        // Only sweeps stop early on SIGTERM; a listener finishes the events it holds.
        let sweeping = cfg.command == "sweep";
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
                        // SIGTERM: a sweep leaves listed objects it has not begun to the next
                        // sweep (they are not recorded); those begun are finished.
                        if sweeping && crate::shutdown::requested() {
                            continue;
                        }
                        let started = Instant::now();
                        let more = scan_object(scanner, extractors, raw, job, &tx);
                        crate::metrics::get().scan_seconds.observe(started.elapsed().as_secs_f64());
                        if !more {
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
            say!("warning: {e}; scanning with {threads_started} threads");
        }
        // Without a progress bar, a one-line summary goes to stderr every interval.
        let periodic = cfg.progress_interval.filter(|_| progress.is_none() && !cfg.quiet);
        let tick = periodic.map_or(Duration::from_secs(3600), |p| p.min(Duration::from_secs(1)));
        // Findings per info type not yet added to the metrics.
        let mut pending_findings: HashMap<Arc<str>, u64> = HashMap::new();
        let mut last_line = Instant::now();
        loop {
            match ev_rx.recv_timeout(tick) {
                Ok(Event::Finding(r)) => {
                    cov.findings += 1;
                    *pending_findings.entry(r.info_type.clone()).or_default() += 1;
                    match cov.findings_by_info_type.get_mut(&*r.info_type) {
                        Some(n) => *n += 1,
                        None => {
                            cov.findings_by_info_type.insert(r.info_type.to_string(), 1);
                        }
                    }
                    if gather {
                        let g = gathered.entry(r.object.clone()).or_default();
                        let c = g.counts.entry(r.info_type.to_string()).or_insert((r.category, [0; 5]));
                        c.1[r.likelihood as usize] += 1;
                        if g.records.len() < state::MAX_STORED_FINDINGS {
                            g.records.push((*r).clone());
                        }
                    }
                    if let Err(e) = sink.finding(*r) {
                        // Stop the lister too: it may be waiting for a download slot.
                        if let Some(slots) = &fetch_slots {
                            slots.close();
                        }
                        return Err(e);
                    }
                }
                Ok(Event::Done { obj, bytes, findings, error }) => {
                    // Findings reach the metrics an object at a time.
                    for (t, n) in pending_findings.drain() {
                        metrics.findings_of(&t, n);
                    }
                    match &error {
                        None => {
                            cov.objects_scanned += 1;
                            cov.bytes_scanned += bytes;
                            cov.objects_with_findings += u64::from(findings > 0);
                            metrics.objects.inc();
                            metrics.bytes.inc_by(bytes);
                        }
                        Some(e) => {
                            metrics.error("scan", 1);
                            cov.errors.push(ObjectError { object: obj.name.clone(), error: e.clone() })
                        }
                    }
                    if let Some(pb) = &progress {
                        pb.set_position(cov.objects_scanned);
                        pb.set_message(progress_text(&cov, downloaded.as_deref(), started));
                    }
                    if let Some(tx) = &act_tx {
                        let g = gathered.remove(&obj.name).unwrap_or_default();
                        let done =
                            ObjectDone { obj: *obj, records: g.records, counts: g.counts, findings, error };
                        if tx.blocking_send(done).is_err() {
                            return Err(std::io::Error::other("the state store task stopped"));
                        }
                    }
                }
                Ok(Event::Skipped(skip)) => {
                    metrics.skip(&skip.reason);
                    cov.skipped.push(skip)
                }
                Ok(Event::Error(e)) => {
                    metrics.error("listing", 1);
                    cov.errors.push(e)
                }
                Ok(Event::Filtered) => cov.objects_filtered += 1,
                Ok(Event::Passed("unchanged")) => cov.objects_unchanged += 1,
                Ok(Event::Passed(_)) => cov.objects_not_sampled += 1,
                Ok(Event::Busy(name)) => cov.busy.push(name),
                Ok(Event::Enqueued { objects, messages }) => {
                    cov.objects_enqueued += objects;
                    cov.messages_enqueued += messages;
                }
                Ok(Event::Stopped) => {
                    if crate::shutdown::requested() {
                        cov.interrupted = true;
                    } else {
                        cov.stopped_at_max_objects = true;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    for (t, n) in pending_findings.drain() {
                        metrics.findings_of(&t, n);
                    }
                    break;
                }
            }
            if let Some(l) = live {
                l.show(&cov);
            }
            if let Some(every) = periodic {
                if last_line.elapsed() >= every {
                    last_line = Instant::now();
                    say!(
                        "progress: {} objects, {}",
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
    // Every scanned object is recorded and acted on before the run ends.
    drop(act_tx);
    if let (Some(rt), Some(task)) = (&runtime, act_task) {
        match rt.block_on(task) {
            Ok(not_recorded) => cov.not_recorded = not_recorded,
            Err(_) => {
                say!("error: the state store task failed; some objects may not be recorded")
            }
        }
    }
    if let Some(a) = &actions {
        cov.actions_taken = a.taken.load(Ordering::Relaxed);
        cov.actions_failed = a.failed.load(Ordering::Relaxed);
        metrics.error("action", cov.actions_failed);
    }
    metrics.error("record", cov.not_recorded.len() as u64);
    write_result.context("writing findings")?;
    cov.duration_ms = started.elapsed().as_millis() as u64;
    sink.finish(&cov, scanner).context("writing findings")?;
    report_coverage(cfg, &cov);
    let code = if !cov.errors.is_empty() || cov.actions_failed > 0 {
        2
    } else if cov.findings > 0 {
        1
    } else {
        0
    };
    if let (Some(rt), Some(a)) = (&runtime, &actions) {
        if let Some(state) = &a.state {
            let totals = state::RunTotals {
                objects_scanned: cov.objects_scanned as i64,
                bytes_scanned: cov.bytes_scanned as i64,
                findings: cov.findings as i64,
                skipped: cov.skipped.len() as i64,
                errors: cov.errors.len() as i64,
                actions: cov.actions_taken as i64,
                exit_code: i64::from(code),
            };
            if let Err(e) = rt.block_on(state.finish_run(&run_id, &totals)) {
                say!("error: {e:#}");
                return Ok((ExitCode::from(2), cov));
            }
        }
    }
    if let Some(rt) = runtime {
        // Downloads still running belong to objects no longer wanted (the writer failed).
        rt.shutdown_background();
    }
    Ok((ExitCode::from(code), cov))
}

/// What a sweep does with a listed object, before it is fetched: skip it when it is out of
/// the sample or unchanged since its last whole scan with this detector set, stop at
/// `--max-objects`. A plain scan takes everything.
struct SweepGate {
    sweep: Option<crate::config::SweepConfig>,
    state: Option<State>,
    rt: Option<tokio::runtime::Handle>,
    ruleset_hash: String,
    taken: u64,
    stopped: bool,
    sweeping: bool,
    claims: Option<crate::config::Claims>,
}

fn sweep_gate(cfg: &ScanConfig, state: Option<State>, rt: Option<&tokio::runtime::Runtime>) -> SweepGate {
    SweepGate {
        sweep: cfg.sweep.clone(),
        state,
        rt: rt.map(|r| r.handle().clone()),
        ruleset_hash: cfg.ruleset_hash.clone(),
        taken: 0,
        stopped: false,
        sweeping: cfg.command == "sweep",
        claims: cfg.claims.clone(),
    }
}

impl SweepGate {
    fn decide(&mut self, obj: &ObjectRef) -> Gate {
        let Some(sweep) = &self.sweep else { return Gate::Scan };
        // SIGTERM: a sweep lists no further; what is in flight is finished and recorded. (A
        // listener's events are finished whole: they are acknowledged after the scan.)
        if self.sweeping && crate::shutdown::requested() {
            self.stopped = true;
            return Gate::Stop;
        }
        if let Some(p) = sweep.sample_percent {
            if !in_sample(&obj.name, p) {
                return Gate::Pass("not_sampled");
            }
        }
        let token =
            state::change_token(obj.e_tag.as_deref(), obj.version_id.as_deref(), obj.size, obj.last_modified);
        // A full sweep's work item rescans what was scanned before the sweep began.
        let since = self.claims.as_ref().and_then(|c| c.since.get(&obj.name).copied()).unwrap_or(0);
        if let (Some(state), Some(rt), Some(token)) = (&self.state, &self.rt, &token) {
            let store = obj.store_name();
            // A failed lookup scans the object: a sweep never skips what it cannot prove done.
            if !sweep.full
                && since == 0
                && rt.block_on(state.unchanged(&store, &obj.key, token, &self.ruleset_hash)).unwrap_or(false)
            {
                return Gate::Pass("unchanged");
            }
            if let Some(c) = &self.claims {
                let key = state::ClaimKey {
                    store: &store,
                    key: &obj.key,
                    etag: token,
                    ruleset_hash: &self.ruleset_hash,
                };
                let until = state::now_ms() + c.lease.as_millis() as i64;
                match rt.block_on(state.claim(&key, &c.worker, until, since)) {
                    Ok(state::Claim::Taken) => {}
                    Ok(state::Claim::Done) => return Gate::Pass("unchanged"),
                    Ok(state::Claim::Busy) => return Gate::Pass("busy"),
                    // Not provably ours: leave it to the event's next delivery.
                    Err(e) => {
                        say!("warning: {}: {e:#}; the event will be received again", obj.name);
                        return Gate::Pass("busy");
                    }
                }
            }
        }
        if let Some(max) = sweep.max_objects {
            if self.taken >= max {
                self.stopped = true;
                return Gate::Stop;
            }
        }
        self.taken += 1;
        Gate::Scan
    }
}

/// Whether `name` is in a `percent` sample: the first 8 bytes of its SHA-256 below the
/// share, so the same objects are chosen every time.
fn in_sample(name: &str, percent: f64) -> bool {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(name.as_bytes());
    let v = u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]);
    (v as f64) < (percent / 100.0) * (u64::MAX as f64)
}

/// A run id: 16 random hex digits after the start time (sortable).
fn new_run_id() -> String {
    let mut r = [0u8; 8];
    let _ = getrandom::getrandom(&mut r);
    format!("{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"), hex::encode(r))
}

/// Opens the state store, records the run, and finishes actions a killed run left pending.
async fn start_actions(cfg: &ScanConfig, spec: &str, run_id: &str) -> Result<Actions> {
    let state = State::open(spec).await?;
    state
        .begin_run(&state::RunStart {
            id: run_id.to_string(),
            command: cfg.command.into(),
            targets: cfg.targets.join(" "),
            ruleset_hash: cfg.ruleset_hash.clone(),
            policy_hash: cfg.policy.as_ref().map(|p| p.hash.clone()),
            actor: actions::actor(),
            dry_run: cfg.dry_run,
        })
        .await?;
    let a = Actions::new(
        Some(state),
        cfg.policy.clone(),
        actions::Settings {
            run_id: run_id.to_string(),
            ruleset_hash: cfg.ruleset_hash.clone(),
            dry_run: cfg.dry_run,
            allow_delete: cfg.allow_delete,
            net: cfg.remote.net.clone(),
            worker: cfg.claims.as_ref().map(|c| c.worker.clone()),
        },
    )?;
    if cfg.policy.is_some() && !cfg.dry_run {
        let n = a.recover().await.context("finishing the actions an interrupted run left pending")?;
        if n > 0 && !cfg.quiet {
            say!("finished {n} actions an interrupted run left pending (see `dlp-worker audit`)");
        }
    }
    Ok(a)
}

/// Records scanned objects in batches (one transaction each: up to 256 objects, as many as
/// are waiting), then applies the policy to those with findings, up to 8 at a time. Returns
/// the objects that were scanned but not recorded under this worker's claim (the store
/// failed, or the claim was lost), whose events must come again.
async fn act_loop(
    actions: Arc<Actions>,
    mut rx: tokio::sync::mpsc::Receiver<ObjectDone>,
    progress: Option<Arc<Progress>>,
    claims: Option<crate::config::Claims>,
) -> Vec<String> {
    let slots = Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = tokio::task::JoinSet::new();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut not_recorded = Vec::new();
    // Claims are renewed by their own task, so slow actions or records cannot stall it.
    let renewer = match (&claims, &actions.state) {
        (Some(c), Some(state)) => Some(tokio::spawn(renew_claims(state.clone(), c.clone()))),
        _ => None,
    };
    loop {
        let first = tokio::select! {
            d = rx.recv() => match d { Some(d) => d, None => break },
            _ = tick.tick() => {
                save_checkpoints(&actions, progress.as_deref()).await;
                continue;
            }
        };
        let mut batch = vec![first];
        while batch.len() < 256 {
            match rx.try_recv() {
                Ok(d) => batch.push(d),
                Err(_) => break,
            }
        }
        let recorded = actions.record(&batch).await;
        for (done, recorded) in batch.into_iter().zip(recorded) {
            let url = done.obj.name.clone();
            if !recorded {
                not_recorded.push(url);
                continue;
            }
            if !actions.wants(&done) {
                if let Some(p) = &progress {
                    p.done(&url);
                }
                continue;
            }
            let Ok(permit) = slots.clone().acquire_owned().await else { break };
            let (a, p) = (actions.clone(), progress.clone());
            tasks.spawn(async move {
                a.act(done).await;
                // Acted on: the checkpoint may pass it.
                if let Some(p) = p {
                    p.done(&url);
                }
                drop(permit);
            });
        }
        while tasks.try_join_next().is_some() {}
        save_checkpoints(&actions, progress.as_deref()).await;
    }
    while tasks.join_next().await.is_some() {}
    save_checkpoints(&actions, progress.as_deref()).await;
    if let Some(r) = renewer {
        r.abort();
    }
    // Claims of objects this run took but did not record (stopped, the output or the store
    // failed, or another version was read): the next delivery takes them again.
    if let (Some(c), Some(state)) = (&claims, &actions.state) {
        if let Err(e) = state.release_claims(&c.worker).await {
            say!("warning: {e:#}; other workers take those objects when the claims expire");
        }
    }
    not_recorded
}

/// Renews this worker's claims every third of their lease, so that while it lives no other
/// worker takes the objects it is scanning.
async fn renew_claims(state: State, c: crate::config::Claims) {
    loop {
        tokio::time::sleep(c.lease / 3).await;
        if let Err(e) = state.renew_claims(&c.worker, state::now_ms() + c.lease.as_millis() as i64).await {
            say!("warning: {e:#}");
        }
    }
}

/// Writes the checkpoints that moved (or clears those of targets listed to their end).
async fn save_checkpoints(actions: &Actions, progress: Option<&Progress>) {
    let (Some(p), Some(state)) = (progress, &actions.state) else { return };
    for (t, mark) in p.to_save() {
        let m = &p.targets[t];
        if m.url.is_empty() {
            continue;
        }
        if let Err(e) = state.save_checkpoint(&m.id, &m.url, mark.as_deref(), actions.run_id()).await {
            say!("warning: saving the sweep checkpoint of {}: {e:#}", m.url);
        }
    }
}

/// The checkpoints of a sweep's bucket targets, read from the state store: a sweep like
/// this one (same detector set, `--full`, `--sample-percent`) that did not finish listing a
/// target left where to resume.
fn sweep_progress(cfg: &ScanConfig, rt: &tokio::runtime::Runtime, actions: &Actions) -> Result<Progress> {
    use sha2::{Digest, Sha256};
    let sweep = cfg.sweep.clone().unwrap_or(crate::config::SweepConfig {
        full: false,
        sample_percent: None,
        max_objects: None,
    });
    let mut marks = Vec::new();
    for t in &cfg.targets {
        let url = match Target::parse(t) {
            Some(Ok(target)) => target.url(),
            _ => String::new(), // local folders list in no fixed order: no checkpoint
        };
        // A fan-out sweep's objects are done once sent: it resumes only another fan-out sweep.
        let fan_out = cfg.enqueue.as_ref().map(|e| e.queue.url());
        let id = hex::encode(Sha256::digest(match fan_out {
            None => format!("{url}\n{}\n{}\n{:?}", cfg.ruleset_hash, sweep.full, sweep.sample_percent),
            Some(q) => {
                format!("{url}\n{}\n{}\n{:?}\n{q}", cfg.ruleset_hash, sweep.full, sweep.sample_percent)
            }
        }));
        let resume_after = match (&actions.state, url.is_empty()) {
            (Some(state), false) => rt.block_on(state.checkpoint(&id))?,
            _ => None,
        };
        if let Some(k) = &resume_after {
            say!("sweep: resuming {url} after {k} (where an unfinished sweep stopped listing)");
        }
        marks.push(TargetMark { id, url, resume_after });
    }
    Ok(Progress::new(marks))
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
            Ok((fetched, reader)) => {
                obj.version = fetched.version;
                obj.e_tag = fetched.e_tag;
                obj.version_id = fetched.version_id;
                obj.content_type = fetched.content_type;
                obj.last_modified = fetched.last_modified.or(obj.last_modified);
                obj.size = Some(reader.size());
                Opened::Remote(reader)
            }
            Err(error) => {
                let done = Event::Done { obj: Box::new(obj), bytes: 0, findings: 0, error: Some(error) };
                return tx.send(done).is_ok();
            }
        },
        Input::File(p) => Opened::File(p),
        Input::Stdin => Opened::Stdin,
    };
    let owned = obj;
    let obj = &owned;
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
    let (bytes, error) = match outcome {
        Ok(Ok(summary)) => (summary.object_bytes, None),
        Ok(Err(e)) => (0, Some(io_error_text(&e, findings))),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            (
                0,
                Some(format!(
                    "internal error while scanning ({msg}); findings may be incomplete; please report it"
                )),
            )
        }
    };
    let event = Event::Done { obj: Box::new(owned), bytes, findings, error };
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
    for s in &cov.skipped {
        say!("{}", s.text());
    }
    for e in &cov.errors {
        say!("error: {}: {}", e.object, e.error);
    }
    say!("{}", cov.summary());
    if cfg.sweep.is_some() {
        say!("{}", sweep_summary(cov));
    }
}

/// The end-of-sweep line: listed, scanned, unchanged, skipped by reason, errors, findings by
/// info type, bytes, duration.
pub fn sweep_summary(cov: &Coverage) -> String {
    let listed = cov.objects_scanned
        + cov.errors.len() as u64
        + cov.objects_unchanged
        + cov.objects_not_sampled
        + cov.objects_filtered
        + cov.objects_enqueued;
    let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
    for s in cov.skipped.iter().filter(|s| s.path.is_none()) {
        *reasons.entry(s.reason.as_str()).or_default() += 1;
    }
    let join = |m: Vec<String>| if m.is_empty() { "none".to_string() } else { m.join(", ") };
    format!(
        "sweep: {listed} objects listed, {} scanned{}, {} unchanged, {} not sampled, {} filtered out{}; skipped: {}; {} errors; findings by info type: {}; {} in {:.1}s",
        cov.objects_scanned,
        if cov.objects_enqueued > 0 {
            format!(", {} enqueued in {} work items", cov.objects_enqueued, cov.messages_enqueued)
        } else {
            String::new()
        },
        cov.objects_unchanged,
        cov.objects_not_sampled,
        cov.objects_filtered,
        if cov.stopped_at_max_objects {
            " (stopped at --max-objects)"
        } else if cov.interrupted {
            " (interrupted: the next sweep goes on from here)"
        } else {
            ""
        },
        join(reasons.iter().map(|(r, n)| format!("{r} {n}")).collect()),
        cov.errors.len(),
        join(cov.findings_by_info_type.iter().map(|(t, n)| format!("{t} {n}")).collect()),
        output::human_bytes(cov.bytes_scanned),
        cov.duration_ms as f64 / 1000.0
    )
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
