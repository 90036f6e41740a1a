//! The DStream layer on several workers gives what it gives on one, partition for partition: Spark's
//! recorded outputs of the lecture's examples, and random pipelines of every kind of stage over random
//! batches, compared with one worker's run.

use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use caudal::dstream::spec::{self, Spec};
use caudal::dstream::{DStreamError, Rdd, RddQueue, StreamingContext};
use proptest::prelude::*;

mod common;

/// Every lecture example with recorded Spark output, on `workers` workers; how many there were.
fn lecture_examples_match_spark(workers: usize) -> usize {
    let specs = common::lecture_specs();
    for path in &specs {
        let expected = std::fs::read_to_string(path.with_extension("jsonl")).unwrap();
        let parsed = spec::load(path).unwrap();
        let outputs = spec::run_on(&parsed, workers).unwrap();
        let actual: String = outputs.iter().map(|o| o.to_json_line() + "\n").collect();
        assert_eq!(
            actual,
            expected,
            "{} on {workers} workers differs from Spark's output",
            path.display()
        );
    }
    specs.len()
}

#[test]
fn the_lecture_examples_match_spark_on_two_and_three_workers() {
    assert_eq!(lecture_examples_match_spark(2), 4);
    assert_eq!(lecture_examples_match_spark(3), 4);
}

/// Stages from integers to integers (the second input stays integers).
const NUMBERS: &[&str] = &[
    r#"{"op": "map", "func": "add", "arg": 1}"#,
    r#"{"op": "filter", "func": "even"}"#,
    r#"{"op": "repartition", "n": 1}"#,
    r#"{"op": "repartition", "n": 3}"#,
    r#"{"op": "repartition", "n": 5}"#,
    r#"{"op": "window", "length": 2}"#,
    r#"{"op": "window", "length": 3, "slide": 1}"#,
    r#"{"op": "transform", "func": "distinct"}"#,
    r#"{"op": "transform", "func": "sort"}"#,
    r#"{"op": "reduce", "func": "max"}"#,
    r#"{"op": "count"}"#,
    r#"{"op": "reduceByWindow", "func": "sum", "length": 2, "inverse": true}"#,
    r#"{"op": "countByWindow", "length": 2}"#,
];

/// Stages from keyed integers to keyed integers.
const KEYED: &[&str] = &[
    r#"{"op": "reduceByKey", "func": "sum"}"#,
    r#"{"op": "reduceByKey", "func": "max", "numPartitions": 3}"#,
    r#"{"op": "mapValues", "func": "mul", "arg": 2}"#,
    r#"{"op": "updateStateByKey", "func": "sum"}"#,
    r#"{"op": "updateStateByKey", "func": "count", "drop_when": "no_new_values", "initial": [[1, 5], [4, 1]]}"#,
    r#"{"op": "reduceByKeyAndWindow", "func": "sum", "length": 3}"#,
    r#"{"op": "reduceByKeyAndWindow", "func": "sum", "inverse": true, "length": 2, "filter": "value_nonzero"}"#,
    r#"{"op": "repartition", "n": 4}"#,
    r#"{"op": "union"}"#,
];

/// Last stages: what they give is not fed on.
const LAST: &[&str] = &[
    r#"{"op": "glom"}"#,
    r#"{"op": "countByValue"}"#,
    r#"{"op": "transform", "func": "zipWithIndex"}"#,
    r#"{"op": "countByValueAndWindow", "length": 2}"#,
    r#"{"op": "union"}"#,
    r#"{"op": "transformWith", "func": "intersection"}"#,
];

/// Last stages on keyed records.
const LAST_KEYED: &[&str] = &[
    r#"{"op": "groupByKey"}"#,
    r#"{"op": "groupByKeyAndWindow", "length": 2, "slide": 2}"#,
    r#"{"op": "join"}"#,
    r#"{"op": "leftOuterJoin"}"#,
    r#"{"op": "fullOuterJoin", "numPartitions": 3}"#,
    r#"{"op": "cogroup"}"#,
    r#"{"op": "transformWith", "func": "subtract"}"#,
    r#"{"op": "glom"}"#,
];

