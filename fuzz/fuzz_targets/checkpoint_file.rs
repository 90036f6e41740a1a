//! Checkpoint files: a damaged or foreign file is an error (the run names it and refuses it), never a
//! panic or an allocation its bytes ask for.
#![no_main]

use caudal::checkpoint::store::{decode_manifest, decode_part};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = decode_manifest(bytes);
    let _ = decode_part(bytes);
});
