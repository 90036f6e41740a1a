//! DStream specs (`caudal dstream`) beyond the lecture's: each stage with its named functions, against
//! the records worked out by hand (as the spec's sorted multisets, one per batch; `-` for a batch the
//! stream did not produce).

use caudal::dstream::spec::{self, Spec};

/// Each batch's records as JSON, or `-` when the stream produced nothing at that time.
fn records(json: &str) -> Vec<String> {
    let spec: Spec = serde_json::from_str(json).unwrap();
    spec::run(&spec)
        .unwrap()
        .iter()
        .map(|b| {
            if !b.fired {
                return "-".to_string();
            }
            let line: serde_json::Value = serde_json::from_str(&b.to_json_line()).unwrap();
            line["records"].to_string()
        })
        .collect()
}

#[test]
fn word_count() {
    let json = r#"{"batch_interval_s": 1, "input": [[["a b a"], ["b c"]], [["c"]]],
        "pipeline": [{"op": "flatMap", "func": "split"}, {"op": "map", "func": "pair_one"},
                     {"op": "reduceByKey", "func": "sum"}]}"#;
    assert_eq!(
        records(json),
        vec![r#"[["a",2],["b",2],["c",1]]"#, r#"[["c",1]]"#, "[]"]
    );
}

#[test]
fn joins_and_cogroup_with_a_second_stream() {
    let spec = |op: &str| {
        format!(
            r#"{{"batch_interval_s": 1, "input": [[[[1, "x"], [2, "y"], [1, "z"]]]],
                "input2": [[[[1, 10], [3, 30]]]], "pipeline2": [{{"op": "mapValues", "func": "mul", "arg": 2}}],
                "pipeline": [{{"op": "{op}"}}], "extra_batches": 0}}"#
        )
    };
    assert_eq!(
        records(&spec("join")),
        vec![r#"[[1,["x",20]],[1,["z",20]]]"#]
    );
    assert_eq!(
        records(&spec("leftOuterJoin")),
        vec![r#"[[1,["x",20]],[1,["z",20]],[2,["y",null]]]"#]
    );
    assert_eq!(
        records(&spec("rightOuterJoin")),
        vec![r#"[[1,["x",20]],[1,["z",20]],[3,[null,60]]]"#]
    );
    assert_eq!(
        records(&spec("fullOuterJoin")),
        vec![r#"[[1,["x",20]],[1,["z",20]],[2,["y",null]],[3,[null,60]]]"#]
    );
    // Group values sorted.
    assert_eq!(
        records(&spec("cogroup")),
        vec![r#"[[1,[["x","z"],[20]]],[2,[["y"],[]]],[3,[[],[60]]]]"#]
    );
    assert_eq!(
        records(&spec("union")),
        vec![r#"[[1,20],[1,"x"],[1,"z"],[2,"y"],[3,60]]"#]
    );
}

#[test]
fn update_state_by_key_with_removal_rules_and_an_initial_state() {
    let json = r#"{"batch_interval_s": 1, "input": [[[["a", 1], ["a", 1]]], [[["b", 1]]]],
        "pipeline": [{"op": "updateStateByKey", "func": "count", "drop_when": "no_new_values",
                      "initial": [["z", 9]]}]}"#;
    assert_eq!(records(json), vec![r#"[["a",2]]"#, r#"[["b",1]]"#, "[]"]);
    let json = r#"{"batch_interval_s": 1, "input": [[[["a", 4]]], [[["a", 7], ["b", 1]]]],
        "pipeline": [{"op": "updateStateByKey", "func": "sum", "drop_when_state_ge": 10}]}"#;
    assert_eq!(
        records(json),
        vec![r#"[["a",4]]"#, r#"[["b",1]]"#, r#"[["b",1]]"#]
    );
}

#[test]
fn windowed_counts_and_reductions() {
    let input = r#""input": [[[1, 2, 2]], [[3]], [[2]]]"#;
    let run = |pipeline: &str| {
        records(&format!(
            r#"{{"batch_interval_s": 0.5, {input}, "pipeline": {pipeline}, "extra_batches": 2}}"#
        ))
    };
    assert_eq!(
        run(r#"[{"op": "countByValueAndWindow", "length": 2}]"#),
        vec![
            r#"[[1,1],[2,2]]"#,
            r#"[[1,1],[2,2],[3,1]]"#,
            r#"[[2,1],[3,1]]"#,
            r#"[[2,1]]"#,
            "[]"
        ]
    );
    assert_eq!(
        run(r#"[{"op": "countByWindow", "length": 2, "slide": 2}]"#),
        vec!["-", "[4]", "-", "[1]", "-"]
    );
    assert_eq!(
        run(r#"[{"op": "reduceByWindow", "func": "max", "length": 3}]"#),
        vec!["[2]", "[3]", "[3]", "[3]", "[2]"]
    );
    assert_eq!(
        run(
            r#"[{"op": "map", "func": "key_mod", "arg": 2}, {"op": "mapValues", "func": "one"},
                {"op": "reduceByKeyAndWindow", "func": "sum", "inverse": true, "length": 2,
                 "filter": "value_nonzero"}]"#
        ),
        vec![
            r#"[[0,2],[1,1]]"#,
            r#"[[0,2],[1,2]]"#,
            r#"[[0,1],[1,1]]"#,
            r#"[[0,1]]"#,
            "[]"
        ]
    );
    assert_eq!(
        run(
            r#"[{"op": "map", "func": "key_mod", "arg": 2}, {"op": "groupByKeyAndWindow", "length": 2, "slide": 2}]"#
        ),
        vec!["-", r#"[[0,[2,2]],[1,[1,3]]]"#, "-", r#"[[0,[2]]]"#, "-"]
    );
}

#[test]
fn batch_level_transforms() {
    let run = |pipeline: &str| {
        records(&format!(
            r#"{{"batch_interval_s": 1, "input": [[[3, 1], [2, 3]]], "input2": [[[3]]],
                "pipeline": {pipeline}, "extra_batches": 0}}"#
        ))
    };
    assert_eq!(
        run(r#"[{"op": "transform", "func": "distinct"}]"#),
        vec!["[1,2,3]"]
    );
    assert_eq!(run(r#"[{"op": "count"}]"#), vec!["[4]"]);
    assert_eq!(
        run(r#"[{"op": "countByValue"}]"#),
        vec!["[[1,1],[2,1],[3,2]]"]
    );
    assert_eq!(run(r#"[{"op": "glom"}]"#), vec!["[[2,3],[3,1]]"]);
    assert_eq!(run(r#"[{"op": "repartition", "n": 3}]"#), vec!["[1,2,3,3]"]);
    assert_eq!(
        run(r#"[{"op": "filter", "func": "odd"}, {"op": "reduce", "func": "concat"}]"#),
        vec![r#"["313"]"#]
    );
    assert_eq!(
        run(r#"[{"op": "transform", "func": "zipWithIndex"}]"#),
        vec!["[[1,1],[2,2],[3,0],[3,3]]"]
    );
    assert_eq!(
        run(r#"[{"op": "transformWith", "func": "subtract"}]"#),
        vec!["[1,2]"]
    );
    assert_eq!(
        run(r#"[{"op": "transformWith", "func": "intersection"}]"#),
        vec!["[3]"]
    );
    assert_eq!(
        run(r#"[{"op": "flatMap", "func": "range"}, {"op": "transform", "func": "count_as_rdd"}]"#),
        vec!["[9]"]
    );
}

#[test]
fn sort_places_ranges_in_partitions() {
    let json = r#"{"batch_interval_s": 1, "input": [[[5, 1, 4], [2, 6, 3]]],
        "pipeline": [{"op": "transform", "func": "sort"}], "extra_batches": 0}"#;
    let spec: Spec = serde_json::from_str(json).unwrap();
    let out = spec::run(&spec).unwrap();
    // PySpark's range partitioner: the bound is the record at len/2 (4), and a record equal to a bound
    // goes to the bound's left (bisect_left).
    assert_eq!(
        out[0]
            .to_json_line()
            .split("\"partitions\": ")
            .nth(1)
            .unwrap(),
        "[[1, 2, 3, 4], [5, 6]]}"
    );
}

#[test]
fn a_spec_cannot_ask_for_more_batches_or_longer_windows_than_the_bound() {
    let error = |json: &str| {
        let spec: Spec = serde_json::from_str(json).unwrap();
        match spec::run(&spec) {
            Ok(_) => panic!("the spec is refused"),
            Err(e) => e.to_string(),
        }
    };
    let huge_extra = r#"{"batch_interval_s": 1, "input": [[["a"]]], "extra_batches": 1000000000000,
        "pipeline": [{"op": "count"}]}"#;
    let message = error(huge_extra);
    assert!(
        message.contains("1000000000001 batches") && message.contains("extra_batches"),
        "{message}"
    );
    let huge_window = r#"{"batch_interval_s": 1, "input": [[["a"]]],
        "pipeline": [{"op": "window", "length": 18446744073709551615}]}"#;
    let message = error(huge_window);
    assert!(
        message.contains("more than a spec may ask for"),
        "{message}"
    );
}
