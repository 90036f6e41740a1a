//! Source descriptions as `caudal run --source` takes them: an error or a spec, never a panic, and a
//! spec prints as text that reads back to the same spec.
#![no_main]

use caudal::source::spec::SourceSpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(spec) = text.parse::<SourceSpec>() {
        let again: SourceSpec = spec
            .to_string()
            .parse()
            .expect("a printed spec reads back");
        assert_eq!(again.to_string(), spec.to_string());
    }
});
