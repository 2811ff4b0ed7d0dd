//! Sources: turn targets into objects to scan. Local paths and stdin (`local`), and
//! S3, GCS and Azure Blob buckets through `object_store` (`remote`, `credentials`).

pub mod credentials;
pub mod filter;
pub mod local;
pub mod remote;

use std::path::PathBuf;

/// Where an object's bytes come from.
#[derive(Debug)]
pub enum Input {
    /// A local file.
    File(PathBuf),
    /// Standard input.
    Stdin,
    /// An object in a bucket, being fetched (see [`remote::Body`]).
    Remote(remote::Body),
}

/// Which object a finding or coverage record names, and what is known of it (for the
/// policy, the state store and actions).
#[derive(Debug, Clone, Default)]
pub struct ObjectRef {
    /// The `object` field of findings: the path as given, `stdin`, or the object's URL
    /// (`s3://bucket/key`).
    pub name: String,
    /// The first element of `location.path`: the object's base name.
    pub base_name: String,
    /// Version: S3 version id or ETag, GCS generation, Azure ETag; none for local files.
    pub version: Option<String>,
    /// The bucket, for bucket objects.
    pub bucket: Option<remote::Target>,
    /// The object key in its bucket, or the local path.
    pub key: String,
    pub size: Option<u64>,
    pub last_modified: Option<chrono::DateTime<chrono::Utc>>,
    /// The ETag the scanned bytes came with (with its quotes, as the store sent it).
    pub e_tag: Option<String>,
    /// The S3 version id or GCS generation the scanned bytes came with.
    pub version_id: Option<String>,
    pub content_type: Option<String>,
}

impl ObjectRef {
    /// The `store` column of the state store: `s3://bucket`, `file` or `stdin`.
    pub fn store_name(&self) -> String {
        match &self.bucket {
            Some(t) => t.bucket_url(),
            None if self.name == "stdin" && self.key.is_empty() => "stdin".into(),
            None => "file".into(),
        }
    }
}

/// One object to scan: what it is, and how to read it.
#[derive(Debug)]
pub struct Job {
    pub obj: ObjectRef,
    pub input: Input,
}

/// What listing a target yields.
#[derive(Debug)]
pub enum Listed {
    /// An object to scan.
    Object(Box<Job>),
    /// Something deliberately not scanned, with a short reason code and the detail.
    Skipped { object: String, reason: &'static str, detail: String },
    /// Something that should have been scanned but could not be.
    Error { object: String, error: String },
    /// An object left out by `--include`, `--exclude`, the size or the date filters.
    Filtered,
    /// An object a sweep passes over: `unchanged` since its last scan, or `not_sampled`.
    Passed(&'static str),
}

/// What the run decides for a listed object before it is fetched (see `drivers::scan`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Scan,
    /// Not scanned, for this reason (`unchanged`, `not_sampled`).
    Pass(&'static str),
    /// Stop listing (`--max-objects` reached).
    Stop,
}
