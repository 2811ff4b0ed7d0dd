//! Drivers: the commands. `scan` (one-shot), `sweep` (through `scan`), `listen` (events from
//! queues and pushes), `serve` (schedules and listeners), `detectors`, and the state store's
//! `findings`, `audit` and `restore`.

mod api;
mod checkpoint;
pub mod detectors;
pub mod events;
pub mod fanout;
pub mod findings;
pub mod listen;
mod push;
pub mod scan;
pub mod serve;
