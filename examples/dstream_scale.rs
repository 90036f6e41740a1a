//! A DStream word count on 1 and on more workers: how fast batches go through, and that the results
//! are the same.
//!
//! Each batch is a queue batch of PARTITIONS partitions of lines of 8 words drawn from 10,000; the
//! program splits the lines, pairs each word with 1, reduces by key into PARTITIONS partitions and
//! counts the distinct words, batch by batch, on the manual clock (batches run back to back).
//!
//! cargo run --release --example dstream_scale -- [WORDS_PER_BATCH [BATCHES [PARTITIONS [WORKERS...]]]]
//!
//! Defaults: 1,000,000 words per batch, 20 batches, 8 partitions, workers 1 and 2. Prints, per worker
//! count, the words per second over all batches and the distinct words per batch (equal on every
//! worker count).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use caudal::dstream::{Rdd, RddQueue, StreamingContext};

/// `batches` batches of `partitions` partitions of lines of 8 words, `words` words in each batch.
fn batches(words: usize, batches: usize, partitions: usize) -> Vec<Rdd<String>> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..batches)
        .map(|_| {
            let lines: Vec<String> = (0..words / 8)
                .map(|_| {
                    (0..8)
                        .map(|_| format!("w{}", next() % 10_000))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            Rdd::parallelize(lines, partitions)
        })
        .collect()
}

/// Runs the word count on `workers` workers; returns the elapsed time and each batch's distinct words.
fn run(input: Vec<Rdd<String>>, partitions: usize, workers: usize) -> (Duration, Vec<u64>) {
    let n = input.len() as u64;
    let queue: RddQueue<String> = input.into_iter().collect();
    let distinct: Arc<Mutex<Vec<u64>>> = Arc::default();
    let out = distinct.clone();
    let ssc = StreamingContext::manual(Duration::from_secs(1)).workers(workers);
    ssc.start_parallel(move |ssc| {
        let out = out.clone();
        ssc.queue_stream(&queue)
            .flat_map(|line| {
                line.split(' ')
                    .map(|w| (w.to_string(), 1u64))
                    .collect::<Vec<_>>()
            })
            .partitions(partitions)
            .reduce_by_key(|a, b| a + b)
            .count()
            .foreach_rdd(move |_, rdd| out.lock().unwrap().extend(rdd.collect()));
    })
    .expect("the program starts");
    let started = Instant::now();
    ssc.advance(n).expect("the batches run");
    let elapsed = started.elapsed();
    ssc.stop(true).expect("the context stops");
    let distinct = distinct.lock().unwrap().clone();
    (elapsed, distinct)
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("arguments are numbers"))
        .collect();
    let words = args.first().copied().unwrap_or(1_000_000);
    let count = args.get(1).copied().unwrap_or(20);
    let partitions = args.get(2).copied().unwrap_or(8);
    let workers: Vec<usize> = match args.get(3..) {
        Some(w) if !w.is_empty() => w.to_vec(),
        _ => vec![1, 2],
    };
    let input = batches(words, count, partitions);
    let mut first: Option<Vec<u64>> = None;
    for &w in &workers {
        let (elapsed, distinct) = run(input.clone(), partitions, w);
        let total = (words / 8 * 8 * count) as f64;
        println!(
            "workers {w}: {:.2} M words/s ({count} batches of {} words in {:.3} s)",
            total / elapsed.as_secs_f64() / 1e6,
            words / 8 * 8,
            elapsed.as_secs_f64()
        );
        match &first {
            None => first = Some(distinct),
            Some(f) => assert_eq!(f, &distinct, "the same results on {w} workers"),
        }
    }
    if let Some(distinct) = first {
        println!(
            "distinct words per batch: {:?}",
            &distinct[..distinct.len().min(5)]
        );
    }
}
