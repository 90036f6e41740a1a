//! DStream checkpoints: `StreamingContext::checkpoint` and `get_or_create`, as in Spark: a program
//! stopped (or killed) and started again from its checkpoint goes on with its state and its batch
//! counter where they were.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use caudal::dstream::{DStreamError, RddQueue, StreamingContext};

type Counts = Arc<Mutex<Vec<(u64, u64, BTreeMap<String, u64>)>>>;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("caudal-dstream-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Running word counts over the files of `input`: (batch, batch time in ms, counts) per batch.
fn start_word_counts(ssc: &StreamingContext, input: &Path, counts: &Counts) {
    let (input, out) = (input.to_path_buf(), counts.clone());
    ssc.start(move |ssc| {
        ssc.text_file_stream(input)
            .flat_map(|line| line.split(' ').map(String::from).collect::<Vec<_>>())
            .map(|word| (word, 1u64))
            .update_state_by_key(|new: Vec<u64>, old: Option<u64>| {
                Some(old.unwrap_or(0) + new.iter().sum::<u64>())
            })
            .foreach_rdd(move |time, rdd| {
                out.lock().unwrap().push((
                    time.batch,
                    time.ms,
                    rdd.collect().into_iter().collect(),
                ));
            });
    })
    .unwrap();
}

fn add_file(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(format!(".{name}.tmp")), text).unwrap();
    std::fs::rename(dir.join(format!(".{name}.tmp")), dir.join(name)).unwrap();
}

