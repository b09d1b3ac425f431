//! See [`tributary_fuzz_targets::contract_value`]: the body lives there, where the test
//! suite replays this target's corpus.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tributary_fuzz_targets::contract_value(data));
