//! `caudal replay` reproduces Apache Flink's window output record for record.
//!
//! The examples in `tests/conformance/windows/` (copied from `shared/conformance/windows/`, with the
//! output real Flink 2.3 gave) must match exactly; so must any example in `../shared/` when it is
//! present. Our own specs below cover lateness, explicit watermarks and `collect`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn replay(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_caudal"))
        .arg("replay")
        .args(args)
        .output()
        .expect("caudal runs")
}

/// Every spec in `dir` with its recorded output.
fn examples(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut pairs: Vec<(PathBuf, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|spec| (spec.clone(), spec.with_extension("jsonl")))
        .collect();
    pairs.sort();
    pairs
}

fn assert_matches_flink(dir: &Path) -> usize {
    let pairs = examples(dir);
    for (spec, expected) in &pairs {
        let out = replay(&[spec.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}: {}",
            spec.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = std::fs::read_to_string(expected).unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            expected,
            "{}",
            spec.display()
        );
    }
    pairs.len()
}

#[test]
fn the_recorded_flink_examples_match_exactly() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/windows");
    assert_eq!(assert_matches_flink(&here), 3);
    // The shared examples, which may have grown since they were copied.
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/windows");
    if shared.is_dir() {
        assert!(assert_matches_flink(&shared) >= 3);
    }
}

