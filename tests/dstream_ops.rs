//! Every DStream operation on the manual clock, against expected batches or a reference model: empty
//! batches, windows longer than the stream, slide equal to the window, keys that disappear, partitions.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use caudal::dstream::{
    pprint_text, BatchTime, DStreamError, Rdd, RddQueue, StreamingContext, Streams,
};
use proptest::prelude::*;

/// Batch → partitions, for the batches a stream produced.
type Batches<U> = BTreeMap<u64, Vec<Vec<U>>>;

/// Collects a stream's batches.
struct Capture<U>(Arc<Mutex<Batches<U>>>);

impl<U> Clone for Capture<U> {
    fn clone(&self) -> Self {
        Capture(self.0.clone())
    }
}

impl<U: Clone + Send + 'static> Capture<U> {
    fn new() -> Self {
        Capture(Arc::default())
    }

    fn sink(&self) -> impl FnMut(BatchTime, &Rdd<U>) + 'static {
        let batches = self.0.clone();
        move |time, rdd| {
            let parts = rdd.partitions().map(|p| p.to_vec()).collect();
            assert!(batches.lock().unwrap().insert(time.batch, parts).is_none());
        }
    }

    fn batches(&self) -> Batches<U> {
        self.0.lock().unwrap().clone()
    }

    /// The records of each batch, sorted; `None` for batches the stream did not produce.
    fn sorted(&self, n: u64) -> Vec<Option<Vec<U>>>
    where
        U: Ord,
    {
        let batches = self.batches();
        (0..n)
            .map(|b| {
                batches.get(&b).map(|parts| {
                    let mut all: Vec<U> = parts.concat();
                    all.sort();
                    all
                })
            })
            .collect()
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Runs `program` for `batches` batches on the manual clock with a 1 s interval.
fn run(batches: u64, program: impl for<'s> FnOnce(&mut Streams<'s>) + Send + 'static) {
    let ssc = StreamingContext::manual(secs(1));
    ssc.start(program).unwrap();
    ssc.advance(batches).unwrap();
    ssc.stop(true).unwrap();
}

/// An owned key (DStream data is serializable, so keys are owned strings, not `&str`).
fn s(key: &str) -> String {
    key.to_string()
}

fn queue<T: Send + Sync + 'static>(batches: Vec<Vec<Vec<T>>>) -> RddQueue<T> {
    batches.into_iter().collect()
}

#[test]
fn a_queue_gives_a_batch_per_interval_then_one_empty_partition() {
    let q = queue(vec![vec![vec![1, 2], vec![3]], vec![], vec![vec![4]]]);
    let out = Capture::new();
    let sink = out.sink();
    run(5, move |ssc| ssc.queue_stream(&q).foreach_rdd(sink));
    let batches = out.batches();
    assert_eq!(batches[&0], vec![vec![1, 2], vec![3]]);
    assert_eq!(
        batches[&1],
        Vec::<Vec<i32>>::new(),
        "a batch with no partition"
    );
    assert_eq!(batches[&2], vec![vec![4]]);
    assert_eq!(batches[&3], vec![Vec::<i32>::new()]);
    assert_eq!(batches[&4], vec![Vec::<i32>::new()]);
}

#[test]
fn a_queue_can_take_everything_at_once_and_has_a_default() {
    let q = queue(vec![vec![vec![1]], vec![vec![2]]]);
    let out = Capture::new();
    let sink = out.sink();
    run(3, move |ssc| {
        ssc.queue_stream_with(&q, false, Some(Rdd::new(vec![vec![0]])))
            .foreach_rdd(sink)
    });
    let batches = out.batches();
    assert_eq!(batches[&0], vec![vec![1], vec![2]]);
    assert_eq!(batches[&1], vec![vec![0]]);
}

