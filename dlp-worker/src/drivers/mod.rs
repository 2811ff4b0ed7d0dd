//! Drivers: the commands. `scan` (one-shot) and `detectors` (list, test) for now.

pub mod detectors;
pub mod scan;
