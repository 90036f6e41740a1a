//! The DStream layer on several workers gives what it gives on one, partition for partition: Spark's
//! recorded outputs of the lecture's examples, and random pipelines of every kind of stage over random
//! batches, compared with one worker's run.

use std::path::Path;

use caudal::dstream::spec::{self, Spec};
use proptest::prelude::*;

/// Every lecture example with recorded Spark output, on `workers` workers; how many there were.
fn lecture_examples_match_spark(workers: usize) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/dstream-lecture");
    let mut checked = 0;
    let mut specs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    specs.sort();
    for path in specs {
        let Ok(expected) = std::fs::read_to_string(path.with_extension("jsonl")) else {
            continue;
        };
        let parsed = spec::load(&path).unwrap();
        let outputs = spec::run_on(&parsed, workers).unwrap();
        let actual: String = outputs.iter().map(|o| o.to_json_line() + "\n").collect();
        assert_eq!(
            actual,
            expected,
            "{} on {workers} workers differs from Spark's output",
            path.display()
        );
        checked += 1;
    }
    checked
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
