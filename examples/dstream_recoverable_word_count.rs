//! Spark's `RecoverableNetworkWordCount`, with `updateStateByKey` (its `StatefulNetworkWordCount`):
//! running word counts over a TCP socket that survive a crash through `getOrCreate`.
//!
//! ```python
//! def create():
//!     ssc = StreamingContext(sc, 1)
//!     ssc.checkpoint(checkpoint_dir)
//!     words = ssc.socketTextStream(host, port).flatMap(lambda l: l.split(" "))
//!     words.map(lambda w: (w, 1)).updateStateByKey(lambda new, old: sum(new) + (old or 0)).pprint(100)
//!     return ssc
//! ssc = StreamingContext.getOrCreate(checkpoint_dir, create)
//! ssc.start(); ssc.awaitTermination()
//! ```
//!
//! In one terminal:  nc -lk 9999
//! In another:       cargo run --release --example dstream_recoverable_word_count -- localhost 9999 ck --wal
//! Type words, kill the example (even with `kill -9`), start it again with the same command: the
//! counts go on where they were. `--wal` keeps what the socket sent in a write-ahead log (Spark's
//! `spark.streaming.receiver.writeAheadLog.enable`), so that words received after the last checkpoint
//! are not lost either. `--interval MS` sets the batch interval (default 1000).

use std::time::Duration;

use caudal::dstream::StreamingContext;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let (Some(host), Some(port), Some(dir)) = (
        positional.first(),
        positional.get(1).and_then(|p| p.parse::<u16>().ok()),
        positional.get(2),
    ) else {
        eprintln!(
            "usage: dstream_recoverable_word_count HOST PORT CHECKPOINT_DIR [--wal] [--interval MS] [--workers N]"
        );
        std::process::exit(2);
    };
    let interval = args
        .iter()
        .position(|a| a == "--interval")
        .and_then(|i| args.get(i + 1))
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::from_secs(1), Duration::from_millis);
    let wal = args.iter().any(|a| a == "--wal");
    let workers = args
        .iter()
        .position(|a| a == "--workers")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(1);

    let checkpoint_dir = dir.to_string();
    let ssc = StreamingContext::get_or_create(dir.as_str(), || {
        eprintln!("Creating new context");
        // A resumed context keeps the checkpoint's number of workers.
        let mut ssc = StreamingContext::new(interval).workers(workers);
        ssc.checkpoint(&checkpoint_dir);
        ssc
    })
    .unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1);
    })
    .receiver_write_ahead_log(wal);
    if let Some(batch) = ssc.resumes_at_batch() {
        eprintln!("Recovering from checkpoint in {dir}: batch {batch} is next");
    }
    let host = host.to_string();
    // Built on each worker: the socket is read on the first, the words counted on all.
    ssc.start_parallel(move |ssc| {
        ssc.socket_text_stream(&host, port)
            .flat_map(|line| {
                line.split(' ')
                    .filter(|w| !w.is_empty())
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .map(|word| (word, 1u64))
            .update_state_by_key(|new: Vec<u64>, old: Option<u64>| {
                Some(new.iter().sum::<u64>() + old.unwrap_or(0))
            })
            .pprint(100);
    })
    .unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1);
    });
    if let Err(e) = ssc.await_termination() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