#[test]
fn narrow_operations_keep_the_partitions() {
    let q = queue(vec![vec![
        vec!["a b".to_string(), "c".into()],
        vec!["d e f".into()],
    ]]);
    let (words, lens, glom, upper) = (
        Capture::new(),
        Capture::new(),
        Capture::new(),
        Capture::new(),
    );
    let (s1, s2, s3, s4) = (words.sink(), lens.sink(), glom.sink(), upper.sink());
    run(1, move |ssc| {
        let lines = ssc.queue_stream(&q);
        let words = lines.flat_map(|l| l.split(' ').map(String::from).collect::<Vec<_>>());
        words.foreach_rdd(s1);
        words
            .map(|w| (w.clone(), w.len()))
            .filter(|(w, _)| w != "e")
            .map_values(|n| n * 10)
            .foreach_rdd(s2);
        words.glom().foreach_rdd(s3);
        lines
            .map_partitions(|p| vec![p.join("|").to_uppercase()])
            .foreach_rdd(s4);
    });
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        words.batches()[&0],
        vec![s(&["a", "b", "c"]), s(&["d", "e", "f"])]
    );
    assert_eq!(
        lens.batches()[&0],
        vec![
            vec![("a".into(), 10), ("b".into(), 10), ("c".into(), 10)],
            vec![("d".into(), 10), ("f".into(), 10)]
        ]
    );
    assert_eq!(
        glom.batches()[&0],
        vec![vec![s(&["a", "b", "c"])], vec![s(&["d", "e", "f"])]]
    );
    assert_eq!(upper.batches()[&0], vec![s(&["A B|C"]), s(&["D E F"])]);
}

#[test]
fn count_reduce_and_count_by_value_of_full_and_empty_batches() {
    let q = queue(vec![vec![vec![3, 1], vec![3]], vec![]]);
    let (count, reduce, by_value) = (Capture::new(), Capture::new(), Capture::new());
    let (s1, s2, s3) = (count.sink(), reduce.sink(), by_value.sink());
    run(3, move |ssc| {
        let nums = ssc.queue_stream(&q);
        nums.count().foreach_rdd(s1);
        nums.reduce(|a, b| a + b).foreach_rdd(s2);
        nums.count_by_value().foreach_rdd(s3);
    });
    assert_eq!(
        count.batches().into_values().collect::<Vec<_>>(),
        vec![vec![vec![3]], vec![vec![]], vec![vec![0]]],
        "PySpark's count: no record for the batch with no partition, 0 for the empty queue's \
         batch of one empty partition (real PySpark 3.5.9: [[3]], then [[]] for sc.emptyRDD(), \
         then [[0]] once the queue is dry)"
    );
    assert_eq!(reduce.batches()[&0], vec![vec![7]]);
    assert_eq!(
        reduce.batches()[&1],
        vec![Vec::<i32>::new()],
        "reduce of an empty batch: nothing"
    );
    // 3 hashes to partition 1, 1 to partition 1 (of 2).
    assert_eq!(by_value.batches()[&0], vec![vec![], vec![(3, 2), (1, 1)]]);
    assert_eq!(by_value.batches()[&1], vec![vec![], vec![]]);
}

#[test]
fn keyed_operations_place_keys_by_hash_into_the_partitions_asked_for() {
    let q = queue(vec![vec![
        vec![(1, 1), (2, 2), (3, 3)],
        vec![(1, 10), (4, 4)],
    ]]);
    let (by_key, grouped, three) = (Capture::new(), Capture::new(), Capture::new());
    let (s1, s2, s3) = (by_key.sink(), grouped.sink(), three.sink());
    run(1, move |ssc| {
        let pairs = ssc.queue_stream(&q);
        pairs.reduce_by_key(|a, b| a + b).foreach_rdd(s1);
        pairs.group_by_key().foreach_rdd(s2);
        pairs
            .partitions(3)
            .reduce_by_key(|a, b| a + b)
            .foreach_rdd(s3);
    });
    assert_eq!(
        by_key.batches()[&0],
        vec![vec![(2, 2), (4, 4)], vec![(1, 11), (3, 3)]]
    );
    assert_eq!(
        grouped.batches()[&0],
        vec![
            vec![(2, vec![2]), (4, vec![4])],
            vec![(1, vec![1, 10]), (3, vec![3])]
        ]
    );
    assert_eq!(
        three.batches()[&0],
        vec![vec![(3, 3)], vec![(1, 11), (4, 4)], vec![(2, 2)]]
    );
}

