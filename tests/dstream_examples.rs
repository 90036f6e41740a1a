//! The lecture's examples ported to `examples/` print exactly what Spark's `pprint` printed for them
//! (the `pprint` texts recorded in `tests/conformance/dstream-lecture/`). `cargo test` builds the
//! examples before it runs the tests; this runs the built programs.

use std::path::{Path, PathBuf};
use std::process::Command;

fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/<this test> → target/<profile>/examples/<name>
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run the whole suite (`cargo test --workspace` builds the examples)",
        path.display()
    );
    path
}

/// What Spark's `pprint` printed, batch after batch, for a recorded lecture example.
fn spark_pprint(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/conformance/dstream-lecture")
        .join(format!("{name}.jsonl"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let batch: serde_json::Value = serde_json::from_str(line).unwrap();
            batch["pprint"].as_str().unwrap().to_string()
        })
        .collect()
}

fn stdout_of(name: &str) -> String {
    let out = Command::new(example(name)).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_ported_lecture_examples_print_what_spark_printed() {
    assert_eq!(
        stdout_of("dstream_reduce_max"),
        spark_pprint("lecture_a_reduce_max")
    );
    assert_eq!(
        stdout_of("dstream_update_state_max"),
        spark_pprint("lecture_b_update_state_max")
    );
    assert_eq!(
        stdout_of("dstream_windows"),
        format!(
            "===== window(2, 2) =====\n{}===== window(2, 1) =====\n{}",
            spark_pprint("lecture_c_window_2_2"),
            spark_pprint("lecture_c_window_2_1")
        )
    );
}
