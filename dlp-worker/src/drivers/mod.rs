//! Drivers: the commands. `scan` (one-shot) and `detectors` (list, test) for now.

pub mod detectors;
pub mod findings;
pub mod listen;
pub mod scan;