#[test]
fn union_puts_the_first_streams_partitions_first() {
    let (a, b) = (
        queue(vec![vec![vec![1], vec![2]]]),
        queue(vec![vec![vec![3]]]),
    );
    let (two, many) = (Capture::new(), Capture::new());
    let (s1, s2) = (two.sink(), many.sink());
    run(2, move |ssc| {
        let (x, y) = (ssc.queue_stream(&a), ssc.queue_stream(&b));
        x.union(&y).foreach_rdd(s1);
        ssc.union(&[y.clone(), x, y]).foreach_rdd(s2);
    });
    assert_eq!(two.batches()[&0], vec![vec![1], vec![2], vec![3]]);
    assert_eq!(two.batches()[&1], vec![Vec::<i32>::new(), vec![]]);
    assert_eq!(many.batches()[&0], vec![vec![3], vec![1], vec![2], vec![3]]);
}

#[test]
fn joins_and_cogroup_meet_records_of_the_same_batch_only() {
    let a = queue(vec![vec![vec![(1, 'a'), (2, 'b')]], vec![vec![(1, 'c')]]]);
    let b = queue(vec![vec![vec![(1, 10), (3, 30)]], vec![vec![(3, 31)]]]);
    let (inner, left, right, full, co) = (
        Capture::new(),
        Capture::new(),
        Capture::new(),
        Capture::new(),
        Capture::new(),
    );
    let sinks = (
        inner.sink(),
        left.sink(),
        right.sink(),
        full.sink(),
        co.sink(),
    );
    run(2, move |ssc| {
        let (x, y) = (ssc.queue_stream(&a), ssc.queue_stream(&b));
        x.join(&y).foreach_rdd(sinks.0);
        x.left_outer_join(&y).foreach_rdd(sinks.1);
        x.right_outer_join(&y).foreach_rdd(sinks.2);
        x.full_outer_join(&y).foreach_rdd(sinks.3);
        x.cogroup(&y).foreach_rdd(sinks.4);
    });
    assert_eq!(
        inner.sorted(2),
        vec![Some(vec![(1, ('a', 10))]), Some(vec![])]
    );
    assert_eq!(
        left.sorted(2),
        vec![
            Some(vec![(1, ('a', Some(10))), (2, ('b', None))]),
            Some(vec![(1, ('c', None))])
        ]
    );
    assert_eq!(
        right.sorted(2),
        vec![
            Some(vec![(1, (Some('a'), 10)), (3, (None, 30))]),
            Some(vec![(3, (None, 31))])
        ]
    );
    assert_eq!(
        full.sorted(2)[1],
        Some(vec![(1, (Some('c'), None)), (3, (None, Some(31)))])
    );
    assert_eq!(
        co.batches()[&0],
        vec![
            vec![(2, (vec!['b'], vec![]))],
            vec![(1, (vec!['a'], vec![10])), (3, (vec![], vec![30]))]
        ]
    );
}

