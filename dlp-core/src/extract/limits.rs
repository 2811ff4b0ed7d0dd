//! Limits on the work one object may cause, and the reader that enforces them.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Limits on the work one object may cause. Hitting one is reported in coverage with the
/// limit's name (`partial` when part was scanned, `skipped` when nothing was); nothing stops
/// silently. Defaults follow mature tools (ClamAV, Macie, Tika, POI; see the README).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest object read (`object_bytes`); beyond it the rest is not read.
    pub max_object_bytes: u64,
    /// Most bytes decompressed or extracted from one object, over all its members
    /// (`total_bytes`).
    pub max_total_bytes: u64,
    /// Most bytes read from one member, and largest document parsed in memory (PDF, mail,
    /// nested zip) (`member_bytes`).
    pub max_member_bytes: u64,
    /// Largest ratio of a member's decompressed to compressed size, checked once its output
    /// passes [`Limits::ratio_grace`] (`ratio`).
    pub max_ratio: u64,
    /// Output a member may produce before the ratio is checked.
    pub ratio_grace: u64,
    /// Deepest nesting of containers (`depth`); the object itself is depth 0.
    pub max_depth: u32,
    /// Most members read from one container (`entries`).
    pub max_entries: u64,
    /// Wall time per object (`time`).
    pub max_time: Duration,
    /// When true, time spent waiting in the object's own reader (a download from a store)
    /// does not count toward [`Limits::max_time`]: the limit then bounds the work done on
    /// the object, however slowly its bytes arrive, and the reader's own timeouts bound the
    /// waiting. Off by default.
    pub max_time_excludes_source: bool,
}

impl Default for Limits {
    fn default() -> Self {
        const MIB: u64 = 1024 * 1024;
        Limits {
            max_object_bytes: 64 * 1024 * MIB,
            max_total_bytes: 512 * MIB,
            max_member_bytes: 100 * MIB,
            max_ratio: 100,
            ratio_grace: MIB,
            max_depth: 10,
            max_entries: 10_000,
            max_time: Duration::from_secs(120),
            max_time_excludes_source: false,
        }
    }
}

/// A limit that was hit. Travels inside an [`io::Error`] from the reader that noticed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitHit(pub Limit);

/// The limits, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// [`Limits::max_object_bytes`].
    ObjectBytes,
    /// [`Limits::max_total_bytes`].
    TotalBytes,
    /// [`Limits::max_member_bytes`].
    MemberBytes,
    /// [`Limits::max_ratio`].
    Ratio,
    /// [`Limits::max_depth`].
    Depth,
    /// [`Limits::max_entries`].
    Entries,
    /// [`Limits::max_time`].
    Time,
}

impl Limit {
    /// The name used in coverage records.
    pub fn name(self) -> &'static str {
        match self {
            Limit::ObjectBytes => "object_bytes",
            Limit::TotalBytes => "total_bytes",
            Limit::MemberBytes => "member_bytes",
            Limit::Ratio => "ratio",
            Limit::Depth => "depth",
            Limit::Entries => "entries",
            Limit::Time => "time",
        }
    }

    /// Whether hitting it ends the whole object, not only the current member.
    pub fn ends_object(self) -> bool {
        matches!(self, Limit::ObjectBytes | Limit::TotalBytes | Limit::Time)
    }
}

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "limit {} reached", self.0.name())
    }
}

impl std::error::Error for LimitHit {}

/// The limit an I/O error stands for, if it is one.
pub fn limit_of(e: &io::Error) -> Option<Limit> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<LimitHit>()).map(|h| h.0)
}

pub(crate) fn hit(limit: Limit) -> io::Error {
    io::Error::other(LimitHit(limit))
}

/// The budget of one object's walk.
pub(crate) struct Budget {
    pub limits: Limits,
    /// When the object's time is up; moved later by time spent waiting for the source
    /// when [`Limits::max_time_excludes_source`] is set.
    pub deadline: Cell<Instant>,
    /// Bytes decompressed or extracted so far.
    pub total: Cell<u64>,
}

impl Budget {
    pub fn new(limits: Limits) -> Budget {
        let deadline = Cell::new(Instant::now() + limits.max_time);
        Budget { limits, deadline, total: Cell::new(0) }
    }

    /// Gives the object `waited` more time (spent waiting for its source).
    pub fn extend(&self, waited: Duration) {
        self.deadline.set(self.deadline.get() + waited);
    }

    pub fn check_time(&self) -> io::Result<()> {
        if Instant::now() >= self.deadline.get() {
            Err(hit(Limit::Time))
        } else {
            Ok(())
        }
    }
}

