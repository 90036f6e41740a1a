//! Write-ahead log segments: any bytes in a segment file are read as records, cut off as a torn tail,
//! or refused as damage with the file named; never a panic.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};

use caudal::source::wal::WriteAheadLog;
use libfuzzer_sys::fuzz_target;

static RUN: AtomicU64 = AtomicU64::new(0);

fuzz_target!(|bytes: &[u8]| {
    let dir = std::env::temp_dir().join(format!(
        "caudal-fuzz-wal-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{:020}.wal", 0)), bytes).unwrap();
    if let Ok(log) = WriteAheadLog::open(&dir, 1 << 20) {
        let mut replay = log.replay(log.first()).expect("the log holds what it says");
        let mut count = 0;
        while let Some(record) = replay.next_record() {
            if record.is_err() {
                break;
            }
            count += 1;
        }
        assert!(count <= log.end() - log.first());
    }
    std::fs::remove_dir_all(&dir).unwrap();
});
