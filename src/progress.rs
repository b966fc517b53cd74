//! Progress reporting. The pipeline calls a [`Reporter`]; the commands pick a bar on a
//! terminal and plain log lines otherwise (`commands/printer.rs`), so library code never prints.

use crate::item::Failure;

pub trait Reporter: Send + Sync {
    /// The walk has found `total` items so far.
    fn discovered(&self, total: u64);
    /// Items have reached their final state (stored or failed).
    fn progressed(&self, done: u64, failed: u64);
    /// One item failed; the run goes on.
    fn failed(&self, failure: &Failure);
    /// The run is over; clear any bar.
    fn finish(&self);
}
