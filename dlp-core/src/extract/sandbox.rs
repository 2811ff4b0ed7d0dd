//! Process isolation for third-party parsers (PDF): a pool of child processes, each with an
//! address-space limit (RLIMIT_AS), a deadline per document, and a fresh replacement after
//! any crash. A panic, abort, stack overflow, runaway allocation or hang in the parser costs
//! one document, never the scanning process.
//!
//! The child is a program that calls [`serve`] (for `dlp-worker`, itself with a hidden
//! subcommand). Requests and replies are length-prefixed frames on its stdin and stdout.

use super::limits::{Limit, Limits};
use super::pdf::{InProcessPdf, PdfBackend, PdfItem, PdfOutcome};
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const READY: &[u8] = b"\0DLP-SANDBOX-1\0";
const TAG_PAGE: u8 = 1;
const TAG_FILE: u8 = 2;
const TAG_END: u8 = 3;

/// Set in a child's environment to enable the self-test inputs (`SELFTEST-ABORT`,
/// `SELFTEST-HANG`, `SELFTEST-ALLOC`) that prove containment in tests.
pub const SELFTEST_ENV: &str = "DLP_SANDBOX_SELFTEST";

/// A [`PdfBackend`] that runs pdf_oxide in sandboxed child processes.
pub struct SandboxPdf {
    program: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    idle: Mutex<Vec<Worker>>,
    max_idle: usize,
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl std::fmt::Debug for SandboxPdf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxPdf").field("program", &self.program).field("args", &self.args).finish()
    }
}

impl SandboxPdf {
    /// Children run `program args…`, which must call [`serve`]. Up to `max_idle` children
    /// are kept between documents (one per scanning thread is right).
    pub fn new(program: PathBuf, args: Vec<String>, max_idle: usize) -> SandboxPdf {
        SandboxPdf { program, args, envs: Vec::new(), idle: Mutex::new(Vec::new()), max_idle }
    }

    /// Adds an environment variable for the children.
    pub fn env(mut self, key: &str, value: &str) -> SandboxPdf {
        self.envs.push((key.into(), value.into()));
        self
    }

    fn spawn(&self) -> io::Result<Worker> {
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(io::Error::other("child without pipes"));
        };
        let mut w = Worker { child, stdin, stdout };
        // Wait for the ready marker (anything before it, e.g. a test harness's banner, is skipped).
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        while !seen.ends_with(READY) {
            let mut b = [0u8; 1];
            read_exact_by(&mut w.stdout, &mut b, deadline)?;
            seen.push(b[0]);
            if seen.len() > 1 << 16 {
                return Err(io::Error::other("sandbox child did not announce itself"));
            }
        }
        Ok(w)
    }

    fn take(&self) -> io::Result<Worker> {
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match pooled {
            Some(w) => Ok(w),
            None => self.spawn(),
        }
    }

    fn give_back(&self, w: Worker) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < self.max_idle {
                idle.push(w);
            }
        }
    }

    fn run(
        &self,
        w: &mut Worker,
        data: &[u8],
        limits: &Limits,
        deadline: Instant,
        emit: &mut dyn FnMut(PdfItem),
    ) -> io::Result<PdfOutcome> {
        let mut req = Vec::with_capacity(24);
        req.extend_from_slice(&limits.max_member_bytes.to_le_bytes());
        let ms = deadline.saturating_duration_since(Instant::now()).as_millis() as u64;
        req.extend_from_slice(&ms.to_le_bytes());
        req.extend_from_slice(&(data.len() as u64).to_le_bytes());
        w.stdin.write_all(&req)?;
        w.stdin.write_all(data)?;
        w.stdin.flush()?;
        let max_frame = limits.max_member_bytes + 1024 * 1024;
        loop {
            let mut head = [0u8; 9];
            read_exact_by(&mut w.stdout, &mut head, deadline)?;
            let tag = head[0];
            let len = u64::from_le_bytes(head[1..9].try_into().unwrap_or([0; 8]));
            if len > max_frame {
                return Err(io::Error::other(format!("sandbox child sent a {len}-byte frame")));
            }
            let mut body = vec![0u8; len as usize];
            read_exact_by(&mut w.stdout, &mut body, deadline)?;
            match tag {
                TAG_PAGE if body.len() >= 4 => {
                    let number = u32::from_le_bytes([body[0], body[1], body[2], body[3]]);
                    let text = String::from_utf8_lossy(&body[4..]).into_owned();
                    emit(PdfItem::Page { number, text });
                }
                TAG_FILE if body.len() >= 4 => {
                    let n = u32::from_le_bytes([body[0], body[1], body[2], body[3]]) as usize;
                    let name = String::from_utf8_lossy(body.get(4..4 + n).unwrap_or_default()).into_owned();
                    let data = body.get(4 + n..).unwrap_or_default().to_vec();
                    emit(PdfItem::File { name, data });
                }
                TAG_END => return Ok(decode_outcome(&body)),
                _ => return Err(io::Error::other(format!("sandbox child sent frame tag {tag}"))),
            }
        }
    }
}

