//! Kafka end to end, through a real Kafka-protocol broker (tansu) that each test starts on its own
//! loopback port with `scripts/kafka-broker.sh` (which installs it on first use) and stops at the end.
//!
//! The input is a known stream of posts produced to a topic with 4 partitions, each record with its own
//! timestamp; what Caudal writes (to a topic, read back, or to `--out`) is compared with the result
//! worked out here by hand from the same records. The crash tests kill `caudal run` with SIGKILL at
//! seeded moments (`CAUDAL_CRASH_SEED`, `CAUDAL_CRASH_KILLS`: the long version is
//! `CAUDAL_CRASH_KILLS=25 cargo test --release --test kafka`).
#![cfg(feature = "kafka")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use caudal::checkpoint::publish::{close_publishers, frame, publish, Publish};
use caudal::workload::Tag;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

mod common;
use common::kafka::{Broker, PARTITIONS};
use common::{env_u64, free_port, Moments};

const BIN: &str = env!("CARGO_BIN_EXE_caudal");
/// The first record's timestamp (ms): a whole second, so windows start at round numbers.
const BASE_MS: i64 = 1_700_000_000_000;
const TAGS: [&str; 6] = ["rust", "kafka", "VIU", "flink", "spark", "timely"];

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("caudal-kafka-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Post `i`: its partition, timestamp (one per ms) and text line (`userU: post I #tag`).
fn post(i: usize) -> (i32, i64, Vec<u8>) {
    let line = format!(
        "user{}: post {i} #{}",
        i % 37,
        TAGS[(i * 7 + i / 5) % TAGS.len()]
    );
    (
        (i % PARTITIONS as usize) as i32,
        BASE_MS + i as i64,
        line.into_bytes(),
    )
}

fn posts(n: usize) -> Vec<(i32, i64, Vec<u8>)> {
    (0..n).map(post).collect()
}

/// The key the lab's pipelines give a post line: its first tag.
fn key(line: &[u8]) -> u64 {
    let line = std::str::from_utf8(line).unwrap();
    let tag = line.rsplit_once('#').unwrap().1;
    Tag::named(tag).0 as u64
}

/// `tumbling` by hand: `(key, window start, count)` per 1 s window of event time.
fn tumbling(records: &[(i32, i64, Vec<u8>)]) -> BTreeMap<String, usize> {
    let mut counts: BTreeMap<(u64, i64), u64> = BTreeMap::new();
    for (_, ts, line) in records {
        *counts.entry((key(line), ts - ts % 1000)).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((k, start), n)| (format!("({k}, {start}, {n})"), 1))
        .collect()
}

/// `keyed-count` by hand: `(key, 0, n)` for every n from 1 to the key's count, whatever the order.
fn keyed_count(records: &[(i32, i64, Vec<u8>)]) -> BTreeMap<String, usize> {
    let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
    for (_, _, line) in records {
        *counts.entry(key(line)).or_default() += 1;
    }
    counts
        .into_iter()
        .flat_map(|(k, n)| (1..=n).map(move |i| (format!("({k}, 0, {i})"), 1)))
        .collect()
}

fn caudal(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn succeed(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "caudal failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The lines of every file in `dir` whose name does not start with `.`, counted.
fn committed(dir: &Path) -> BTreeMap<String, usize> {
    let mut lines = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
            *lines.entry(line.to_string()).or_default() += 1;
        }
    }
    lines
}

/// What differs between two counted outputs (a few lines of each side).
fn difference(expected: &BTreeMap<String, usize>, got: &BTreeMap<String, usize>) -> String {
    let missing: Vec<_> = expected
        .iter()
        .filter(|(l, n)| got.get(*l) != Some(n))
        .take(5)
        .collect();
    let extra: Vec<_> = got
        .iter()
        .filter(|(l, n)| expected.get(*l) != Some(n))
        .take(5)
        .collect();
    format!(
        "{} expected lines, {} got; expected has {missing:?}, got has {extra:?}",
        expected.values().sum::<usize>(),
        got.values().sum::<usize>()
    )
}

#[test]
fn windows_over_four_partitions_on_two_workers_go_to_a_topic_as_counted_by_hand() {
    let broker = Broker::start();
    let input = broker.topic("posts", PARTITIONS);
    let output = broker.topic("counts", PARTITIONS);
    let records = posts(20_000);
    broker.produce("posts", &records);
    let source = format!("{input}?until=end");
    succeed(&mut caudal(&[
        "run",
        "tumbling",
        "--source",
        &source,
        "--workers",
        "2",
        "--sink",
        &output,
    ]));
    let expected = tumbling(&records);
    let got = broker.read_committed("counts");
    assert!(got == expected, "{}", difference(&expected, &got));
}

#[test]
fn values_that_are_not_text_go_to_the_dead_letters_with_partition_and_offset() {
    let broker = Broker::start();
    let input = broker.topic("lines", 1);
    let dir = scratch("dead-letters");
    broker.produce(
        "lines",
        &[
            (0, BASE_MS, b"first".to_vec()),
            (0, BASE_MS + 1, vec![0xff, 0xfe, b'x']),
            (0, BASE_MS + 2, b"third".to_vec()),
        ],
    );
    let dead = dir.join("dead.jsonl");
    let source = format!("{input}?until=end");
    let out =
        succeed(caudal(&["run", "uppercase", "--source", &source, "--dead-letters"]).arg(&dead));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "FIRST\nTHIRD\n");
    let dead = std::fs::read_to_string(&dead).unwrap();
    assert_eq!(dead.lines().count(), 1, "{dead}");
    assert!(
        dead.contains(&format!("{input} partition 0 offset 1")) && dead.contains("not UTF-8"),
        "{dead}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_topic_and_an_unreachable_broker_are_named() {
    let broker = Broker::start();
    let missing = format!("kafka://{}/no-such-topic?until=end", broker.address());
    let out = caudal(&["run", "uppercase", "--source", &missing])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && said.contains("`no-such-topic` does not exist"),
        "{said}"
    );

    // Nothing listens there: the run says so, names the address, and keeps trying.
    let nowhere = format!("127.0.0.1:{}", free_port());
    let mut child = caudal(&[
        "run",
        "uppercase",
        "--source",
        &format!("kafka://{nowhere}/posts"),
    ])
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let still_running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(still_running, "the run gave up: {said}");
    assert!(
        said.contains(&format!("cannot reach the broker at {nowhere}"))
            && said.contains("retrying"),
        "{said}"
    );
}

