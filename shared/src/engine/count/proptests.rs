//! Property tests of the counters: csv against the `csv` crate and a plain
//! reference state machine, and every counter against re-chunked input.
