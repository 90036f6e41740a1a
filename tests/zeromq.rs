//! ZeroMQ sources end to end, fed by a real peer process (`examples/zmq_peer.rs`, which binds a PUSH or
//! PUB socket on a free loopback port and sends `msg 0`, `msg 1`, ...).
//!
//! The crash test kills `caudal run` with SIGKILL at seeded moments (`CAUDAL_CRASH_SEED`,
//! `CAUDAL_CRASH_KILLS`: the long version is `CAUDAL_CRASH_KILLS=25 cargo test --release --test
//! zeromq`) while the peer keeps sending.
#![cfg(feature = "zeromq")]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;
use common::{env_u64, example, free_port, Moments};

const BIN: &str = env!("CARGO_BIN_EXE_caudal");

/// The peer, killed when dropped.
struct Peer(Child);

impl Peer {
    fn start(args: &[&str]) -> Peer {
        Peer(
            Command::new(example("zmq_peer"))
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `caudal` to its end (at most a minute: a peer that sends too little fails the test instead of
/// hanging it).
fn run(args: &[&str]) -> (Vec<String>, String) {
    let out = Command::new(BIN)
        .args(args)
        .args(["--duration", "60s"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "caudal failed: {said}");
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    (lines, said)
}

fn numbered(range: std::ops::Range<u64>) -> Vec<String> {
    range.map(|i| format!("MSG {i}")).collect()
}

#[test]
fn pull_takes_every_message_of_a_push_peer_in_order() {
    let address = format!("127.0.0.1:{}", free_port());
    // The peer binds and sends 5,000 messages; PUSH waits for the puller, so none is lost.
    let _peer = Peer::start(&["push", &address, "--count", "5000"]);
    let source = format!("zmq+pull://{address}?limit=5000");
    let (lines, _) = run(&["run", "uppercase", "--source", &source]);
    assert_eq!(lines, numbered(0..5000));
}

#[test]
fn messages_that_are_not_text_go_to_the_dead_letters() {
    let address = format!("127.0.0.1:{}", free_port());
    // Messages 0, 10, ..., 90 are not UTF-8: 90 records, 10 dead letters, and the input ends at its
    // limit of 90 records.
    let _peer = Peer::start(&["push", &address, "--count", "100", "--bad-every", "10"]);
    let dir = std::env::temp_dir().join(format!("caudal-zmq-dead-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dead = dir.join("dead.jsonl");
    let source = format!("zmq+pull://{address}?limit=90");
    let (lines, _) = run(&[
        "run",
        "uppercase",
        "--source",
        &source,
        "--dead-letters",
        dead.to_str().unwrap(),
    ]);
    let expected: Vec<String> = (0..100u64)
        .filter(|i| i % 10 != 0)
        .map(|i| format!("MSG {i}"))
        .collect();
    assert_eq!(lines, expected);
    let dead = std::fs::read_to_string(&dead).unwrap();
    assert_eq!(dead.lines().count(), 10, "{dead}");
    assert!(dead.lines().all(|l| l.contains("not UTF-8")), "{dead}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sub_takes_the_messages_of_its_topic_from_a_pub_peer() {
    let address = format!("127.0.0.1:{}", free_port());
    // The subscriber connects first (ZeroMQ retries until the peer binds); the peer waits for the
    // subscription to reach it before it publishes, at a rate a subscriber keeps up with.
    let source = format!("zmq+sub://{address}?topic=ticks&limit=2000");
    let caudal = Command::new(BIN)
        .args(["run", "uppercase", "--source", &source, "--duration", "60s"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _peer = Peer::start(&[
        "pub", &address, "--count", "2000", "--topic", "ticks", "--wait", "1s", "--rate", "20000",
    ]);
    let out = caudal.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    // The topic frame is not part of the record.
    assert_eq!(lines, numbered(0..2000));
}

/// The numbers of `msg N` lines in the part files of `dir`.
fn numbers_in(dir: &Path) -> Vec<u64> {
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
            let n = line
                .strip_prefix("MSG ")
                .expect("a MSG line")
                .parse()
                .unwrap();
            numbers.push(n);
        }
    }
    numbers
}

#[test]
fn with_a_write_ahead_log_a_killed_run_resumes_without_losing_what_it_logged() {
    let seed = env_u64("CAUDAL_CRASH_SEED", 0x5EED_2E40);
    let kills = env_u64("CAUDAL_CRASH_KILLS", 3);
    let dir = std::env::temp_dir().join(format!("caudal-zmq-wal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (out, checkpoints) = (dir.join("out"), dir.join("checkpoints"));
    let address = format!("127.0.0.1:{}", free_port());
    // The peer sends for as long as the test runs, 20,000 messages a second.
    let _peer = Peer::start(&["push", &address, "--rate", "20000"]);
    const TOTAL: u64 = 30_000;
    let source = format!("zmq+pull://{address}?limit={TOTAL}");
    let command = || {
        let mut cmd = Command::new(BIN);
        cmd.args(["run", "uppercase", "--source", &source, "--out"])
            .arg(&out)
            .args([
                "--guarantee",
                "exactly-once",
                "--checkpoint-interval",
                "100ms",
            ])
            .arg("--checkpoint-dir")
            .arg(&checkpoints)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    };
    let mut moments = Moments(seed.max(1));
    let mut said = String::new();
    for _ in 0..kills {
        let mut child = command().spawn().unwrap();
        let ms = moments.next_ms(200, 1200);
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill();
        let result = child.wait_with_output().unwrap();
        said.push_str(&format!("-- killed after {ms} ms\n"));
        said.push_str(&String::from_utf8_lossy(&result.stderr));
    }
    let result = command().output().unwrap();
    said.push_str(&String::from_utf8_lossy(&result.stderr));
    assert!(
        result.status.success(),
        "the last run failed (seed {seed}):\n{said}"
    );

    // Exactly-once over what the log received: TOTAL records, each once, in the peer's order. What a
    // killed process had received but not yet logged is gone (ZeroMQ cannot send it again): at most one
    // gap per kill.
    let numbers = numbers_in(&out);
    let distinct: BTreeSet<u64> = numbers.iter().copied().collect();
    assert_eq!(numbers.len() as u64, TOTAL, "seed {seed}\n{said}");
    assert_eq!(
        distinct.len(),
        numbers.len(),
        "records repeated (seed {seed})\n{said}"
    );
    let sorted: Vec<u64> = distinct.into_iter().collect();
    let gaps = sorted.windows(2).filter(|w| w[1] != w[0] + 1).count() as u64;
    assert!(
        gaps <= kills,
        "{gaps} gaps for {kills} kills (seed {seed})\n{said}"
    );
    eprintln!(
        "zeromq: {} messages lost to {kills} kills, in {gaps} gaps",
        sorted.last().unwrap() + 1 - TOTAL
    );
    let _ = std::fs::remove_dir_all(&dir);
}