/// A seeded run of `keyed-count` on 2 workers from `input` under `guarantee`, killed `kills` times with
/// SIGKILL and started again until it finishes; returns what the runs said.
fn crash_and_finish(source: &str, extra: &[&str], dir: &Path, guarantee: &str) -> String {
    crash_and_finish_on("keyed-count", &["2"], false, source, extra, dir, guarantee)
}

/// How many complete checkpoints `dir` holds.
fn complete_checkpoints(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter(|e| e.path().join("MANIFEST").exists())
            .count()
    })
}

/// Like [`crash_and_finish`], for `pipeline`, the `n`th run on `workers[n % workers.len()]` workers;
/// with `after_checkpoint`, each kill comes 0 to 150 ms after the run completed a checkpoint of its own
/// (or when it has finished), so that every run but the first resumes one.
fn crash_and_finish_on(
    pipeline: &str,
    workers: &[&str],
    after_checkpoint: bool,
    source: &str,
    extra: &[&str],
    dir: &Path,
    guarantee: &str,
) -> String {
    let seed = env_u64("CAUDAL_CRASH_SEED", 0x5EED_4AF4);
    let kills = env_u64("CAUDAL_CRASH_KILLS", 3);
    let mut moments = Moments(seed.max(1));
    let checkpoints = dir.join("checkpoints");
    let mut runs = 0;
    let mut command = || {
        let n = workers[runs % workers.len()];
        runs += 1;
        let mut cmd = caudal(&["run", pipeline, "--source", source, "--workers", n]);
        cmd.args(extra)
            .args(["--guarantee", guarantee, "--checkpoint-interval", "100ms"])
            .arg("--checkpoint-dir")
            .arg(&checkpoints)
            .stdout(Stdio::null());
        cmd
    };
    let mut said = String::new();
    let mut landed = 0;
    for _ in 0..kills {
        let before = complete_checkpoints(&checkpoints);
        let mut child = command().spawn().unwrap();
        if after_checkpoint {
            let deadline = Instant::now() + Duration::from_secs(30);
            while complete_checkpoints(&checkpoints) <= before
                && child.try_wait().unwrap().is_none()
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        // The next kill moment: 50 to 600 ms after the start (a run of 300,000 records takes about
        // 0.7 s in a debug build), or 0 to 150 ms after the run's first checkpoint.
        let ms = match after_checkpoint {
            false => moments.next_ms(50, 600),
            true => moments.next_ms(0, 150),
        };
        std::thread::sleep(Duration::from_millis(ms));
        landed += usize::from(child.try_wait().unwrap().is_none());
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        said.push_str(&format!(
            "-- killed {ms} ms after its start or first checkpoint\n"
        ));
        said.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    let out = command().output().unwrap();
    said.push_str(&String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the last run failed (seed {seed}):\n{said}"
    );
    // The test means something only if runs were killed before they finished.
    assert!(
        kills == 0 || landed > 0,
        "every run had finished before its kill: give it more input\n{said}"
    );
    said
}

#[test]
fn kafka_input_with_exactly_once_file_output_survives_kills() {
    let broker = Broker::start();
    let input = broker.topic("posts", PARTITIONS);
    let records = posts(300_000);
    broker.produce("posts", &records);
    let dir = scratch("exactly-once-files");
    let out = dir.join("out");
    let source = format!("{input}?until=end");
    let said = crash_and_finish(
        &source,
        &["--out", out.to_str().unwrap()],
        &dir,
        "exactly-once",
    );
    let expected = keyed_count(&records);
    let got = committed(&out);
    assert!(got == expected, "{}\n{said}", difference(&expected, &got));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_killed_and_resumed_on_other_worker_counts_gives_the_failure_free_windows() {
    // Runs on 2, 1, 3 and again 2 workers (the kills land between them): each resumed run places the
    // windows' state and timers by key on its own workers, and reads each partition on from where the
    // checkpoint's instances had got to, wherever it was read.
    let broker = Broker::start();
    let input = broker.topic("posts", PARTITIONS);
    let records = posts(300_000);
    broker.produce("posts", &records);
    let dir = scratch("rescaled");
    let out = dir.join("out");
    let source = format!("{input}?until=end");
    let said = crash_and_finish_on(
        "tumbling",
        &["2", "1", "3"],
        true,
        &source,
        &["--out", out.to_str().unwrap()],
        &dir,
        "exactly-once",
    );
    assert!(
        said.contains("now takes the state of its own keys"),
        "no run resumed a checkpoint of another worker count:\n{said}"
    );
    let expected = tumbling(&records);
    let got = committed(&out);
    assert!(got == expected, "{}\n{said}", difference(&expected, &got));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kafka_to_kafka_at_least_once_loses_nothing_to_kills() {
    let broker = Broker::start();
    let input = broker.topic("posts", PARTITIONS);
    let output = broker.topic("counts", PARTITIONS);
    let records = posts(300_000);
    broker.produce("posts", &records);
    let dir = scratch("at-least-once");
    let source = format!("{input}?until=end");
    let said = crash_and_finish(&source, &["--sink", &output], &dir, "at-least-once");
    let expected = keyed_count(&records);
    let got = broker.read_committed("counts");
    let missing: Vec<_> = expected.keys().filter(|l| !got.contains_key(*l)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} results missing, such as {:?}\n{said}",
        missing.len(),
        expected.len(),
        &missing[..missing.len().min(5)]
    );
    let extra: Vec<_> = got
        .keys()
        .filter(|l| !expected.contains_key(*l))
        .take(5)
        .collect();
    assert!(
        extra.is_empty(),
        "results that no run should give: {extra:?}\n{said}"
    );
    let repeats: usize = got.values().map(|n| n - 1).sum();
    eprintln!("at-least-once: {repeats} results written again after the kills");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The results of exactly-once output as a `read_committed` reader of a real Apache Kafka broker sees
/// them. The tansu broker also shows the records of aborted transactions (its fetch returns no
/// aborted-transaction list): a commit that a kill interrupted, done again by the resumed run. Each
/// record's `caudal-txn` header (`ID SEQUENCE ATTEMPT INDEX COUNT`) says which commit attempt wrote
/// it: an attempt with fewer than COUNT records was aborted and is left out; of the complete attempts
/// at one (ID, SEQUENCE), one is kept, and any other must hold the very same records (a kill after the
/// last record and before the broker's commit, aborted by the next run; a real broker hides it). That
/// a commit repeated after a crash publishes nothing is tested on its own
/// (`a_commit_repeated_after_a_crash_publishes_nothing_twice`). Returns the results, the records of
/// incomplete attempts, and the complete attempts repeated.
fn committed_once(
    records: Vec<(String, Option<String>)>,
) -> (BTreeMap<String, usize>, usize, usize) {
    // (id, sequence) → attempt → (the count its headers give, its values)
    type Attempts = BTreeMap<String, (usize, Vec<String>)>;
    let mut commits: BTreeMap<(String, u64), Attempts> = BTreeMap::new();
    for (value, txn) in records {
        let txn = txn.expect("every exactly-once record has a caudal-txn header");
        let fields: Vec<&str> = txn.split(' ').collect();
        assert_eq!(fields.len(), 5, "caudal-txn header `{txn}`");
        let key = (fields[0].to_string(), fields[1].parse::<u64>().unwrap());
        let count: usize = fields[4].parse().unwrap();
        let attempt = commits
            .entry(key)
            .or_default()
            .entry(fields[2].to_string())
            .or_insert((count, Vec::new()));
        attempt.1.push(value);
    }
    let mut values = BTreeMap::new();
    let (mut aborted, mut repeated) = (0, 0);
    for ((id, sequence), attempts) in commits {
        let (complete, incomplete): (Vec<_>, Vec<_>) = attempts
            .into_values()
            .partition(|(count, values)| values.len() == *count);
        aborted += incomplete.iter().map(|(_, v)| v.len()).sum::<usize>();
        let mut complete = complete.into_iter().map(|(_, mut v)| {
            v.sort();
            v
        });
        let kept = complete
            .next()
            .unwrap_or_else(|| panic!("{id} sequence {sequence}: no complete commit"));
        for other in complete {
            assert_eq!(
                other, kept,
                "{id} sequence {sequence}: two commits with different records"
            );
            repeated += 1;
        }
        for value in kept {
            *values.entry(value).or_default() += 1;
        }
    }
    (values, aborted, repeated)
}

#[test]
fn kafka_to_kafka_exactly_once_survives_kills() {
    let broker = Broker::start();
    let input = broker.topic("posts", PARTITIONS);
    let output = broker.topic("counts", PARTITIONS);
    let records = posts(300_000);
    broker.produce("posts", &records);
    let dir = scratch("exactly-once-topic");
    let source = format!("{input}?until=end");
    let said = crash_and_finish(&source, &["--sink", &output], &dir, "exactly-once");
    let (got, aborted, repeated) = committed_once(broker.read_with_headers("counts"));
    let expected = keyed_count(&records);
    assert!(got == expected, "{}\n{said}", difference(&expected, &got));
    eprintln!(
        "exactly-once: tansu showed {aborted} records of aborted commits and {repeated} aborted \
         complete commits (left out)"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A staged file of `values` for [`publish`], with its commit.
fn staged(
    dir: &Path,
    broker: &Broker,
    id: &str,
    sequence: u64,
    values: &[&str],
) -> (Publish, PathBuf) {
    let mut bytes = Vec::new();
    for v in values {
        frame(v.as_bytes(), &mut bytes);
    }
    let path = dir.join(format!(".{id}-{sequence}.staged"));
    std::fs::write(&path, bytes).unwrap();
    let publish = Publish {
        brokers: broker.address(),
        topic: "out".into(),
        transactional_id: id.into(),
        sequence,
    };
    (publish, path)
}

#[test]
fn a_commit_repeated_after_a_crash_publishes_nothing_twice() {
    let broker = Broker::start();
    broker.topic("out", PARTITIONS);
    let dir = scratch("repeated-commit");
    let (p, path) = staged(&dir, &broker, "caudal-out-w0", 5, &["a", "b"]);
    publish(&p, &path).unwrap();
    assert!(!path.exists(), "a published file is removed");
    // A crash between the broker's commit and the file's removal: the resumed run (a new process,
    // with new producers) commits again.
    close_publishers();
    let (p, path) = staged(&dir, &broker, "caudal-out-w0", 5, &["a", "b"]);
    publish(&p, &path).unwrap();
    // An older round of the same instance, too.
    close_publishers();
    let (p, path) = staged(&dir, &broker, "caudal-out-w0", 4, &["old"]);
    publish(&p, &path).unwrap();
    // The next round, and another instance's round of the same number, are published.
    let (p, path) = staged(&dir, &broker, "caudal-out-w0", 6, &["c"]);
    publish(&p, &path).unwrap();
    let (p, path) = staged(&dir, &broker, "caudal-out-w1", 5, &["d"]);
    publish(&p, &path).unwrap();
    let got = broker.read_committed("out");
    let expected: BTreeMap<String, usize> = ["a", "b", "c", "d"]
        .iter()
        .map(|v| (v.to_string(), 1))
        .collect();
    assert_eq!(got, expected);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_restarted_producer_fences_its_zombie_whose_open_transaction_stays_hidden() {
    let broker = Broker::start();
    broker.topic("out", PARTITIONS);
    let dir = scratch("zombie");
    // The producer of a run that hangs (a zombie), in the middle of a transaction.
    let zombie: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.address())
        .set("transactional.id", "caudal-out-w0")
        .create()
        .unwrap();
    zombie.init_transactions(Duration::from_secs(30)).unwrap();
    zombie.begin_transaction().unwrap();
    zombie
        .send(
            BaseRecord::<(), str>::to("out")
                .partition(0)
                .payload("zombie"),
        )
        .unwrap();
    zombie.flush(Duration::from_secs(30)).unwrap();
    assert!(
        broker.read_committed("out").is_empty(),
        "an open transaction is hidden from read_committed"
    );
    // The run that replaced it commits its round: the zombie can no longer commit.
    let (p, path) = staged(&dir, &broker, "caudal-out-w0", 1, &["fresh"]);
    publish(&p, &path).unwrap();
    // (A real broker answers the zombie's commit with PRODUCER_FENCED; tansu leaves it retrying.)
    let committed = zombie.commit_transaction(Duration::from_secs(5));
    assert!(
        committed.is_err(),
        "the zombie committed after it was fenced: {:?}",
        broker.read_with_headers("out")
    );
    let got = broker.read_committed("out");
    assert_eq!(got.get("fresh"), Some(&1), "{got:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Lines that `child` prints within `wait`, read on a thread of their own.
fn printed_within(child: &mut std::process::Child, wait: Duration, want: usize) -> Vec<String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + wait;
    let mut lines = Vec::new();
    while lines.len() < want {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => lines.push(line),
            Err(_) => break,
        }
    }
    lines
}

#[test]
fn a_quiet_partition_holds_windows_back_until_it_is_idle() {
    let broker = Broker::start();
    let input = broker.topic("posts", 2);
    // Partition 0 goes on to 3 s of event time; partition 1 says one thing at the start, then
    // nothing more (and the input never ends: no until=end).
    let mut records: Vec<_> = (0..3000).map(|i| (0, post(i).1, post(i).2)).collect();
    records.push((1, BASE_MS, post(3000).2));
    broker.produce("posts", &records);
    // What the first two windows count once partition 1 no longer holds them back.
    let closed: Vec<_> = records
        .iter()
        .filter(|(_, ts, _)| *ts < BASE_MS + 2000)
        .cloned()
        .collect();
    let expected: Vec<String> = tumbling(&closed).into_keys().collect();

    // Without an idle timeout the quiet partition holds the watermark at its one record: nothing
    // closes while the run goes on.
    let mut held = caudal(&["run", "tumbling", "--source", &input])
        .spawn()
        .unwrap();
    let printed = printed_within(&mut held, Duration::from_secs(3), 1);
    let _ = held.kill();
    let _ = held.wait();
    assert!(printed.is_empty(), "windows closed early: {printed:?}");

    // With one, the windows that partition 0 has passed close once partition 1 has been quiet.
    let mut run = caudal(&[
        "run",
        "tumbling",
        "--source",
        &input,
        "--idle-timeout",
        "300ms",
    ])
    .spawn()
    .unwrap();
    let mut printed = printed_within(&mut run, Duration::from_secs(20), expected.len());
    let _ = run.kill();
    let _ = run.wait();
    printed.sort();
    assert_eq!(printed, expected);
}

/// Runs `keyed-count` from `input` (unbounded: the run does not end with the topic) to the topic
/// `output` with exactly-once and 100 ms checkpoints; calls `meanwhile` once the run has started; waits
/// until `output` holds all of `records`' results (the last of them are committed by checkpoints taken
/// while the input is quiet), stops the run with SIGTERM and checks that the committed output is the
/// failure-free result, once. Returns what the run said.
fn exactly_once_until_committed(
    broker: &Broker,
    input: &str,
    output: &str,
    records: &[(i32, i64, Vec<u8>)],
    dir: &Path,
    meanwhile: impl FnOnce(),
) -> String {
    // What the run says goes to a file: a pipe nobody reads until the end could fill up and stop it.
    let log = dir.join("stderr.log");
    let mut child = caudal(&["run", "keyed-count", "--source", input, "--workers", "2"])
        .args(["--sink", output, "--guarantee", "exactly-once"])
        .args(["--checkpoint-interval", "100ms", "--checkpoint-dir"])
        .arg(dir.join("checkpoints"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let said = || std::fs::read_to_string(&log).unwrap_or_default();
    meanwhile();
    let topic = output.rsplit('/').next().unwrap();
    let expected = keyed_count(records);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = broker.read_committed(topic).len();
        if got >= expected.len() {
            break;
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{got} of {} results committed after 60 s (or the run ended):\n{}",
                expected.len(),
                said()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let said = said();
    assert!(status.success(), "the run failed:\n{said}");
    let (got, _, _) = committed_once(broker.read_with_headers(topic));
    assert!(got == expected, "{}\n{said}", difference(&expected, &got));
    said
}

/// Exactly-once output is committed by checkpoints, and a checkpoint waits for every source's
/// watermark to reach its cut: when the input stops, a worker whose partitions hold event times below
/// another's must not keep the last output uncommitted for ever.
#[test]
fn the_last_exactly_once_output_is_committed_when_the_input_stops() {
    let broker = Broker::start();
    let input = broker.topic("posts", PARTITIONS);
    let output = broker.topic("counts", PARTITIONS);
    let records = posts(20_000);
    broker.produce("posts", &records);
    let dir = scratch("quiet");
    exactly_once_until_committed(&broker, &input, &output, &records, &dir, || {});
    let _ = std::fs::remove_dir_all(&dir);
}

/// The broker is cut off (every connection closed, new ones refused, as in a broker restart or a
/// network partition; the broker keeps its data) while an exactly-once run reads a topic that is still
/// being written, and writes to a topic: the run waits, goes on when the broker is back, and its
/// committed output is the failure-free result, once.
#[test]
fn a_broker_outage_in_the_middle_of_a_run_loses_and_repeats_nothing() {
    let port = free_port();
    let proxy = common::proxy::Proxy::start(port);
    let broker = Broker::start_advertising(port, Some(proxy.port));
    let input = broker.topic("posts", PARTITIONS);
    let output = broker.topic("counts", PARTITIONS);
    let records = posts(200_000);
    let (first, second) = records.split_at(records.len() / 2);
    broker.produce("posts", first);
    let dir = scratch("outage");
    let outage = Duration::from_millis(env_u64("CAUDAL_OUTAGE_MS", 3_000));
    let said = exactly_once_until_committed(&broker, &input, &output, &records, &dir, || {
        std::thread::sleep(Duration::from_secs(1));
        // The second half is written while the broker goes away (the test's producer waits too).
        std::thread::scope(|scope| {
            scope.spawn(|| broker.produce("posts", second));
            std::thread::sleep(Duration::from_millis(100));
            proxy.cut();
            std::thread::sleep(outage);
            proxy.restore();
        });
    });
    assert!(
        proxy.refused() > 0,
        "nothing tried to reach the broker during the outage:\n{said}"
    );
    eprintln!(
        "outage of {outage:?}: {} connections refused",
        proxy.refused()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// In the library, a Kafka record comes with its key, headers, partition and offset, and a user's
/// extractor can give its event time (here from the value), instead of the Kafka timestamp.
#[test]
fn the_library_gets_keys_headers_and_event_times_from_an_extractor() {
    use caudal::prelude::*;
    use rdkafka::message::{Header, OwnedHeaders};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

    let broker = Broker::start();
    let input = broker.topic("readings", 1);
    let producer: BaseProducer = rdkafka::config::ClientConfig::new()
        .set("bootstrap.servers", broker.address())
        .create()
        .unwrap();
    for (i, at) in [(0, 5_000), (1, 7_000), (2, 6_000)] {
        let value = format!("sensor-{i} at={at}");
        let key = format!("k{i}");
        let headers = OwnedHeaders::new().insert(Header {
            key: "origin",
            value: Some("test"),
        });
        let record = BaseRecord::to("readings")
            .partition(0)
            .timestamp(BASE_MS)
            .key(&key)
            .payload(&value)
            .headers(headers);
        caudal::kafka::send_waiting(&producer, record).unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();

    let spec: caudal::source::kafka::KafkaSpec = format!("{input}?until=end").parse().unwrap();
    let factory = caudal::source::kafka::source(spec)
        .event_time(|r| r.text().ok()?.split_once("at=")?.1.parse().ok());
    let seen = Collect::new();
    let sink = seen.clone();
    caudal::run(RunConfig::new(ExecutionMode::PerRecord), move |df| {
        let readings = df.source("readings", &factory);
        df.sink("seen", readings, &sink);
    })
    .unwrap();
    type Seen = (EventTime, i64, Option<Vec<u8>>, Vec<(String, Vec<u8>)>);
    let got: Vec<Seen> = seen
        .take()
        .into_iter()
        .map(|e| (e.time, e.data.offset, e.data.key, e.data.headers))
        .collect();
    let header = vec![("origin".to_string(), b"test".to_vec())];
    assert_eq!(
        got,
        vec![
            (5_000, 0, Some(b"k0".to_vec()), header.clone()),
            (7_000, 1, Some(b"k1".to_vec()), header.clone()),
            // Behind the watermark (7,000) by then, it still flows with its own time.
            (6_000, 2, Some(b"k2".to_vec()), header),
        ]
    );
}

/// `caudal compare --via`: the lab's runs with the broker in the measured path (records produced to it
/// open loop, results written to it and read back) give the same results, count and checksum, as the
/// same runs in process, per-record and in micro-batches, without a guarantee and exactly-once.
#[test]
fn the_lab_through_the_broker_gives_the_results_of_the_lab_in_process() {
    let broker = Broker::start();
    let dir = scratch("via");
    let lab = |out: &str, via: Option<String>| -> serde_json::Value {
        let mut cmd = caudal(&["compare", "--workload", "tumbling", "--rate", "5000"]);
        cmd.args(["--duration", "2s", "--warmup", "0s", "--repeat", "1"])
            .args(["--modes", "per-record,micro-batch:100ms"])
            .args([
                "--guarantees",
                "none,exactly-once",
                "--checkpoint-interval",
                "200ms",
            ])
            .arg("--out")
            .arg(dir.join(out));
        if let Some(via) = via {
            cmd.args(["--via", &via]);
        }
        succeed(&mut cmd);
        let json = std::fs::read_to_string(dir.join(out).join("results.json")).unwrap();
        serde_json::from_str(&json).unwrap()
    };
    let through = lab("via", Some(format!("kafka://{}", broker.address())));
    let in_process = lab("in-process", None);
    let results = |report: &serde_json::Value| -> Vec<(String, String, serde_json::Value)> {
        report["modes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["mode"].as_str().unwrap().to_string(),
                    m["guarantee"].as_str().unwrap().to_string(),
                    m["results"].clone(),
                )
            })
            .collect()
    };
    let got = results(&through);
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(
        got.iter().all(|(_, _, r)| r["count"].as_u64() > Some(0)),
        "{got:?}"
    );
    assert_eq!(got, results(&in_process));
    assert_eq!(
        through["config"]["via"].as_str(),
        Some(broker.address().as_str())
    );
    let _ = std::fs::remove_dir_all(&dir);
}