#[test]
fn transform_and_transform_with_see_whole_batches() {
    let a = queue(vec![vec![vec![5, 1, 5], vec![3]]]);
    let b = queue(vec![vec![vec![5]]]);
    let (sorted, minus, timed) = (Capture::new(), Capture::new(), Capture::new());
    let (s1, s2, s3) = (sorted.sink(), minus.sink(), timed.sink());
    run(2, move |ssc| {
        let (x, y) = (ssc.queue_stream(&a), ssc.queue_stream(&b));
        x.transform(|rdd| rdd.distinct().sort()).foreach_rdd(s1);
        x.transform_with(&y, |p, q| p.subtract(q)).foreach_rdd(s2);
        x.transform_with_time(|time, rdd| Rdd::new(vec![vec![(time.ms, rdd.len())]]))
            .foreach_rdd(s3);
    });
    assert_eq!(sorted.batches()[&0], vec![vec![1, 3], vec![5]]);
    assert_eq!(minus.sorted(1), vec![Some(vec![1, 3])]);
    assert_eq!(timed.batches()[&1], vec![vec![(2000, 0)]]);
}

#[test]
fn update_state_by_key_emits_every_key_every_batch_until_removed() {
    let q = queue(vec![
        vec![vec![(s("a"), 1), (s("b"), 1)]],
        vec![vec![(s("a"), 1)]],
        vec![vec![(s("c"), 5)]],
    ]);
    let out = Capture::new();
    let sink = out.sink();
    run(5, move |ssc| {
        ssc.queue_stream(&q)
            .update_state_by_key_with_initial(
                // A running sum; a key without new values for a batch is removed.
                |values: Vec<i32>, state: Option<i32>| {
                    (!values.is_empty()).then(|| state.unwrap_or(0) + values.iter().sum::<i32>())
                },
                Rdd::new(vec![vec![(s("z"), 100)]]),
            )
            .foreach_rdd(sink);
    });
    assert_eq!(
        out.sorted(5),
        vec![
            Some(vec![(s("a"), 1), (s("b"), 1)]),
            Some(vec![(s("a"), 2)]),
            Some(vec![(s("c"), 5)]),
            Some(vec![]),
            Some(vec![]),
        ]
    );
}

#[test]
fn update_state_by_key_keeps_absent_keys() {
    let q = queue(vec![vec![vec![(1, 5)]], vec![vec![(2, 7)]]]);
    let out = Capture::new();
    let sink = out.sink();
    run(4, move |ssc| {
        ssc.queue_stream(&q)
            .update_state_by_key(|values: Vec<i32>, state: Option<usize>| {
                Some(state.unwrap_or(0) + values.len())
            })
            .foreach_rdd(sink);
    });
    let last = out.batches()[&3].clone();
    assert_eq!(last, vec![vec![(2, 1)], vec![(1, 1)]]);
}

#[test]
fn windows_fire_on_their_slide_drain_and_stay_empty() {
    let q = queue(vec![vec![vec![1]], vec![vec![2]], vec![vec![3]]]);
    let (w31, w22, long) = (Capture::new(), Capture::new(), Capture::new());
    let (s1, s2, s3) = (w31.sink(), w22.sink(), long.sink());
    run(7, move |ssc| {
        let nums = ssc.queue_stream(&q);
        nums.window(secs(3), secs(1)).foreach_rdd(s1);
        nums.window(secs(2), secs(2)).foreach_rdd(s2);
        // Longer than the whole stream.
        nums.window(secs(10), secs(5)).foreach_rdd(s3);
    });
    assert_eq!(
        w31.sorted(7),
        vec![
            Some(vec![1]),
            Some(vec![1, 2]),
            Some(vec![1, 2, 3]),
            Some(vec![2, 3]),
            Some(vec![3]),
            Some(vec![]),
            Some(vec![])
        ]
    );
    assert_eq!(
        w22.sorted(7),
        vec![
            None,
            Some(vec![1, 2]),
            None,
            Some(vec![3]),
            None,
            Some(vec![]),
            None
        ]
    );
    assert_eq!(
        long.sorted(7),
        vec![None, None, None, None, Some(vec![1, 2, 3]), None, None]
    );
    // Batch 4 of window(10, 5) spans batches 0-4: their partitions, one each.
    assert_eq!(
        long.batches()[&4],
        vec![vec![1], vec![2], vec![3], vec![], vec![]]
    );
}

