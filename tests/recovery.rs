//! Recovery inside the library: random pipelines of keyed operators, on one or two workers, stopped at
//! random moments (a stop under a guarantee takes a last checkpoint and leaves without ending the
//! input), resumed from the checkpoint directory, and compared with an uninterrupted run: the output
//! of the stopped run and of the resumed one together equal, as a multiset, the output of the run
//! without a stop. The pipelines chain two keyed stages (a window, then a running count or another
//! window over its results), so that records cross between workers twice and the second stage's state
//! depends on the first stage's timers.

use std::path::PathBuf;
use std::time::Duration;

use caudal::checkpoint::{CheckpointConfig, Guarantee};
use caudal::prelude::*;
use caudal::workload::{Post, Posts};
use proptest::prelude::*;

type Row = (u64, i64, u64);

fn posts() -> GeneratorFactory<Posts> {
    GeneratorFactory::new(
        Posts::default(),
        GeneratorConfig {
            rate: Some(150_000.0),
            limit: Some(120_000),
            ..Default::default()
        },
    )
}

/// Pipeline `kind` over `posts`: two keyed stages, results as `(key, window start, value)`.
fn pipeline(kind: u8, posts: EventStream<'_, Post>) -> EventStream<'_, Row> {
    let tumbling = TimeWindows::tumbling(50, 0).unwrap();
    match kind {
        // Posts per user in windows, re-keyed by the count's last digit, with a running count. (A
        // running count first would not do: which post gets which count depends on how the two
        // workers' halves of the stream interleave, even without a failure.)
        0 => posts
            .map(|p| (p.user as u64, ()))
            .window(tumbling, 0, Count)
            .0
            .map(|r| (r.value % 10, ()))
            .running_count()
            .map(|(k, n)| (k, 0, n)),
        // Posts per tag in windows, then the windows' counts summed per tag over sliding windows: a
        // window over window results, whose timers are fed by the first windows' timers.
        1 => posts
            .map(|p| (p.tags()[0].0 as u64, ()))
            .window(tumbling, 0, Count)
            .0
            .map(|r| (r.key % 3, r.value))
            .window(TimeWindows::sliding(200, 100, 0).unwrap(), 0, Sum)
            .0
            .map(|r| (r.key, r.window.start, r.value)),
        // Sessions per user, then a running count per session size.
        _ => posts
            .map(|p| (p.user as u64, ()))
            .session_window(5, 0, Count)
            .0
            .map(|r| (r.value, ()))
            .running_count()
            .map(|(k, n)| (k, 0, n)),
    }
}

fn config(workers: usize, checkpoints: Option<&PathBuf>) -> RunConfig {
    // Sessions and the windows after them need the records of a millisecond together (see the lab's
    // session workload): a little out-of-orderness.
    let mut config = RunConfig::new(ExecutionMode::PerRecord)
        .workers(workers)
        .watermark(WatermarkStrategy::BoundedOutOfOrderness { max_delay_ms: 1 });
    if let Some(dir) = checkpoints {
        config = config.checkpoints(
            CheckpointConfig::new(Guarantee::AtLeastOnce, dir, "recovery test")
                .interval(Duration::from_millis(50)),
        );
    }
    config
}

/// Runs `kind` to the end, or stops it after `stop_after`; returns what it wrote.
fn run(
    kind: u8,
    workers: usize,
    checkpoints: Option<&PathBuf>,
    stop_after: Option<Duration>,
) -> Vec<Row> {
    let results = Collect::new();
    let sink = results.clone();
    let source = posts();
    let running = caudal::launch(config(workers, checkpoints), move |df| {
        let posts = df.source("posts", &source);
        let rows = pipeline(kind, posts);
        df.sink("rows", rows, &sink);
    })
    .unwrap();
    if let Some(after) = stop_after {
        std::thread::sleep(after);
        running.stop_flag().stop();
    }
    running.join().unwrap();
    results.sorted_data()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn a_stopped_and_resumed_run_gives_the_output_of_an_uninterrupted_one(
        kind in 0u8..3,
        workers in 1usize..=2,
        stop_ms in 100u64..700,
    ) {
        let dir = std::env::temp_dir().join(format!(
            "caudal-recovery-{}-{kind}-{workers}-{stop_ms}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let reference = run(kind, workers, None, None);
        let mut resumed = run(kind, workers, Some(&dir), Some(Duration::from_millis(stop_ms)));
        let before_stop = resumed.len();
        resumed.extend(run(kind, workers, Some(&dir), None));
        resumed.sort();
        let _ = std::fs::remove_dir_all(&dir);
        prop_assert!(before_stop < reference.len(), "the stop came after the end");
        prop_assert_eq!(resumed, reference);
    }
}

/// A sink that keeps what it is given until it has `accept` records, then fails every write.
struct Failing {
    kept: Collect<Row>,
    accept: usize,
}

struct FailingWorker {
    kept: Collect<Row>,
    left: usize,
}

impl caudal::sink::Sink<Row> for FailingWorker {
    fn write(&mut self, records: &mut Vec<Event<Row>>) -> Result<(), caudal::sink::SinkError> {
        if records.len() > self.left {
            return Err(caudal::sink::SinkError::Disconnected);
        }
        self.left -= records.len();
        caudal::sink::Sink::write(&mut self.kept, records)
    }
}

impl caudal::sink::SinkFactory<Row> for Failing {
    fn make(
        &self,
        _worker: WorkerInfo,
    ) -> Result<Box<dyn caudal::sink::Sink<Row>>, caudal::sink::SinkError> {
        Ok(Box::new(FailingWorker {
            kept: self.kept.clone(),
            left: self.accept,
        }))
    }
}

#[test]
fn a_sink_that_fails_stops_the_checkpoints_so_that_a_resume_writes_its_output_again() {
    let dir = std::env::temp_dir().join(format!("caudal-recovery-failing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let reference = run(0, 1, None, None);

    let kept = Collect::new();
    let sink = Failing {
        kept: kept.clone(),
        accept: 20_000,
    };
    let source = posts();
    let failed = caudal::run(config(1, Some(&dir)), move |df| {
        let rows = pipeline(0, df.source("posts", &source));
        df.sink("rows", rows, &sink);
    });
    let error = failed
        .expect_err("a run whose sink fails must fail")
        .to_string();
    assert!(error.contains("sink rows failed"), "{error}");

    let mut delivered = kept.sorted_data();
    delivered.extend(run(0, 1, Some(&dir), None));
    let _ = std::fs::remove_dir_all(&dir);
    // At-least-once: everything the failed writes lost comes again.
    let mut counts: std::collections::BTreeMap<Row, i64> = std::collections::BTreeMap::new();
    for row in reference {
        *counts.entry(row).or_default() += 1;
    }
    for row in delivered {
        *counts.entry(row).or_default() -= 1;
    }
    let lost: i64 = counts.values().filter(|n| **n > 0).sum();
    assert_eq!(lost, 0, "results lost");
}

#[test]
fn a_channel_source_under_a_guarantee_is_refused_with_what_to_do() {
    let dir = std::env::temp_dir().join(format!("caudal-recovery-channel-{}", std::process::id()));
    let (pusher, sources) = caudal::source::channel::channel::<String>(1);
    drop(pusher);
    let sink = Collect::new();
    let error = caudal::run(config(1, Some(&dir)), move |df| {
        let lines = df.source("pushed", &sources);
        df.sink("out", lines, &sink);
    })
    .expect_err("a channel cannot be replayed")
    .to_string();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        error.contains("`pushed` cannot read its input again")
            && error.contains("write-ahead log")
            && error.contains("durable_channel()")
            && error.contains("without a guarantee"),
        "{error}"
    );
}
