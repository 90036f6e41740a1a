//! The line parsers of the built-in workloads: a record or a reason (a dead letter), never a panic.
#![no_main]

use caudal::parse::FromLine;
use caudal::workload::{Post, Purchase, Reading, WifiEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &str| {
    let _ = Post::from_line(line);
    let _ = Reading::from_line(line);
    let _ = Purchase::from_line(line);
    let _ = WifiEvent::from_line(line);
});