impl PdfBackend for SandboxPdf {
    fn extract(
        &self,
        data: &[u8],
        limits: &Limits,
        started: Instant,
        emit: &mut dyn FnMut(PdfItem),
    ) -> PdfOutcome {
        let deadline = started + limits.max_time;
        let mut worker = match self.take() {
            Ok(w) => w,
            Err(e) => {
                return PdfOutcome::Crashed(format!(
                    "cannot start the sandbox ({}): {e}",
                    self.program.display()
                ))
            }
        };
        match self.run(&mut worker, data, limits, deadline, emit) {
            Ok(outcome) => {
                self.give_back(worker);
                outcome
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => PdfOutcome::Limit(Limit::Time),
            Err(e) => {
                // The child died or misbehaved: say how, and let Drop reap it.
                let _ = worker.child.kill();
                let status = worker.child.wait().map(|s| describe_exit(&s)).unwrap_or_default();
                PdfOutcome::Crashed(format!("parser process failed ({e}){status}"))
            }
        }
    }
}

fn describe_exit(s: &std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = s.signal() {
            let what = match sig {
                6 => "abort: a failed allocation, a stack overflow or an assertion",
                9 => "killed",
                11 => "segmentation fault",
                _ => "signal",
            };
            return format!("; killed by signal {sig} ({what})");
        }
    }
    s.code().map(|c| format!("; exit code {c}")).unwrap_or_default()
}

/// Reads exactly `buf.len()` bytes, failing with `TimedOut` at the deadline.
fn read_exact_by(r: &mut ChildStdout, buf: &mut [u8], deadline: Instant) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        wait_readable(r, deadline)?;
        match r.read(&mut buf[filled..]) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the parser process exited")),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(unix)]
fn wait_readable(r: &ChildStdout, deadline: Instant) -> io::Result<()> {
    use std::os::unix::io::AsRawFd;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline"));
        }
        let mut fds = libc::pollfd { fd: r.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut fds, 1, ms) };
        if n > 0 {
            return Ok(());
        }
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

#[cfg(not(unix))]
fn wait_readable(_r: &ChildStdout, _deadline: Instant) -> io::Result<()> {
    Ok(())
}

fn encode_outcome(o: &PdfOutcome) -> Vec<u8> {
    let (code, text): (u8, String) = match o {
        PdfOutcome::Done => (0, String::new()),
        PdfOutcome::Encrypted => (1, String::new()),
        PdfOutcome::Limit(l) => (2, l.name().into()),
        PdfOutcome::Corrupt(m) => (3, m.clone()),
        PdfOutcome::Crashed(m) => (4, m.clone()),
    };
    let mut v = vec![code];
    v.extend_from_slice(text.as_bytes());
    v
}

fn decode_outcome(b: &[u8]) -> PdfOutcome {
    let text = String::from_utf8_lossy(b.get(1..).unwrap_or_default()).into_owned();
    match b.first() {
        Some(0) => PdfOutcome::Done,
        Some(1) => PdfOutcome::Encrypted,
        Some(2) => PdfOutcome::Limit(match text.as_str() {
            "time" => Limit::Time,
            _ => Limit::MemberBytes,
        }),
        Some(3) => PdfOutcome::Corrupt(text),
        _ => PdfOutcome::Crashed(text),
    }
}

fn frame(out: &mut impl Write, tag: u8, parts: &[&[u8]]) -> io::Result<()> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    out.write_all(&[tag])?;
    out.write_all(&(len as u64).to_le_bytes())?;
    for p in parts {
        out.write_all(p)?;
    }
    Ok(())
}

/// The child side: limits its own address space to `max_address_space` bytes (when given),
/// announces itself on stdout, then answers requests from stdin until it closes.
pub fn serve(max_address_space: Option<u64>) -> io::Result<()> {
    #[cfg(unix)]
    if let Some(bytes) = max_address_space {
        let lim = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
        // SAFETY: setrlimit reads one valid struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(unix))]
    let _ = max_address_space;
    let selftest = std::env::var_os(SELFTEST_ENV).is_some();
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    out.write_all(READY)?;
    out.flush()?;
    loop {
        let mut head = [0u8; 24];
        match input.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let word = |i: usize| u64::from_le_bytes(head[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
        let (max_member, ms, len) = (word(0), word(1), word(2));
        let mut data = vec![0u8; usize::try_from(len).map_err(io::Error::other)?];
        input.read_exact(&mut data)?;
        if selftest {
            selftest_input(&data);
        }
        let limits =
            Limits { max_member_bytes: max_member, max_time: Duration::from_millis(ms), ..Limits::default() };
        let mut failed = None;
        let outcome = InProcessPdf.extract(&data, &limits, Instant::now(), &mut |item| {
            let r = match item {
                PdfItem::Page { number, text } => {
                    frame(&mut out, TAG_PAGE, &[&number.to_le_bytes(), text.as_bytes()])
                }
                PdfItem::File { name, data } => {
                    frame(&mut out, TAG_FILE, &[&(name.len() as u32).to_le_bytes(), name.as_bytes(), &data])
                }
            };
            if let Err(e) = r {
                failed.get_or_insert(e);
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        frame(&mut out, TAG_END, &[&encode_outcome(&outcome)])?;
        out.flush()?;
    }
}

/// Misbehaviours on demand, for tests of containment.
fn selftest_input(data: &[u8]) {
    if data.starts_with(b"SELFTEST-ABORT") {
        std::process::abort();
    }
    if data.starts_with(b"SELFTEST-HANG") {
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    if data.starts_with(b"SELFTEST-ALLOC") {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![1u8; 64 * 1024 * 1024]);
        }
    }
}
