//! # dlp-core
//!
//! Finds sensitive data — payment cards, national IDs, bank accounts, contact data, cloud
//! keys, tokens, private keys — in any bytes, with validators (Luhn, mod 97, SSN rules, JWT
//! structure, entropy), hotword context and a likelihood for each finding.
//!
//! Detectors are data (TOML, see `patterns/README.md`); the ones in the repository's
//! `patterns/` folder are embedded at build time. A [`Scanner`] compiles them once and is
//! shared by all threads.
//!
//! ```
//! use dlp_core::{Likelihood, Scanner};
//!
//! let scanner = Scanner::builder().builtin()?.build()?;
//! let findings = scanner.scan_bytes(b"SSN: 536-22-8726");
//! assert_eq!(&*findings[0].info_type, "US_SOCIAL_SECURITY_NUMBER");
//! assert!(findings[0].likelihood >= Likelihood::Likely);
//! assert_eq!(findings[0].redacted, "***-**-8726");
//!
//! // Streams are scanned in chunks with bounded memory.
//! let mut n = 0;
//! scanner.scan_reader(&b"key AKIAQYLPMN5HHHFPZAM2 here"[..], |_| n += 1)?;
//! assert_eq!(n, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod context;
pub mod detector;
pub mod engine;
pub mod error;
pub mod extract;
pub mod finding;
#[cfg(feature = "hyperscan")]
mod hs;
pub mod likelihood;
mod phone;
pub mod redact;
pub mod validate;

pub use detector::{AllowSpec, Category, Definitions, DetectorSpec, SourcedSpec};
pub use engine::{Engine, Scanner, ScannerBuilder};
pub use error::{Error, Result};
pub use finding::Finding;
pub use likelihood::Likelihood;
