//! The errors of dlp-core. They name what failed and where (file, detector, object), never a
//! matched value.

use std::path::PathBuf;

/// Everything that can go wrong in dlp-core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A detector definition is invalid.
    #[error("{file}: detector {detector}: {problem}")]
    Detector {
        /// The file (or builtin name) the detector came from.
        file: String,
        /// The detector's id, or `#N` (1-based position) when it has no usable id.
        detector: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// A detector file could not be parsed at all.
    #[error("{file}: {problem}")]
    DetectorFile {
        /// The file (or builtin name).
        file: String,
        /// What is wrong.
        problem: String,
    },
    /// The chosen matching engine cannot run in this build or on this machine.
    #[error("engine {engine}: {problem}")]
    Engine {
        /// The engine asked for.
        engine: String,
        /// Why it cannot run, and what to do.
        problem: String,
    },
    /// A file or stream could not be read.
    #[error("reading {}: {source}", path.display())]
    Io {
        /// What was being read.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with dlp-core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