fn run_spec(name: &str, spec: &str) -> String {
    let dir = std::env::temp_dir().join(format!("caudal-replay-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, spec).unwrap();
    let out = replay(&[path.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn allowed_lateness_re_fires_then_late_records_go_to_the_side_output() {
    let out = run_spec(
        "lateness",
        r#"{"name": "lateness", "window": {"kind": "tumbling", "size_ms": 1000}, "aggregation": "collect",
            "watermark": {"kind": "bounded", "out_of_orderness_ms": 0}, "allowed_lateness_ms": 500,
            "events": [{"key": "a", "value": 3, "ts_ms": 100}, {"key": "a", "value": 1, "ts_ms": 1200},
                       {"key": "a", "value": 2, "ts_ms": 900}, {"key": "a", "value": 5, "ts_ms": 1700},
                       {"key": "a", "value": 9, "ts_ms": 50}]}"#,
    );
    let expected = [
        // Fired at watermark 1199, re-fired by the late 900 (within 500 ms), then cleaned up at 1699.
        r#"{"key": "a", "window_start": 0, "window_end": 1000, "result": [3], "firing": 1, "watermark": 1199}"#,
        r#"{"key": "a", "window_start": 0, "window_end": 1000, "result": [2, 3], "firing": 2, "watermark": 1199}"#,
        r#"{"key": "a", "window_start": 1000, "window_end": 2000, "result": [1, 5], "firing": 1, "watermark": 9223372036854775807}"#,
        r#"{"late": true, "key": "a", "value": 9, "ts_ms": 50}"#,
    ];
    assert_eq!(out.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn explicit_watermarks_move_only_forward() {
    let out = run_spec(
        "explicit",
        r#"{"name": "explicit", "window": {"kind": "session", "gap_ms": 100}, "aggregation": "sum",
            "watermark": {"kind": "explicit"},
            "events": [{"key": "k", "value": 4, "ts_ms": 10}, {"watermark": 500}, {"watermark": 20},
                       {"key": "k", "ts_ms": 30}]}"#,
    );
    let expected = [
        r#"{"key": "k", "window_start": 10, "window_end": 110, "result": 4, "firing": 1, "watermark": 500}"#,
        r#"{"late": true, "key": "k", "value": 1, "ts_ms": 30}"#,
    ];
    assert_eq!(out.lines().collect::<Vec<_>>(), expected);
}

/// Event times before 1970 are Flink's `long`s: windows aligned by floor, watermarks and late records
/// at negative times (worked by hand from Flink's rules).
#[test]
fn event_times_before_1970_replay_as_flink_would() {
    let out = run_spec(
        "before-1970",
        r#"{"name": "before-1970", "window": {"kind": "tumbling", "size_ms": 1000}, "aggregation": "count",
            "watermark": {"kind": "bounded", "out_of_orderness_ms": 0},
            "events": [{"key": "a", "ts_ms": -1500}, {"key": "a", "ts_ms": -1001}, {"key": "a", "ts_ms": -1000},
                       {"key": "a", "ts_ms": -1}, {"key": "a", "ts_ms": -1999}, {"key": "b", "ts_ms": -1},
                       {"watermark": -1}, {"key": "a", "ts_ms": 0}]}"#,
    );
    let expected = [
        // -1500 and -1001 in [-2000, -1000), fired when -1000 moves the watermark to -1001.
        r#"{"key": "a", "window_start": -2000, "window_end": -1000, "result": 2, "firing": 1, "watermark": -1001}"#,
        // -1000 and -1 in [-1000, 0), fired by the explicit watermark -1.
        r#"{"key": "a", "window_start": -1000, "window_end": 0, "result": 2, "firing": 1, "watermark": -1}"#,
        r#"{"key": "a", "window_start": 0, "window_end": 1000, "result": 1, "firing": 1, "watermark": 9223372036854775807}"#,
        r#"{"key": "b", "window_start": -1000, "window_end": 0, "result": 1, "firing": 1, "watermark": -1}"#,
        // Read at watermark -2, after [-2000, -1000) had fired: late.
        r#"{"late": true, "key": "a", "value": 1, "ts_ms": -1999}"#,
    ];
    assert_eq!(out.lines().collect::<Vec<_>>(), expected);

    let out = run_spec(
        "sessions-before-1970",
        r#"{"name": "sessions-before-1970", "window": {"kind": "session", "gap_ms": 1000}, "aggregation": "count",
            "watermark": {"kind": "bounded", "out_of_orderness_ms": 0},
            "events": [{"key": "a", "ts_ms": -2500}, {"key": "a", "ts_ms": -1800}, {"key": "a", "ts_ms": -100}]}"#,
    );
    let expected = [
        r#"{"key": "a", "window_start": -2500, "window_end": -800, "result": 2, "firing": 1, "watermark": -101}"#,
        r#"{"key": "a", "window_start": -100, "window_end": 900, "result": 1, "firing": 1, "watermark": 9223372036854775807}"#,
    ];
    assert_eq!(out.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn bad_specs_say_what_is_wrong() {
    let dir = std::env::temp_dir().join(format!("caudal-replay-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, spec, wanted) in [
        (
            "window",
            r#"{"name": "x", "window": {"kind": "hopping", "size_ms": 1}, "aggregation": "count", "watermark": {"kind": "explicit"}, "events": []}"#,
            "hopping",
        ),
        (
            "value",
            r#"{"name": "x", "window": {"kind": "tumbling", "size_ms": 10}, "aggregation": "sum", "watermark": {"kind": "explicit"}, "events": [{"key": "a", "value": "high", "ts_ms": 1}]}"#,
            "not an integer",
        ),
        (
            "slide",
            r#"{"name": "x", "window": {"kind": "sliding", "size_ms": 10, "slide_ms": 20}, "aggregation": "sum", "watermark": {"kind": "explicit"}, "events": []}"#,
            "no window",
        ),
        (
            "windows",
            r#"{"name": "x", "window": {"kind": "sliding", "size_ms": 1000000000000, "slide_ms": 1}, "aggregation": "sum", "watermark": {"kind": "explicit"}, "events": []}"#,
            "at most 10000",
        ),
    ] {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, spec).unwrap();
        let out = replay(&[path.to_str().unwrap()]);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(wanted) && stderr.contains("window-spec.md"),
            "{name}: {stderr}"
        );
    }
    let missing = replay(&["/no/such/spec.json"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read /no/such/spec.json"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn several_specs_are_told_apart() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/windows");
    let specs: Vec<String> = examples(&dir)
        .into_iter()
        .map(|(s, _)| s.display().to_string())
        .collect();
    let out = replay(&specs.iter().map(String::as_str).collect::<Vec<_>>());
    let text = String::from_utf8(out.stdout).unwrap();
    let headers: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("{\"spec\""))
        .collect();
    assert_eq!(
        headers,
        [
            r#"{"spec": "session_basic_per_key"}"#,
            r#"{"spec": "sliding_overlap_count"}"#,
            r#"{"spec": "tumbling_in_order_count"}"#
        ]
    );
}

#[test]
fn a_misspelt_field_or_a_missing_file_is_an_error_that_says_so_once() {
    let dir = std::env::temp_dir().join(format!("caudal-replay-{}-bad", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("typo.json");
    std::fs::write(
        &path,
        r#"{"name": "typo", "window": {"kind": "tumbling", "size_ms": 1000}, "aggregation": "count",
            "watermark": {"kind": "bounded", "out_of_orderness_ms": 0}, "alowed_lateness_ms": 500,
            "events": []}"#,
    )
    .unwrap();
    let out = replay(&[path.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        said.contains("typo.json") && said.contains("unknown field `alowed_lateness_ms`"),
        "{said}"
    );

    let missing = dir.join("no-such-spec.json");
    let out = replay(&[missing.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(said.contains("no-such-spec.json"), "{said}");
    assert_eq!(
        said.matches("No such file or directory").count(),
        1,
        "the OS error once: {said}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
