//! The lecture's DStream examples in `tests/conformance/dstream-lecture/` (with the output Apache
//! Spark 4.3.0 gave for each): run on the
//! manual clock, Caudal gives the same records, partitions and `pprint` text, batch for batch, byte for
//! byte; and `caudal dstream` prints exactly those lines.

use std::path::Path;
#[cfg(feature = "cli")]
use std::process::Command;

use caudal::dstream::spec;

mod common;

/// Checks every `NAME.json` with a `NAME.jsonl` in `dir`; returns how many there were.
fn assert_matches_spark(dir: &Path) -> usize {
    let specs = common::lecture_specs_in(dir);
    for path in &specs {
        let expected = std::fs::read_to_string(path.with_extension("jsonl")).unwrap();
        let parsed = spec::load(path).unwrap();
        let outputs = spec::run(&parsed).unwrap();
        let actual: String = outputs.iter().map(|o| o.to_json_line() + "\n").collect();
        assert_eq!(
            actual,
            expected,
            "{} differs from Spark's output",
            path.display()
        );
    }
    specs.len()
}

#[test]
fn the_lecture_examples_match_spark_batch_for_batch() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/dstream-lecture");
    assert_eq!(assert_matches_spark(&here), 4);
    // The shared examples, which may have grown since they were copied.
    let shared =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/dstream-lecture");
    if shared.is_dir() {
        assert!(assert_matches_spark(&shared) >= 4);
    }
}

#[test]
#[cfg(feature = "cli")] // runs the `caudal` command
fn the_command_prints_the_recorded_lines_and_checks_them() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/dstream-lecture");
    let spec = dir.join("lecture_b_update_state_max.json");
    for workers in ["1", "3"] {
        let out = Command::new(env!("CARGO_BIN_EXE_caudal"))
            .args(["dstream", "--workers", workers, spec.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            std::fs::read_to_string(spec.with_extension("jsonl")).unwrap(),
            "on {workers} workers"
        );
    }
    let zero = Command::new(env!("CARGO_BIN_EXE_caudal"))
        .args(["dstream", "--workers", "0", spec.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!zero.status.success());
    assert!(String::from_utf8_lossy(&zero.stderr).contains("--workers"));
    let check = Command::new(env!("CARGO_BIN_EXE_caudal"))
        .args(["dstream", "--check"])
        .args(
            ["lecture_a_reduce_max", "lecture_c_window_2_1"]
                .map(|n| dir.join(format!("{n}.json")).to_str().unwrap().to_string()),
        )
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(String::from_utf8_lossy(&check.stderr).contains("lecture_c_window_2_1: matches"));
}

#[test]
#[cfg(feature = "cli")] // runs the `caudal` command
fn a_different_result_fails_the_check_and_names_the_batch() {
    let dir = std::env::temp_dir().join(format!("caudal-dstream-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lecture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/dstream-lecture");
    let spec = std::fs::read_to_string(lecture.join("lecture_a_reduce_max.json")).unwrap();
    // min instead of max: batch 0 gives 2, not Spark's 15.
    std::fs::write(dir.join("a.json"), spec.replace("\"max\"", "\"min\"")).unwrap();
    std::fs::copy(
        lecture.join("lecture_a_reduce_max.jsonl"),
        dir.join("a.jsonl"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_caudal"))
        .args(["dstream", "--check", dir.join("a.json").to_str().unwrap()])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("batch 0 differs"), "{stderr}");
}

#[test]
fn bad_specs_get_clear_errors_before_anything_runs() {
    let cases = [
        (
            r#"{"batch_interval_s": 1, "input": [[[1]]], "pipeline": [{"op": "reduce", "func": "median"}]}"#,
            "pipeline stage 1 (reduce): unknown reduce function `median`; known: sum, max, min, concat, count",
        ),
        (
            r#"{"batch_interval_s": 1, "input": [[[1]]], "pipeline": [{"op": "window", "length": 2, "slide": 2}, {"op": "window", "length": 3}]}"#,
            "pipeline stage 2 (window): the window length (3 batches) must be a positive multiple of the stream's slide (2 batches)",
        ),
        (
            r#"{"batch_interval_s": 1, "input": [[[1]]], "pipeline": [{"op": "join"}]}"#,
            "needs a second stream",
        ),
        (
            r#"{"batch_interval_s": 1, "input": [[[1.5]]], "pipeline": []}"#,
            "`input` batch 0: 1.5 is not a 64-bit integer",
        ),
        (
            r#"{"batch_interval_s": 1, "input": [[[1]]], "pipeline": [{"op": "window", "lenght": 2}]}"#,
            "unknown field `lenght`",
        ),
        (
            r#"{"batch_interval_s": 1, "input": [[["a", "b"]]], "pipeline": [{"op": "map", "func": "add", "arg": 1}]}"#,
            "pipeline stage 1 (map): cannot add a and 1",
        ),
    ];
    for (json, message) in cases {
        let error = serde_json::from_str::<spec::Spec>(json)
            .map_err(|e| e.to_string())
            .and_then(|s| spec::run(&s).map(|_| ()).map_err(|e| e.to_string()))
            .unwrap_err();
        assert!(error.contains(message), "expected `{message}` in `{error}`");
    }
}