#[test]
fn window_reductions_with_and_without_inverse() {
    let q = queue(vec![
        vec![vec![(s("a"), 1), (s("b"), 2)]],
        vec![vec![(s("a"), 3)]],
        vec![],
    ]);
    let (plain, inverse, filtered) = (Capture::new(), Capture::new(), Capture::new());
    let (s1, s2, s3) = (plain.sink(), inverse.sink(), filtered.sink());
    run(5, move |ssc| {
        let pairs = ssc.queue_stream(&q);
        pairs
            .reduce_by_key_and_window(|a, b| a + b, secs(2), secs(1))
            .foreach_rdd(s1);
        pairs
            .reduce_by_key_and_window_inverse(|a, b| a + b, |a, b| a - b, secs(2), secs(1), None)
            .foreach_rdd(s2);
        pairs
            .reduce_by_key_and_window_inverse(
                |a, b| a + b,
                |a, b| a - b,
                secs(2),
                secs(1),
                Some(Box::new(|(_, v): &(String, i32)| *v != 0)),
            )
            .foreach_rdd(s3);
    });
    assert_eq!(
        plain.sorted(5),
        vec![
            Some(vec![(s("a"), 1), (s("b"), 2)]),
            Some(vec![(s("a"), 4), (s("b"), 2)]),
            Some(vec![(s("a"), 3)]),
            Some(vec![]),
            Some(vec![])
        ]
    );
    // With the inverse, keys whose value went back to zero stay.
    assert_eq!(
        inverse.sorted(5),
        vec![
            Some(vec![(s("a"), 1), (s("b"), 2)]),
            Some(vec![(s("a"), 4), (s("b"), 2)]),
            Some(vec![(s("a"), 3), (s("b"), 0)]),
            Some(vec![(s("a"), 0), (s("b"), 0)]),
            Some(vec![(s("a"), 0), (s("b"), 0)])
        ]
    );
    // ... unless the filter drops them.
    assert_eq!(filtered.sorted(5), plain.sorted(5));
}

#[test]
fn counting_windows() {
    let q = queue(vec![vec![vec![7, 7]], vec![vec![8]]]);
    let (by_window, by_value, reduced, grouped) = (
        Capture::new(),
        Capture::new(),
        Capture::new(),
        Capture::new(),
    );
    let sinks = (
        by_window.sink(),
        by_value.sink(),
        reduced.sink(),
        grouped.sink(),
    );
    run(5, move |ssc| {
        let nums = ssc.queue_stream(&q);
        nums.count_by_window(secs(2), secs(1)).foreach_rdd(sinks.0);
        nums.count_by_value_and_window(secs(2), secs(1))
            .foreach_rdd(sinks.1);
        nums.reduce_by_window(|a, b| a.max(b), secs(2), secs(2))
            .foreach_rdd(sinks.2);
        nums.map(|n| (n % 2, n))
            .group_by_key_and_window(secs(2), secs(1))
            .foreach_rdd(sinks.3);
    });
    // Spark's countByWindow goes through the inverse: 0 once the records have left.
    assert_eq!(
        by_window.sorted(5),
        vec![
            Some(vec![2]),
            Some(vec![3]),
            Some(vec![1]),
            Some(vec![0]),
            Some(vec![0])
        ]
    );
    // countByValueAndWindow drops zero counts.
    assert_eq!(
        by_value.sorted(5),
        vec![
            Some(vec![(7, 2)]),
            Some(vec![(7, 2), (8, 1)]),
            Some(vec![(8, 1)]),
            Some(vec![]),
            Some(vec![])
        ]
    );
    assert_eq!(
        reduced.sorted(5),
        vec![None, Some(vec![8]), None, Some(vec![]), None]
    );
    assert_eq!(
        grouped.batches()[&1],
        vec![vec![(0, vec![8])], vec![(1, vec![7, 7])]]
    );
}

