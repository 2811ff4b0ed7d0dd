//! Sweep checkpoints: where listing may resume after a sweep was killed, interrupted or
//! stopped at `--max-objects`. Bucket listings come in key order; the checkpoint of a target
//! is its low-water mark, the last key such that it and every key listed before it are done
//! (passed by the sweep gate, or scanned, recorded and acted on). Objects still in flight are
//! after it, so a resumed sweep lists them again; those that were in fact finished are then
//! skipped as unchanged, so nothing is scanned twice or skipped.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// A bucket target a sweep lists, and the key it resumes after.
#[derive(Debug, Clone)]
pub struct TargetMark {
    /// The checkpoint's id: a hash of the target and the sweep's options.
    pub id: String,
    /// The target's URL.
    pub url: String,
    pub resume_after: Option<String>,
}

#[derive(Debug)]
struct Entry {
    target: usize,
    key: String,
    url: String,
    done: bool,
}

#[derive(Debug, Default)]
struct Inner {
    /// The sequence number of `queue[0]`.
    front: u64,
    /// Objects in listing order, from the first not yet done.
    queue: VecDeque<Entry>,
    seq: HashMap<String, u64>,
    /// Per target: the low-water mark, whether it was listed to its end, what was saved.
    marks: Vec<Option<String>>,
    ended: Vec<bool>,
    saved: Vec<Option<Option<String>>>,
}

/// The listing progress of one sweep run.
#[derive(Debug)]
pub struct Progress {
    pub targets: Vec<TargetMark>,
    inner: Mutex<Inner>,
}

/// What to write to the state store for a target: a new mark, or (None) that it is done.
pub type Save = (usize, Option<String>);

impl Progress {
    pub fn new(targets: Vec<TargetMark>) -> Progress {
        let n = targets.len();
        let inner =
            Inner { marks: vec![None; n], ended: vec![false; n], saved: vec![None; n], ..Default::default() };
        Progress { targets, inner: Mutex::new(inner) }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> Option<R> {
        self.inner.lock().ok().map(|mut g| f(&mut g))
    }

    /// An object listed under `target`, in order; `done` when the gate passed it.
    pub fn listed(&self, target: usize, key: &str, url: &str, done: bool) {
        self.with(|i| {
            let seq = i.front + i.queue.len() as u64;
            i.seq.insert(url.to_string(), seq);
            i.queue.push_back(Entry { target, key: key.to_string(), url: url.to_string(), done });
            i.advance();
        });
    }

    /// An object scanned, recorded and acted on.
    pub fn done(&self, url: &str) {
        self.with(|i| {
            if let Some(seq) = i.seq.get(url).copied() {
                if let Some(e) = seq.checked_sub(i.front).and_then(|at| i.queue.get_mut(at as usize)) {
                    e.done = true;
                }
                i.advance();
            }
        });
    }

    /// `target` was listed to its end, without a listing error.
    pub fn listing_ended(&self, target: usize) {
        self.with(|i| {
            if let Some(e) = i.ended.get_mut(target) {
                *e = true;
            }
        });
    }

    /// What changed since the last call: marks to write, and targets finished (None).
    pub fn to_save(&self) -> Vec<Save> {
        self.with(|i| {
            let mut out = Vec::new();
            for t in 0..i.marks.len() {
                let finished = i.ended[t] && !i.queue.iter().any(|e| e.target == t);
                let now = if finished { None } else { i.marks[t].clone() };
                if !finished && now.is_none() {
                    continue; // nothing done yet: the stored checkpoint still holds
                }
                if i.saved[t].as_ref() != Some(&now) {
                    i.saved[t] = Some(now.clone());
                    out.push((t, now));
                }
            }
            out
        })
        .unwrap_or_default()
    }
}

impl Inner {
    fn advance(&mut self) {
        while self.queue.front().is_some_and(|e| e.done) {
            if let Some(e) = self.queue.pop_front() {
                self.seq.remove(&e.url);
                self.front += 1;
                self.marks[e.target] = Some(e.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress() -> Progress {
        let t = |u: &str| TargetMark { id: u.into(), url: u.into(), resume_after: None };
        Progress::new(vec![t("s3://a"), t("s3://b")])
    }

    #[test]
    fn the_mark_is_the_last_key_with_everything_before_it_done() {
        let p = progress();
        p.listed(0, "k1", "s3://a/k1", true);
        p.listed(0, "k2", "s3://a/k2", false);
        p.listed(0, "k3", "s3://a/k3", false);
        p.listed(0, "k4", "s3://a/k4", true);
        assert_eq!(p.to_save(), vec![(0, Some("k1".into()))]);
        p.done("s3://a/k3");
        assert_eq!(p.to_save(), vec![], "k2 is still in flight");
        p.done("s3://a/k2");
        assert_eq!(p.to_save(), vec![(0, Some("k4".into()))]);
        p.listing_ended(0);
        assert_eq!(p.to_save(), vec![(0, None)], "listed to its end and all done");
        p.listed(1, "x", "s3://b/x", false);
        p.listing_ended(1);
        assert_eq!(p.to_save(), vec![], "b's only object is in flight");
        p.done("s3://b/x");
        assert_eq!(p.to_save(), vec![(1, None)]);
        assert_eq!(p.to_save(), vec![]);
    }
}
