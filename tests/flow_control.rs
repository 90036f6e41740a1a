//! Flow control between workers: when keys are skewed so that one worker gets every record, and that
//! worker is slower than the others' sources, what waits for it in the exchange stays under the
//! exchange budget (the sources stop reading), and nothing is lost; in one process and, with credits
//! from the receiver, across processes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use caudal::prelude::*;
use caudal::workload::{Post, Posts};

mod common;

const POSTS: u64 = 200_000;

/// Every post under one key, counted on the one worker that owns it, behind a stage that costs a few
/// microseconds a record there.
fn skewed(config: RunConfig) -> (RunReport, Vec<(u32, u64)>) {
    let out = Collect::new();
    let sink = out.clone();
    let source = GeneratorFactory::new(
        Posts::default(),
        GeneratorConfig {
            limit: Some(POSTS),
            ..Default::default()
        },
    );
    let report = caudal::run(config, move |df| {
        let posts = df.source("posts", &source);
        let counts = posts
            .map(|_: Post| (0u32, ()))
            .running_count()
            .map(|(key, n)| {
                // The owner of key 0 does this for every record of both workers.
                busy(n);
                (key, n)
            });
        df.sink("counts", counts, &sink);
    })
    .unwrap();
    (report, out.sorted_data())
}

/// A few microseconds of work that the compiler cannot drop.
fn busy(n: u64) {
    let mut x = n;
    for _ in 0..200 {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    std::hint::black_box(x);
}

#[test]
fn a_worker_that_gets_every_key_holds_the_sources_back_and_loses_nothing() {
    let budget = 5_000;
    let config = RunConfig::default().workers(2).exchange_budget(budget);
    let source_budget = config.source_budget;
    let (report, counts) = skewed(config);
    // Every post counted once, in order of its key: 1, 2, ..., POSTS.
    assert_eq!(counts.len() as u64, POSTS);
    assert!(counts
        .iter()
        .zip(1..)
        .all(|(&(key, n), expected)| key == 0 && n == expected));
    // A source checks the queues before it reads, so each of the two may add one activation's read
    // after the other has gone over the budget.
    let bound = (budget + 2 * source_budget) as u64;
    assert!(
        report.exchange_peak <= bound,
        "{} records waited for one worker, more than the budget allows ({bound}): {report}",
        report.exchange_peak
    );
    assert!(report.sources[0].throttled > 0, "{report}");
}

/// What the sources of every process have read and the owner of the hot key has counted, and the most
/// that was ever read and not yet counted: the backlog, wherever it waits.
#[derive(Default)]
struct Backlog {
    read: AtomicU64,
    counted: AtomicU64,
    widest: AtomicU64,
}

#[test]
fn a_worker_of_another_process_that_gets_every_key_holds_the_sources_back_and_loses_nothing() {
    // Two processes of one worker each, as two runs in threads of this test, connected by timely's
    // cluster mode over loopback: whichever owns key 0, the other sends it everything across.
    let dir = std::env::temp_dir().join(format!("caudal-flow-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hostfile = common::loopback_hostfile(&dir, 2);
    let budget = 5_000;
    let backlog = Arc::new(Backlog::default());
    let runs: Vec<_> = (0..2)
        .map(|process| {
            // No watermark alignment: the credits alone must hold the sender back.
            let mut config = RunConfig::default()
                .exchange_budget(budget)
                .max_watermark_drift(None);
            config.cluster = Some(caudal::config::Cluster {
                processes: 2,
                process,
                hostfile: Some(hostfile.clone()),
                connect_timeout: std::time::Duration::from_secs(30),
            });
            let backlog = backlog.clone();
            std::thread::spawn(move || {
                let source_budget = config.source_budget;
                let out = Collect::new();
                let sink = out.clone();
                let source = GeneratorFactory::new(
                    Posts::default(),
                    GeneratorConfig {
                        limit: Some(2 * POSTS),
                        ..Default::default()
                    },
                );
                let report = caudal::run(config, move |df| {
                    let (read, counted) = (backlog.clone(), backlog.clone());
                    let posts = df.source("posts", &source).inspect(move |_| {
                        read.read.fetch_add(1, Ordering::Relaxed);
                    });
                    let counts =
                        posts
                            .map(|_: Post| (0u32, ()))
                            .running_count()
                            .map(move |(key, n)| {
                                busy(n);
                                let done = counted.counted.fetch_add(1, Ordering::Relaxed) + 1;
                                let read = counted.read.load(Ordering::Relaxed);
                                counted
                                    .widest
                                    .fetch_max(read.saturating_sub(done), Ordering::Relaxed);
                                (key, n)
                            });
                    df.sink("counts", counts, &sink);
                })
                .unwrap();
                (report, out.sorted_data(), source_budget)
            })
        })
        .collect();
    let results: Vec<_> = runs.into_iter().map(|r| r.join().unwrap()).collect();
    let _ = std::fs::remove_dir_all(&dir);
    // Every post counted once, on the owner of key 0: 1, 2, ..., 2 × POSTS.
    let counts: Vec<_> = results.iter().flat_map(|(_, c, _)| c.clone()).collect();
    assert_eq!(counts.len() as u64, 2 * POSTS);
    assert!(counts
        .iter()
        .zip(1..)
        .all(|(&(key, n), expected)| key == 0 && n == expected));
    // Each process may have its budget on its way to the owner, and one read of its source beyond.
    let source_budget = results[0].2 as u64;
    let bound = 2 * (budget as u64 + 2 * source_budget);
    let widest = backlog.widest.load(Ordering::Relaxed);
    let reports: Vec<String> = results.iter().map(|(r, _, _)| r.to_string()).collect();
    assert!(
        widest <= bound,
        "{widest} records were read and not yet counted, more than the budgets allow ({bound}): {reports:?}"
    );
    let (sender, _, _) = results
        .iter()
        .find(|(_, counts, _)| counts.is_empty())
        .expect("one process owns no key");
    assert!(
        sender.sources[0].throttled > 0,
        "the other process's source should have waited for the owner: {reports:?}"
    );
}

#[test]
fn a_balanced_run_counts_its_exchange_and_loses_nothing() {
    // Keys spread over both workers: what crosses between them is counted (and, as each worker keeps
    // up, stays far under the default budget; not asserted, as it depends on the machine's load).
    let out = Collect::new();
    let sink = out.clone();
    let source = GeneratorFactory::new(
        Posts::default(),
        GeneratorConfig {
            limit: Some(POSTS),
            ..Default::default()
        },
    );
    let report = caudal::run(RunConfig::default().workers(2), move |df| {
        let posts = df.source("posts", &source);
        let counts = posts.map(|p: Post| (p.seq % 1024, ())).running_count();
        df.sink("counts", counts, &sink);
    })
    .unwrap();
    assert_eq!(out.sorted_data().len() as u64, POSTS);
    assert!(
        report.exchange_peak > 0,
        "the exchange was not counted: {report}"
    );
}

/// A source whose instance on worker 1 is slow: it reads `per_poll` records a millisecond, while
/// worker 0's reads as fast as it can. Record `i` of each has event time `i` ms.
struct Uneven {
    worker: usize,
    next: u64,
    end: u64,
    per_poll: u64,
}

impl caudal::source::Source for Uneven {
    type Item = u64;

    fn poll(&mut self, out: &mut Vec<Event<u64>>, budget: usize) -> caudal::source::Poll {
        let n = if self.worker == 1 {
            self.per_poll.min(budget as u64)
        } else {
            budget as u64
        };
        let upto = (self.next + n).min(self.end);
        out.extend((self.next..upto).map(|i| Event::new(i as EventTime, i)));
        self.next = upto;
        match (self.next == self.end, self.worker) {
            (true, _) => caudal::source::Poll::Done,
            (false, 1) => caudal::source::Poll::Pending {
                wake_at: Some(std::time::Instant::now() + std::time::Duration::from_millis(1)),
            },
            (false, _) => caudal::source::Poll::Ready,
        }
    }

    fn offset(&self) -> u64 {
        self.next
    }
}

#[test]
fn a_fast_source_instance_waits_for_a_slow_one_in_event_time() {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    const RECORDS: u64 = 6_000;
    let drift = Duration::from_millis(200);
    let mut config = RunConfig::default()
        .workers(2)
        .max_watermark_drift(Some(drift));
    config.source_budget = 50;
    // The latest event time each worker has read, and the most worker 0 was ever ahead of worker 1.
    let latest: Arc<[AtomicI64; 2]> = Arc::new(Default::default());
    let widest = Arc::new(AtomicI64::new(0));
    let out = Collect::new();
    let (sink, seen, gap) = (out.clone(), latest.clone(), widest.clone());
    let report = caudal::run(config, move |df| {
        let worker = df.worker().index;
        let source = |w: caudal::source::WorkerInfo| {
            Box::new(Uneven {
                worker: w.index,
                next: 0,
                end: RECORDS,
                per_poll: 20,
            }) as Box<dyn caudal::source::Source<Item = u64>>
        };
        let (seen, gap) = (seen.clone(), gap.clone());
        let numbers = df.source("numbers", &source).inspect(move |e| {
            seen[worker].fetch_max(e.time, Ordering::Relaxed);
            if worker == 0 {
                let behind = seen[1].load(Ordering::Relaxed);
                gap.fetch_max(e.time.saturating_sub(behind), Ordering::Relaxed);
            }
        });
        df.sink("numbers", numbers, &sink);
    })
    .unwrap();
    let mut expected: Vec<u64> = (0..RECORDS).chain(0..RECORDS).collect();
    expected.sort();
    assert_eq!(out.sorted_data(), expected);
    // Worker 0 looks before it reads: at most one activation's read past the allowed drift.
    let bound = drift.as_millis() as i64 + 2 * 50;
    let widest = widest.load(Ordering::Relaxed);
    assert!(
        widest <= bound,
        "worker 0 ran {widest} ms of event time ahead of worker 1 (bound {bound}): {report}"
    );
    assert!(report.sources[0].aligned > 0, "{report}");
}
