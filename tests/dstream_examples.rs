//! The lecture's examples ported to `examples/` print exactly what Spark's `pprint` printed for them
//! (the `pprint` texts recorded in `tests/conformance/dstream-lecture/`). `cargo test` builds the
//! examples before it runs the tests; this runs the built programs.

use std::path::Path;
use std::process::Command;

mod common;
use common::example;

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

/// The counts of the last complete `pprint` block in `text` (lines such as `('x', 3)`).
fn last_counts(text: &str) -> std::collections::BTreeMap<String, u64> {
    let Some(end) = text.rfind("\n\n") else {
        return Default::default();
    };
    let block = &text[..end];
    let start = block.rfind("Time:").unwrap_or(0);
    block[start..]
        .lines()
        .filter_map(|line| {
            let inner = line.strip_prefix("('")?.strip_suffix(")")?;
            let (word, count) = inner.split_once("', ")?;
            Some((word.to_string(), count.parse().ok()?))
        })
        .collect()
}

/// The number of the newest batch checkpoint in `dir` (`batch-NNNNNNNNNN.ckpt`), if any.
fn last_checkpoint(dir: &Path) -> Option<u64> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_prefix("batch-")?
                .strip_suffix(".ckpt")?
                .parse()
                .ok()
        })
        .max()
}

#[test]
fn recoverable_word_count_killed_and_restarted_goes_on_counting() {
    killed_and_restarted_goes_on_counting(1);
}

#[test]
fn recoverable_word_count_on_three_workers_killed_and_restarted_goes_on_counting() {
    killed_and_restarted_goes_on_counting(3);
}

/// Runs the example on `workers` workers, kills it (SIGKILL) once it has counted the first words and
/// checkpointed them, and runs it again: the counts go on.
fn killed_and_restarted_goes_on_counting(workers: usize) {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let dir = std::env::temp_dir().join(format!(
        "caudal-recoverable-{}-{workers}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    // Each connection gets the next phase's words and stays open.
    let phases = ["a b a\nc a\n", "b d\na\n"];
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for (conn, words) in listener.incoming().zip(phases) {
            let mut conn = conn.unwrap();
            conn.write_all(words.as_bytes()).unwrap();
            open.push(conn);
        }
        std::thread::sleep(Duration::from_secs(120));
    });
    let run = |wait_for: &[(&str, u64)]| -> String {
        let mut child = Command::new(example("dstream_recoverable_word_count"))
            .args(["127.0.0.1", &port])
            .arg(&dir)
            .args([
                "--wal",
                "--interval",
                "100",
                "--workers",
                &workers.to_string(),
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let printed = Arc::new(Mutex::new(String::new()));
        let mut stdout = child.stdout.take().unwrap();
        let sink = printed.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let expected: std::collections::BTreeMap<String, u64> =
            wait_for.iter().map(|(w, n)| (w.to_string(), *n)).collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        while last_counts(&printed.lock().unwrap()) != expected && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // The batch that printed the counts is checkpointed after it ends: wait for a checkpoint of
        // a later batch (which covers those counts) before the kill, or the restart would rightly
        // find nothing to recover.
        let printed_by = last_checkpoint(&dir);
        while last_checkpoint(&dir) <= printed_by && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill(); // SIGKILL
        let mut said = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut said)
            .unwrap();
        child.wait().unwrap();
        let printed = printed.lock().unwrap().clone();
        assert_eq!(
            last_counts(&printed),
            expected,
            "stdout:\n{printed}\nstderr:\n{said}"
        );
        said
    };
    let first = run(&[("a", 3), ("b", 1), ("c", 1)]);
    assert!(first.contains("Creating new context"), "{first}");
    // Killed, and started again with the same command: the counts go on.
    let second = run(&[("a", 4), ("b", 2), ("c", 1), ("d", 1)]);
    assert!(second.contains("Recovering from checkpoint"), "{second}");
    assert!(!second.contains("Creating new context"), "{second}");
    let _ = std::fs::remove_dir_all(&dir);
}
