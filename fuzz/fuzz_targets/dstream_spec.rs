//! DStream specs (`caudal dstream`): read and checked as the command does before it runs one; an
//! error, never a panic or an unbounded plan.
#![no_main]

use caudal::dstream::spec::{self, Spec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(parsed) = serde_json::from_str::<Spec>(text) {
        let _ = spec::validate(&parsed);
    }
});