/// Counts the bytes read through it, into a shared cell (the compressed side of a stage).
pub(crate) struct Counted<R> {
    pub inner: R,
    pub count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// How a [`Limited`] reader measures its input side for the ratio check.
pub(crate) enum Compressed {
    /// No ratio check (a stored member, the object itself).
    None,
    /// Bytes consumed so far from the compressed stream.
    Consumed(Rc<Cell<u64>>),
    /// The member's declared compressed size.
    Declared(u64),
}

/// Enforces the limits on one member's output: its own size cap, the ratio, the object's
/// total and the deadline. It stops exactly at a cap: the bytes before it are delivered, the
/// next read fails with a [`LimitHit`].
pub(crate) struct Limited<'b, R> {
    pub inner: R,
    pub budget: &'b Budget,
    /// This member's cap and which limit it is.
    pub cap: (u64, Limit),
    /// Whether output counts toward the object's total (decompressed or extracted bytes).
    pub counts_total: bool,
    pub compressed: Compressed,
    pub out: u64,
}

impl<'b, R: Read> Limited<'b, R> {
    pub fn new(
        inner: R,
        budget: &'b Budget,
        cap: (u64, Limit),
        counts_total: bool,
        compressed: Compressed,
    ) -> Self {
        Limited { inner, budget, cap, counts_total, compressed, out: 0 }
    }
}

impl<R: Read> Read for Limited<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.budget.check_time()?;
        let limits = &self.budget.limits;
        let mut room = self.cap.0.saturating_sub(self.out);
        let mut limit = self.cap.1;
        if self.counts_total {
            let left = limits.max_total_bytes.saturating_sub(self.budget.total.get());
            if left < room {
                room = left;
                limit = Limit::TotalBytes;
            }
        }
        let input = match &self.compressed {
            Compressed::None => None,
            Compressed::Consumed(c) => Some(c.get()),
            Compressed::Declared(n) => Some(*n),
        };
        if let Some(input) = input {
            let allowed = limits.ratio_grace.max(input.max(1).saturating_mul(limits.max_ratio));
            let left = allowed.saturating_sub(self.out);
            if left < room {
                room = left;
                limit = Limit::Ratio;
            }
        }
        if room == 0 {
            // Only a limit if there is more to read.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(hit(limit)),
            };
        }
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.out += n as u64;
        if self.counts_total {
            self.budget.total.set(self.budget.total.get() + n as u64);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(r: &mut dyn Read) -> (Vec<u8>, Option<Limit>) {
        let mut out = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return (out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return (out, limit_of(&e)),
            }
        }
    }

    #[test]
    fn caps_stop_exactly() {
        let budget = Budget::new(Limits { max_total_bytes: 1000, ..Limits::default() });
        let data = [b'x'; 100];
        let mut r = Limited::new(&data[..], &budget, (30, Limit::MemberBytes), true, Compressed::None);
        let (out, limit) = read_all(&mut r);
        assert_eq!((out.len(), limit), (30, Some(Limit::MemberBytes)));
        // Exactly at the cap with nothing more to read is not a limit.
        let mut r = Limited::new(&data[..30], &budget, (30, Limit::MemberBytes), true, Compressed::None);
        assert_eq!(read_all(&mut r), (vec![b'x'; 30], None));
        // The object total carries across members.
        let mut r =
            Limited::new(&[0u8; 2000][..], &budget, (u64::MAX, Limit::MemberBytes), true, Compressed::None);
        let (out, limit) = read_all(&mut r);
        assert_eq!((out.len(), limit), (1000 - 60, Some(Limit::TotalBytes)));
    }

    #[test]
    fn ratio_applies_after_grace() {
        let budget = Budget::new(Limits { max_ratio: 10, ratio_grace: 50, ..Limits::default() });
        let data = [0u8; 500];
        let mut r =
            Limited::new(&data[..], &budget, (u64::MAX, Limit::MemberBytes), false, Compressed::Declared(2));
        let (out, limit) = read_all(&mut r);
        assert_eq!((out.len(), limit), (50, Some(Limit::Ratio)));
        let mut r =
            Limited::new(&data[..], &budget, (u64::MAX, Limit::MemberBytes), false, Compressed::Declared(20));
        let (out, limit) = read_all(&mut r);
        assert_eq!((out.len(), limit), (200, Some(Limit::Ratio)));
    }

    #[test]
    fn deadline() {
        let budget = Budget::new(Limits { max_time: Duration::ZERO, ..Limits::default() });
        let mut r =
            Limited::new(&b"abc"[..], &budget, (u64::MAX, Limit::MemberBytes), false, Compressed::None);
        assert_eq!(read_all(&mut r), (vec![], Some(Limit::Time)));
    }
}
