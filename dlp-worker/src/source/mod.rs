//! Sources: turn targets into objects to scan. Local paths and stdin for now; buckets
//! arrive with their issue.

pub mod local;

use std::path::PathBuf;

/// Where an object's bytes come from.
#[derive(Debug, Clone)]
pub enum Input {
    /// A local file.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

/// One object to scan.
#[derive(Debug, Clone)]
pub struct ObjectRef {
    /// The `object` field of findings: the path as given, or `stdin`.
    pub name: String,
    /// The first element of `location.path`: the object's base name.
    pub base_name: String,
    /// Version (ETag, generation); none for local files.
    pub version: Option<String>,
    /// How to read it.
    pub input: Input,
}

/// What listing a target yields.
#[derive(Debug)]
pub enum Listed {
    /// An object to scan.
    Object(ObjectRef),
    /// Something deliberately not scanned, with the reason.
    Skipped { object: String, reason: String },
    /// Something that should have been scanned but could not be.
    Error { object: String, error: String },
}