#[test]
fn output_operations_run_in_registration_order_once_per_batch() {
    let q = queue(vec![vec![vec![1]], vec![vec![2]]]);
    let log = Arc::new(Mutex::new(Vec::new()));
    let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
    run(4, move |ssc| {
        let nums = ssc.queue_stream(&q);
        nums.foreach_rdd(move |t, _| l1.lock().unwrap().push((t.batch, "first")));
        nums.window(secs(2), secs(2))
            .foreach_rdd(move |t, _| l2.lock().unwrap().push((t.batch, "window")));
        nums.foreach_rdd(move |t, _| l3.lock().unwrap().push((t.batch, "third")));
    });
    assert_eq!(
        *log.lock().unwrap(),
        vec![
            (0, "first"),
            (0, "third"),
            (1, "first"),
            (1, "window"),
            (1, "third"),
            (2, "first"),
            (2, "third"),
            (3, "first"),
            (3, "window"),
            (3, "third")
        ]
    );
}

#[test]
fn pprint_prints_as_spark() {
    let rdd = Rdd::new(vec![
        (0..7).map(|i| (format!("w{i}"), i)).collect::<Vec<_>>(),
        vec![("x".into(), 9)],
    ]);
    let time = BatchTime { batch: 1, ms: 2500 };
    let text = pprint_text(time, true, 3, &rdd);
    let rule = "-".repeat(43);
    assert_eq!(
        text,
        format!("{rule}\nTime: 1970-01-01 00:00:02.500000\n{rule}\n('w0', 0)\n('w1', 1)\n('w2', 2)\n...\n\n")
    );
    let exact = pprint_text(time, true, 8, &rdd);
    assert!(exact.ends_with("('x', 9)\n\n"), "{exact}");

    let q = queue(vec![vec![vec!["a".to_string(), "b".into()]]]);
    let printed = Arc::new(Mutex::new(String::new()));
    let p = printed.clone();
    run(2, move |ssc| {
        ssc.queue_stream(&q)
            .pprint_to(10, move |text| p.lock().unwrap().push_str(text))
    });
    assert_eq!(
        *printed.lock().unwrap(),
        format!("{rule}\nTime: 1970-01-01 00:00:01\n{rule}\na\nb\n\n{rule}\nTime: 1970-01-01 00:00:02\n{rule}\n\n")
    );
}

