//! Replay specs (`caudal replay`): an error that says what is wrong, or a spec that runs.
#![no_main]

use caudal::replay::ReplaySpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(spec) = ReplaySpec::parse(text) {
        let _ = spec.run();
    }
});