/// Batches of partitions of small integers (a batch may have no partition).
fn batches() -> impl Strategy<Value = Vec<Vec<Vec<i64>>>> {
    prop::collection::vec(
        prop::collection::vec(prop::collection::vec(0i64..12, 0..7), 0..4),
        1..5,
    )
}

/// A spec: some number stages, then either a last number stage or keyed stages and a last keyed one.
fn pipelines() -> impl Strategy<Value = Spec> {
    let numbers = prop::collection::vec(prop::sample::select(NUMBERS), 0..3);
    let keyed = prop::option::of((
        prop::collection::vec(prop::sample::select(KEYED), 0..3),
        prop::option::of(prop::sample::select(LAST_KEYED)),
    ));
    let last = prop::option::of(prop::sample::select(LAST));
    (batches(), batches(), numbers, keyed, last).prop_map(
        |(input, input2, numbers, keyed, last)| {
            let mut stages: Vec<&str> = numbers;
            let mut pipeline2 = "[]";
            match keyed {
                Some((middle, end)) => {
                    stages.push(r#"{"op": "map", "func": "key_mod", "arg": 3}"#);
                    stages.extend(middle);
                    stages.extend(end);
                    pipeline2 = r#"[{"op": "map", "func": "key_mod", "arg": 3}]"#;
                }
                None => stages.extend(last),
            }
            let json = format!(
                r#"{{"batch_interval_s": 1, "input": {}, "input2": {}, "pipeline2": {pipeline2},
                "pipeline": [{}], "pprint": 4}}"#,
                serde_json::to_string(&input).unwrap(),
                serde_json::to_string(&input2).unwrap(),
                stages.join(", ")
            );
            serde_json::from_str(&json).unwrap()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_pipeline_gives_on_two_and_three_workers_what_it_gives_on_one(spec in pipelines()) {
        let one = spec::run_on(&spec, 1).map_err(|e| e.to_string());
        prop_assert!(one.is_ok(), "{:?}", one);
        for workers in [2, 3] {
            let many = spec::run_on(&spec, workers).map_err(|e| e.to_string());
            prop_assert_eq!(&one, &many, "on {} workers", workers);
        }
    }
}

/// What a program saw: each batch's partitions.
type Seen = Arc<Mutex<Vec<Vec<Vec<String>>>>>;

/// Word counts a program saw.
type Counted = Arc<Mutex<Vec<(String, u64)>>>;

#[test]
fn a_text_file_stream_on_two_workers_keeps_pysparks_partitions_and_counts_words() {
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/conformance/pyspark_text_file_splits.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let split_bytes = expected["split_bytes"].as_u64().unwrap();
    let dir = std::env::temp_dir().join(format!("caudal-dstream-workers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ssc = StreamingContext::new(Duration::from_millis(50))
        .file_split_bytes(split_bytes)
        .workers(2);
    let (seen, counted): (Seen, Counted) = Default::default();
    let (out, counts) = (seen.clone(), counted.clone());
    let watched = dir.clone();
    ssc.start_parallel(move |ssc| {
        let lines = ssc.text_file_stream(watched.clone());
        let out = out.clone();
        lines.foreach_rdd(move |_, rdd| {
            out.lock()
                .unwrap()
                .push(rdd.partitions().map(|p| p.to_vec()).collect());
        });
        let counts = counts.clone();
        lines
            .flat_map(|line| line.split(' ').map(String::from).collect::<Vec<_>>())
            .map(|word| (word, 1u64))
            .reduce_by_key(|a, b| a + b)
            .foreach_rdd(move |_, rdd| counts.lock().unwrap().extend(rdd.collect()));
    })
    .unwrap();
    let files = [
        ("a.txt", "x y\nz\n".repeat(7)),
        ("b.txt", String::new()),
        (
            "c.txt",
            (0..40).map(|i| format!("w{} x\n", i % 6)).collect(),
        ),
    ];
    for (name, text) in &files {
        let hidden = dir.join(format!(".{name}.tmp"));
        std::fs::write(&hidden, text).unwrap();
        std::fs::rename(&hidden, dir.join(name)).unwrap();
    }
    let total: usize = files.iter().map(|(_, t)| t.lines().count()).sum();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.lock().unwrap().iter().flatten().flatten().count() < total {
        assert!(Instant::now() < deadline, "the files were not all read");
        std::thread::sleep(Duration::from_millis(20));
    }
    ssc.stop(true).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    // The files' splits, in name order, as one worker (and PySpark) cuts them.
    let mut splits = Vec::new();
    for (_, text) in &files {
        let bytes = text.as_bytes();
        let mut start = 0;
        while (start as u64) < bytes.len() as u64 {
            let end = ((start as u64 + split_bytes) as usize).min(bytes.len());
            splits.push((start, end));
            start = end;
        }
    }
    let partitions: Vec<Vec<String>> = seen.lock().unwrap().iter().flatten().cloned().collect();
    let lines: Vec<String> = partitions.iter().flatten().cloned().collect();
    let want: Vec<String> = files
        .iter()
        .flat_map(|(_, t)| t.lines().map(String::from).collect::<Vec<_>>())
        .collect();
    assert_eq!(lines, want, "every line once, in file and split order");
    assert_eq!(partitions.len(), splits.len(), "a partition per split");
    let mut words: std::collections::BTreeMap<String, u64> = Default::default();
    for (word, n) in counted.lock().unwrap().iter() {
        *words.entry(word.clone()).or_default() += n;
    }
    let mut want_words: std::collections::BTreeMap<String, u64> = Default::default();
    for word in want.iter().flat_map(|l| l.split(' ')) {
        *want_words.entry(word.to_string()).or_default() += 1;
    }
    assert_eq!(words, want_words);
}

#[test]
fn a_panic_on_one_worker_fails_the_run_instead_of_leaving_the_others_waiting() {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let ssc = StreamingContext::manual(Duration::from_secs(1)).workers(2);
        let queue: RddQueue<i64> = [Rdd::new(vec![vec![1, 2], vec![13, 4]])]
            .into_iter()
            .collect();
        ssc.start_parallel(move |ssc| {
            ssc.queue_stream(&queue)
                .map(|x| if x == 13 { panic!("unlucky record") } else { x })
                .pprint(10)
        })
        .unwrap();
        let advanced = ssc.advance(1);
        let stopped = ssc.stop(false);
        tx.send((advanced, stopped)).unwrap();
    });
    let (advanced, stopped) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the run ended");
    assert!(
        matches!(advanced, Err(DStreamError::Failed(_))),
        "{advanced:?}"
    );
    assert!(
        matches!(stopped, Err(DStreamError::Failed(_))),
        "{stopped:?}"
    );
}

#[test]
fn several_workers_need_a_program_built_on_each_and_several_processes_no_checkpoint_yet() {
    let ssc = StreamingContext::manual(Duration::from_secs(1)).workers(2);
    let queue: RddQueue<i64> = RddQueue::new();
    let err = ssc
        .start(move |ssc| ssc.queue_stream(&queue).pprint(1))
        .unwrap_err();
    assert!(err.to_string().contains("start_parallel"), "{err}");
    let dir =
        std::env::temp_dir().join(format!("caudal-dstream-workers-cp-{}", std::process::id()));
    let mut ssc = StreamingContext::manual(Duration::from_secs(1))
        .workers(2)
        .cluster(caudal::config::Cluster {
            processes: 2,
            process: 0,
            hostfile: None,
            connect_timeout: Duration::from_secs(1),
        });
    ssc.checkpoint(&dir);
    let queue: RddQueue<i64> = RddQueue::new();
    let err = ssc
        .start_parallel(move |ssc| ssc.queue_stream(&queue).pprint(1))
        .unwrap_err();
    assert!(err.to_string().contains("several processes"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