#[test]
fn save_as_text_files_writes_a_directory_per_batch_and_a_file_per_partition() {
    let dir = std::env::temp_dir().join(format!("caudal-dstream-save-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let prefix = dir.join("counts").to_str().unwrap().to_string();
    let q = queue(vec![vec![
        vec![("a".to_string(), 1)],
        vec![("b".into(), 2)],
    ]]);
    let (p, j) = (prefix.clone(), format!("{prefix}-json"));
    run(1, move |ssc| {
        let s = ssc.queue_stream(&q);
        s.save_as_text_files(p, "txt");
        s.save_as_json_files(j, "");
    });
    let batch = dir.join("counts-1000.txt");
    assert_eq!(
        std::fs::read_to_string(batch.join("part-00000")).unwrap(),
        "('a', 1)\n"
    );
    assert_eq!(
        std::fs::read_to_string(batch.join("part-00001")).unwrap(),
        "('b', 2)\n"
    );
    assert!(batch.join("_SUCCESS").exists());
    assert_eq!(
        std::fs::read_to_string(dir.join("counts-json-1000").join("part-00001")).unwrap(),
        "[\"b\",2]\n"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn misuse_gets_clear_errors() {
    let ssc = StreamingContext::manual(secs(1));
    assert_eq!(ssc.advance(1), Err(DStreamError::NotStarted));
    let q: RddQueue<i32> = RddQueue::new();
    assert_eq!(
        ssc.start(move |ssc| {
            ssc.queue_stream(&q).map(|x| x + 1);
        }),
        Err(DStreamError::NoOutputOperations)
    );
    let system = StreamingContext::new(Duration::from_millis(50));
    let q: RddQueue<i32> = RddQueue::new();
    system
        .start(move |ssc| ssc.queue_stream(&q).pprint(1))
        .unwrap();
    assert_eq!(system.advance(1), Err(DStreamError::NotManualClock));
    assert_eq!(system.start(|_| {}), Err(DStreamError::AlreadyStarted));
    system.stop(false).unwrap();
}

#[test]
fn a_failing_output_fails_the_run_and_says_why() {
    let ssc = StreamingContext::manual(secs(1));
    let q = queue(vec![vec![vec![1]]]);
    // A file where the batch directory should go.
    let blocker =
        std::env::temp_dir().join(format!("caudal-dstream-blocked-{}", std::process::id()));
    std::fs::write(&blocker, "").unwrap();
    let prefix = blocker.join("out").to_str().unwrap().to_string();
    ssc.start(move |ssc| ssc.queue_stream(&q).save_as_text_files(prefix, ""))
        .unwrap();
    let error = ssc.advance(1).unwrap_err();
    std::fs::remove_file(&blocker).unwrap();
    assert!(
        matches!(&error, DStreamError::Failed(m) if m.contains("cannot write")),
        "{error}"
    );
}

#[test]
fn the_system_clock_runs_batches_at_multiples_of_the_interval_until_stopped() {
    let ssc = StreamingContext::new(Duration::from_millis(20));
    let q = queue(vec![vec![vec![1]], vec![vec![2]]]);
    let times = Arc::new(Mutex::new(Vec::new()));
    let t = times.clone();
    ssc.start(move |ssc| {
        ssc.queue_stream(&q)
            .foreach_rdd(move |time, rdd| t.lock().unwrap().push((time, rdd.collect())))
    })
    .unwrap();
    // Not a timing assertion: it waits until three batches have run, however long that takes.
    while ssc.batches_completed() < 3 {
        assert_eq!(
            ssc.await_termination_or_timeout(Duration::from_millis(5)),
            Ok(false)
        );
    }
    ssc.stop(true).unwrap();
    assert_eq!(ssc.await_termination_or_timeout(Duration::ZERO), Ok(true));
    let times = times.lock().unwrap();
    assert_eq!(times[0].1, vec![1]);
    assert_eq!(times[1].1, vec![2]);
    for (i, (time, _)) in times.iter().enumerate() {
        assert_eq!(time.batch, i as u64);
        assert_eq!(time.ms % 20, 0, "batch times are multiples of the interval");
        assert_eq!(time.ms, times[0].0.ms + 20 * i as u64);
    }
}

/// Batches of small numbers, as partitions.
fn batches() -> impl Strategy<Value = Vec<Vec<Vec<u8>>>> {
    prop::collection::vec(
        prop::collection::vec(prop::collection::vec(0u8..6, 0..5), 0..3),
        0..6,
    )
}

/// The input batch `b`, after the queue runs dry: one empty partition.
fn input(data: &[Vec<Vec<u8>>], b: u64) -> Vec<Vec<u8>> {
    data.get(b as usize)
        .cloned()
        .unwrap_or_else(|| vec![vec![]])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn windows_match_a_reference_model(data in batches(), length in 1u64..4, slide in 1u64..4) {
        let total = data.len() as u64 + length + slide;
        let q = queue(data.clone());
        let (windowed, counts, counts_inv, state) = (Capture::new(), Capture::new(), Capture::new(), Capture::new());
        let sinks = (windowed.sink(), counts.sink(), counts_inv.sink(), state.sink());
        run(total, move |ssc| {
            let nums = ssc.queue_stream(&q);
            nums.window(secs(length), secs(slide)).foreach_rdd(sinks.0);
            nums.count_by_value_and_window(secs(length), secs(slide)).foreach_rdd(sinks.1);
            nums.map(|n| (n, 1u64))
                .reduce_by_key_and_window_inverse(|a, b| a + b, |a, b| a - b, secs(length), secs(slide), None)
                .foreach_rdd(sinks.2);
            nums.map(|n| (n, ())).update_state_by_key(|new: Vec<()>, old: Option<usize>| Some(old.unwrap_or(0) + new.len())).foreach_rdd(sinks.3);
        });
        let (windowed, counts, counts_inv, state) = (windowed.batches(), counts.batches(), counts_inv.batches(), state.batches());
        let mut seen: BTreeMap<u8, usize> = BTreeMap::new();
        let mut ever_in_window: BTreeSet<u8> = BTreeSet::new();
        for t in 0..total {
            for n in input(&data, t).concat() {
                *seen.entry(n).or_default() += 1;
            }
            let mut expected_state: Vec<(u8, usize)> = seen.clone().into_iter().collect();
            let mut got_state = state[&t].concat();
            got_state.sort();
            expected_state.sort();
            prop_assert_eq!(got_state, expected_state);
            if (t + 1) % slide != 0 {
                prop_assert!(!windowed.contains_key(&t) && !counts.contains_key(&t) && !counts_inv.contains_key(&t));
                continue;
            }
            // The window's partitions: the batches in (t - length, t], in order.
            let first = (t + 1).saturating_sub(length);
            let expected: Vec<Vec<u8>> = (first..=t).flat_map(|b| input(&data, b)).collect();
            prop_assert_eq!(&windowed[&t], &expected);
            let mut reference: BTreeMap<u8, u64> = BTreeMap::new();
            for n in expected.concat() {
                *reference.entry(n).or_default() += 1;
            }
            let mut got: Vec<(u8, u64)> = counts[&t].concat();
            got.sort();
            prop_assert_eq!(&got, &reference.clone().into_iter().collect::<Vec<_>>());
            // Every key in its hash partition.
            for (p, part) in counts[&t].iter().enumerate() {
                prop_assert!(part.iter().all(|(n, _)| *n as usize % 2 == p));
            }
            // The inverse keeps keys that went back to zero: exactly those in an earlier window.
            let mut with_zeros: Vec<(u8, u64)> = counts_inv[&t].concat();
            with_zeros.sort();
            ever_in_window.extend(reference.keys());
            let expected_with_zeros: Vec<(u8, u64)> = ever_in_window
                .iter()
                .map(|k| (*k, reference.get(k).copied().unwrap_or(0)))
                .collect();
            prop_assert_eq!(with_zeros, expected_with_zeros);
        }
    }
}

#[test]
fn repartition_spreads_each_batch_and_flat_map_values_keeps_keys() {
    let q = queue(vec![vec![
        vec![(s("a"), 2), (s("b"), 1)],
        vec![(s("c"), 3)],
    ]]);
    let (spread, flat) = (Capture::new(), Capture::new());
    let (s1, s2) = (spread.sink(), flat.sink());
    run(2, move |ssc| {
        let pairs = ssc.queue_stream(&q);
        pairs.repartition(3).foreach_rdd(s1);
        pairs.flat_map_values(|n| 0..n).foreach_rdd(s2);
    });
    let spread = spread.batches();
    assert_eq!(spread[&0].len(), 3);
    let mut all = spread[&0].concat();
    all.sort();
    assert_eq!(all, vec![(s("a"), 2), (s("b"), 1), (s("c"), 3)]);
    assert_eq!(
        spread[&1],
        vec![Vec::<(String, i32)>::new(), vec![], vec![]]
    );
    assert_eq!(
        flat.batches()[&0],
        vec![
            vec![(s("a"), 0), (s("a"), 1), (s("b"), 0)],
            vec![(s("c"), 0), (s("c"), 1), (s("c"), 2)]
        ]
    );
}