#[test]
fn get_or_create_resumes_update_state_by_key_and_the_batch_counter() {
    let dir = scratch("resume");
    let (input, checkpoints) = (dir.join("input"), dir.join("checkpoints"));
    std::fs::create_dir_all(&input).unwrap();
    add_file(&input, "a.txt", "x y x\n");

    let counts: Counts = Arc::default();
    let created = Arc::new(Mutex::new(0));
    let make = {
        let created = created.clone();
        move || {
            *created.lock().unwrap() += 1;
            StreamingContext::manual(Duration::from_secs(1))
        }
    };
    let ssc = StreamingContext::get_or_create(&checkpoints, make.clone()).unwrap();
    assert_eq!(ssc.resumes_at_batch(), None);
    start_word_counts(&ssc, &input, &counts);
    ssc.advance(2).unwrap();
    ssc.stop(true).unwrap();
    drop(ssc);

    add_file(&input, "b.txt", "x z\n");
    let ssc = StreamingContext::get_or_create(&checkpoints, make.clone()).unwrap();
    assert_eq!(
        *created.lock().unwrap(),
        1,
        "a checkpoint was there: nothing is created"
    );
    assert_eq!(ssc.resumes_at_batch(), Some(2));
    start_word_counts(&ssc, &input, &counts);
    ssc.advance(1).unwrap();
    ssc.stop(true).unwrap();

    let got = counts.lock().unwrap().clone();
    let map = |pairs: &[(&str, u64)]| -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    let first = map(&[("x", 2), ("y", 1)]);
    assert_eq!(
        got,
        vec![
            (0, 1000, first.clone()),
            (1, 2000, first),
            // The counts go on, a.txt is not read again, and the batch counter and times continue.
            (2, 3000, map(&[("x", 3), ("y", 1), ("z", 1)])),
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_checkpoint_of_another_program_or_a_damaged_one_is_refused_with_its_file_named() {
    let dir = scratch("refused");
    let (input, checkpoints) = (dir.join("input"), dir.join("checkpoints"));
    std::fs::create_dir_all(&input).unwrap();
    let counts: Counts = Arc::default();
    let ssc = StreamingContext::get_or_create(&checkpoints, || {
        StreamingContext::manual(Duration::from_secs(1))
    })
    .unwrap();
    start_word_counts(&ssc, &input, &counts);
    ssc.advance(1).unwrap();
    ssc.stop(true).unwrap();
    drop(ssc);

    // Another program: a plain count, with no state where the checkpoint has some.
    let ssc = StreamingContext::get_or_create(&checkpoints, || unreachable!()).unwrap();
    let watched = input.clone();
    let error = ssc
        .start(move |ssc| {
            ssc.text_file_stream(watched).count().pprint(10);
        })
        .expect_err("the checkpoint does not fit");
    let message = error.to_string();
    assert!(
        message.contains("batch-0000000001.ckpt") && message.contains("does not fit"),
        "{message}"
    );
    drop(ssc);

    // A flipped byte.
    let file = checkpoints.join("batch-0000000001.ckpt");
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let error = StreamingContext::get_or_create(&checkpoints, || unreachable!())
        .err()
        .expect("a damaged checkpoint is refused")
        .to_string();
    assert!(error.contains("batch-0000000001.ckpt"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn queue_streams_cannot_be_checkpointed_as_in_spark() {
    let dir = scratch("queue");
    let mut ssc = StreamingContext::manual(Duration::from_secs(1));
    ssc.checkpoint(dir.join("checkpoints"));
    let queue: RddQueue<u32> = RddQueue::new();
    let error = ssc
        .start(move |ssc| ssc.queue_stream(&queue).count().pprint(10))
        .expect_err("a queue stream cannot be read again");
    assert!(
        matches!(&error, DStreamError::Checkpoint(m) if m.contains("cannot be checkpointed")),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One output's batch: (output, batch, partitions).
type Output = (&'static str, u64, Vec<Vec<(String, u64)>>);

/// What the outputs gave.
type Outputs = Arc<Mutex<Vec<Output>>>;

/// Running word counts and windowed counts (with an inverse) over the files of `input`, on the
/// context's workers.
fn start_keyed_program(ssc: &StreamingContext, input: &Path, outputs: &Outputs) {
    let (input, outputs) = (input.to_path_buf(), outputs.clone());
    ssc.start_parallel(move |ssc| {
        let pairs = ssc
            .text_file_stream(input.clone())
            .flat_map(|line| line.split(' ').map(String::from).collect::<Vec<_>>())
            .map(|word| (word, 1u64));
        let record = |name: &'static str| {
            let outputs = outputs.clone();
            move |time: caudal::dstream::BatchTime, rdd: &caudal::dstream::Rdd<(String, u64)>| {
                let parts = rdd.partitions().map(|p| p.to_vec()).collect();
                outputs.lock().unwrap().push((name, time.batch, parts));
            }
        };
        pairs
            .update_state_by_key(|new: Vec<u64>, old: Option<u64>| {
                Some(old.unwrap_or(0) + new.iter().sum::<u64>())
            })
            .foreach_rdd(record("state"));
        pairs
            .partitions(3)
            .reduce_by_key_and_window_inverse(
                |a, b| a + b,
                |a, b| a - b,
                Duration::from_secs(3),
                Duration::from_secs(1),
                None,
            )
            .foreach_rdd(record("window"));
    })
    .unwrap();
}

/// The keyed program on `workers` workers, stopped after two batches and resumed from its checkpoint
/// for three more: two files before the first run, one before the second.
fn stopped_and_resumed(name: &str, workers: usize) -> Vec<Output> {
    let dir = scratch(name);
    let (input, checkpoints) = (dir.join("input"), dir.join("checkpoints"));
    std::fs::create_dir_all(&input).unwrap();
    add_file(&input, "a.txt", "x y x w\nv x\n");
    add_file(&input, "b.txt", "x z\ny y u\n");
    let outputs: Outputs = Arc::default();
    let make = move || StreamingContext::manual(Duration::from_secs(1)).workers(workers);
    let ssc = StreamingContext::get_or_create(&checkpoints, make).unwrap();
    start_keyed_program(&ssc, &input, &outputs);
    ssc.advance(2).unwrap();
    ssc.stop(true).unwrap();
    drop(ssc);
    add_file(&input, "c.txt", "w w q\nx\n");
    let ssc = StreamingContext::get_or_create(&checkpoints, || panic!("resumed")).unwrap();
    assert_eq!(ssc.resumes_at_batch(), Some(2));
    start_keyed_program(&ssc, &input, &outputs);
    ssc.advance(3).unwrap();
    ssc.stop(true).unwrap();
    if workers > 1 {
        // Resumed on one worker instead: refused, with the reason.
        let one = StreamingContext::get_or_create(&checkpoints, || panic!("resumed"))
            .unwrap()
            .workers(1);
        let refused = one.start_parallel(|ssc| {
            ssc.text_file_stream("unused").pprint(1);
        });
        let why = format!("{workers} workers");
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.to_string().contains(&why)),
            "{refused:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let mut all = outputs.lock().unwrap().clone();
    all.sort_by_key(|(name, batch, _)| (*name, *batch));
    all
}

#[test]
fn a_program_on_three_workers_resumes_from_its_checkpoint_as_on_one() {
    let one = stopped_and_resumed("workers-one", 1);
    assert_eq!(one.len(), 10, "5 batches of each output: {one:?}");
    // The window spans the restart: batch 2's window still holds batch 0's words.
    let window_2 = &one
        .iter()
        .find(|(n, b, _)| *n == "window" && *b == 2)
        .unwrap()
        .2;
    assert!(
        window_2.iter().flatten().any(|(w, n)| w == "x" && *n == 5),
        "{window_2:?}"
    );
    assert_eq!(stopped_and_resumed("workers-three", 3), one);
}
