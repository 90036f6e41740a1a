//! Crash tests: `caudal run` under a guarantee is killed with SIGKILL at random moments (during reading,
//! during a checkpoint, during the commit of output, during recovery itself), started again with the
//! same command until it finishes, and its committed output is compared with a run without failure:
//! equal as a multiset for exactly-once, nothing missing for at-least-once.
//!
//! The moments come from a seed (`CAUDAL_CRASH_SEED`, printed on failure) and CI runs a bounded number
//! of kills per case; the long version is one command:
//!
//! ```text
//! CAUDAL_CRASH_KILLS=25 CAUDAL_CRASH_SEED=$RANDOM cargo test --release --test crash
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::{env_u64, example, loopback_hostfile, Moments};

const BIN: &str = env!("CARGO_BIN_EXE_caudal");

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("caudal-crash-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The committed output in `dir`: every line of every file whose name does not start with `.`, counted.
fn committed(dir: &Path) -> BTreeMap<String, usize> {
    let mut lines = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return lines;
    };
    for entry in entries.map(Result::unwrap) {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
            *lines.entry(line.to_string()).or_default() += 1;
        }
    }
    lines
}

/// Counts the complete lines of `bytes` (a killed process may have printed half a line last).
fn count_lines(bytes: &[u8], into: &mut BTreeMap<String, usize>) {
    let text = String::from_utf8_lossy(bytes);
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    for line in complete.lines() {
        *into.entry(line.to_string()).or_default() += 1;
    }
}

#[derive(Clone, Copy)]
struct Case {
    pipeline: &'static str,
    source: &'static str,
    mode: &'static str,
    workers: &'static str,
    /// Print the results (written as they come) instead of writing files under `--out`.
    printed: bool,
    /// Processes of a cluster run (timely's cluster mode on loopback), each with `workers` workers.
    processes: usize,
    /// Write each result with its deterministic id (`--record-ids`).
    ids: bool,
}

impl Case {
    fn new(
        pipeline: &'static str,
        source: &'static str,
        mode: &'static str,
        workers: &'static str,
    ) -> Self {
        Case {
            pipeline,
            source,
            mode,
            workers,
            printed: false,
            processes: 1,
            ids: false,
        }
    }

    /// The same case with `--record-ids`.
    fn with_ids(self) -> Self {
        Case { ids: true, ..self }
    }

    /// The same case on `processes` processes on loopback.
    fn on_processes(self, processes: usize) -> Self {
        Case { processes, ..self }
    }

    /// Starts every process of the guaranteed run (on fresh ports: a killed process's may linger).
    fn spawn_all(
        &self,
        dir: &Path,
        out: &Path,
        guarantee: (&str, &Path),
    ) -> Vec<std::process::Child> {
        if self.processes == 1 {
            return vec![self.command(out, Some(guarantee)).spawn().unwrap()];
        }
        let hostfile = loopback_hostfile(dir, self.processes);
        (0..self.processes)
            .map(|p| {
                let mut cmd = self.command(out, Some(guarantee));
                cmd.args(["--processes", &self.processes.to_string()])
                    .args(["--process", &p.to_string()])
                    // A process killed before the others connected to it must not keep them waiting.
                    .args(["--connect-timeout", "5s"])
                    .arg("--hostfile")
                    .arg(&hostfile)
                    .stdout(Stdio::null());
                cmd.spawn().unwrap()
            })
            .collect()
    }

    /// The same case with its results printed to stdout.
    fn printed(self) -> Self {
        Case {
            printed: true,
            ..self
        }
    }

    fn command(&self, out: &Path, guarantee: Option<(&str, &Path)>) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(["run", self.pipeline, "--source", self.source])
            .args(["--mode", self.mode, "--workers", self.workers])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if self.printed {
            cmd.stdout(Stdio::piped());
        } else {
            cmd.arg("--out").arg(out);
        }
        if self.ids {
            cmd.arg("--record-ids");
        }
        if let Some((guarantee, dir)) = guarantee {
            cmd.args(["--guarantee", guarantee, "--checkpoint-interval", "100ms"])
                .arg("--checkpoint-dir")
                .arg(dir);
        }
        cmd
    }

    /// Runs without failure and returns the committed output.
    fn reference(&self, dir: &Path) -> BTreeMap<String, usize> {
        let out = dir.join("reference");
        // A cluster case's reference runs on one process, with as many workers as all of its.
        let workers: usize = self.workers.parse().unwrap();
        let one_process = Case {
            workers: Box::leak((workers * self.processes).to_string().into_boxed_str()),
            processes: 1,
            ..*self
        };
        let result = one_process.command(&out, None).output().unwrap();
        assert!(
            result.status.success(),
            "{}",
            String::from_utf8_lossy(&result.stderr)
        );
        if self.printed {
            let mut lines = BTreeMap::new();
            count_lines(&result.stdout, &mut lines);
            return lines;
        }
        committed(&out)
    }

    /// Kills one process of the guaranteed cluster run with SIGKILL at seeded moments (the others then
    /// fail, as timely's connections break; one that lingers is killed too), `kills` times, then lets
    /// the run finish; returns the committed output and what the runs said.
    fn crashed_cluster(
        &self,
        dir: &Path,
        guarantee: &str,
        kills: u64,
        seed: u64,
    ) -> (BTreeMap<String, usize>, String) {
        let (out, checkpoints) = (dir.join("out"), dir.join("checkpoints"));
        let mut moments = Moments(seed.max(1));
        let mut said = String::new();
        for _ in 0..kills {
            let mut children = self.spawn_all(dir, &out, (guarantee, &checkpoints));
            std::thread::sleep(Duration::from_millis(moments.next_ms(200, 2500)));
            let victim = moments.next_ms(0, self.processes as u64) as usize;
            let _ = children[victim].kill(); // SIGKILL
            said.push_str(&format!("-- killed process {victim}\n"));
            let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
            let watchdog = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(15));
                for pid in pids {
                    // SAFETY: signalling a child of ours that has not been waited for yet, or a pid
                    // that no longer exists (then kill fails harmlessly).
                    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                }
            });
            for (process, child) in children.into_iter().enumerate() {
                let result = child.wait_with_output().unwrap();
                let text = String::from_utf8_lossy(&result.stderr);
                said.push_str(&text);
                // A survivor says that it lost a peer and leaves: no panic, no hang (the watchdog's
                // SIGKILL).
                use std::os::unix::process::ExitStatusExt;
                assert!(
                    process == victim
                        || (!text.contains("panicked") && result.status.signal().is_none()),
                    "process {process} (seed {seed}): {:?}\n{said}",
                    result.status
                );
            }
            drop(watchdog);
        }
        let children = self.spawn_all(dir, &out, (guarantee, &checkpoints));
        for child in children {
            let result = child.wait_with_output().unwrap();
            said.push_str(&String::from_utf8_lossy(&result.stderr));
            assert!(
                result.status.success(),
                "the last run failed (seed {seed}):\n{said}"
            );
        }
        (committed(&out), said)
    }

    /// Kills the guaranteed run `kills` times at seeded moments, then lets it finish; returns the
    /// committed output and what the runs said.
    fn crashed(
        &self,
        dir: &Path,
        guarantee: &str,
        kills: u64,
        seed: u64,
    ) -> (BTreeMap<String, usize>, String) {
        let (out, checkpoints) = (dir.join("out"), dir.join("checkpoints"));
        let mut moments = Moments(seed.max(1));
        let mut said = String::new();
        let mut printed = BTreeMap::new();
        for _ in 0..kills {
            let mut child = self
                .command(&out, Some((guarantee, &checkpoints)))
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(moments.next_ms(20, 900)));
            let _ = child.kill(); // SIGKILL
            let result = child.wait_with_output().unwrap();
            said.push_str(&String::from_utf8_lossy(&result.stderr));
            count_lines(&result.stdout, &mut printed);
        }
        let result = self
            .command(&out, Some((guarantee, &checkpoints)))
            .output()
            .unwrap();
        said.push_str(&String::from_utf8_lossy(&result.stderr));
        count_lines(&result.stdout, &mut printed);
        assert!(
            result.status.success(),
            "the last run failed (seed {seed}):\n{said}"
        );
        if self.printed {
            return (printed, said);
        }
        (committed(&out), said)
    }
}

fn check(name: &str, case: Case, guarantee: &str) {
    let seed = env_u64("CAUDAL_CRASH_SEED", 0x5EED_0000 + name.len() as u64);
    let kills = env_u64("CAUDAL_CRASH_KILLS", 3);
    let dir = scratch(name);
    let reference = case.reference(&dir);
    assert!(!reference.is_empty(), "the reference run wrote nothing");
    let (crashed, said) = match case.processes {
        1 => case.crashed(&dir, guarantee, kills, seed),
        _ => case.crashed_cluster(&dir, guarantee, kills, seed),
    };
    if case.ids {
        // Idempotent output: every result has its own id, and a reader that keeps one result per
        // id (the line holds its id) finds exactly the failure-free run's results.
        let repeated: Vec<_> = reference.iter().filter(|(_, n)| **n > 1).take(5).collect();
        assert!(
            repeated.is_empty(),
            "{name}: ids repeated in the failure-free run: {repeated:?}"
        );
        let distinct: Vec<&String> = crashed.keys().collect();
        let expected: Vec<&String> = reference.keys().collect();
        if distinct != expected {
            let missing: Vec<_> = expected
                .iter()
                .filter(|l| !crashed.contains_key(**l))
                .take(5)
                .collect();
            let extra: Vec<_> = distinct
                .iter()
                .filter(|l| !reference.contains_key(**l))
                .take(5)
                .collect();
            panic!("{name}: results by id differ from the failure-free run (seed {seed}, {kills} kills): missing {missing:?}, extra {extra:?}\n{said}");
        }
        let repeats: usize = crashed.values().map(|n| n - 1).sum();
        eprintln!("{name}: {repeats} results written again after the crashes, each under its id");
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    match guarantee {
        "exactly-once" => {
            if crashed != reference {
                let missing: Vec<_> = reference
                    .iter()
                    .filter(|(l, n)| crashed.get(*l) != Some(n))
                    .take(5)
                    .collect();
                let extra: Vec<_> = crashed
                    .iter()
                    .filter(|(l, n)| reference.get(*l) != Some(n))
                    .take(5)
                    .collect();
                panic!("{name}: output differs from the failure-free run (seed {seed}, {kills} kills): reference has {missing:?}, crashed has {extra:?}\n{said}");
            }
        }
        "at-most-once" => {
            let mut missing = 0;
            for (line, n) in &crashed {
                let expected = reference.get(line).copied().unwrap_or(0);
                assert!(
                    *n <= expected,
                    "{name}: `{line}` {n} times, but {expected} in the failure-free run (seed {seed})\n{said}"
                );
            }
            for (line, n) in &reference {
                missing += n - crashed.get(line).copied().unwrap_or(0).min(*n);
            }
            eprintln!(
                "{name}: {missing} of {} results lost to the crashes",
                reference.values().sum::<usize>()
            );
        }
        _ => {
            for (line, n) in &reference {
                let got = crashed.get(line).copied().unwrap_or(0);
                assert!(
                    got >= *n,
                    "{name}: `{line}` {got} times, expected at least {n} (seed {seed})\n{said}"
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

const POSTS: &str = "generator:posts?limit=300000&rate=150000";

#[test]
fn keyed_count_exactly_once_on_two_workers() {
    check(
        "keyed-count",
        Case::new("keyed-count", POSTS, "per-record", "2"),
        "exactly-once",
    );
}

#[test]
fn tumbling_windows_exactly_once_on_two_workers() {
    check(
        "tumbling",
        Case::new("tumbling", POSTS, "per-record", "2"),
        "exactly-once",
    );
}

#[test]
fn tumbling_windows_exactly_once_on_two_processes_when_one_dies() {
    // The reference runs on one process with two workers: the same keyed state placement as two
    // processes of one worker each, whose results are the same (tests/cluster.rs).
    check(
        "two-processes",
        Case::new("tumbling", POSTS, "per-record", "1").on_processes(2),
        "exactly-once",
    );
}

#[test]
fn sliding_windows_exactly_once() {
    check(
        "sliding",
        Case::new(
            "sliding",
            "generator:posts?limit=150000&rate=100000",
            "per-record",
            "1",
        ),
        "exactly-once",
    );
}

#[test]
fn sessions_exactly_once_on_two_workers() {
    // The lab's session workload runs with 1 ms of out-of-orderness (see `caudal run --help`): with a
    // monotonic watermark, whether a record that touches a session the watermark has just closed
    // merges with it depends on when the watermark moves, and even failure-free runs differ.
    check(
        "session",
        Case::new("session", POSTS, "per-record", "2"),
        "exactly-once",
    );
}

#[test]
fn window_join_exactly_once_on_two_workers() {
    check(
        "join",
        Case::new("join", POSTS, "per-record", "2"),
        "exactly-once",
    );
}

#[test]
fn micro_batches_exactly_once() {
    check(
        "micro-batch",
        Case::new("tumbling", POSTS, "micro-batch:50ms", "2"),
        "exactly-once",
    );
}

#[test]
fn spark_modelled_micro_batches_exactly_once() {
    // Spark's model holds the records of a block still open at a batch's boundary to the next batch:
    // a checkpoint must never leave such records behind its offsets.
    check(
        "micro-batch-spark",
        Case::new("tumbling", POSTS, "micro-batch:50ms:spark", "2"),
        "exactly-once",
    );
}

#[test]
fn keyed_count_at_most_once_never_repeats_a_result() {
    check(
        "at-most-once",
        Case::new("keyed-count", POSTS, "per-record", "2"),
        "at-most-once",
    );
}

#[test]
fn printed_keyed_count_at_most_once_never_repeats_a_result() {
    // Printed results are written as they come, so a resumed run makes again what the crashed one
    // printed after its last checkpoint: the fence must drop it.
    check(
        "printed-at-most-once",
        Case::new("keyed-count", POSTS, "per-record", "2").printed(),
        "at-most-once",
    );
}

#[test]
fn printed_keyed_count_at_least_once_misses_nothing() {
    check(
        "printed-at-least-once",
        Case::new("keyed-count", POSTS, "per-record", "1").printed(),
        "at-least-once",
    );
}

#[test]
fn keyed_count_at_least_once_with_record_ids_is_exact_by_id() {
    check(
        "record-ids",
        Case::new("keyed-count", POSTS, "per-record", "2").with_ids(),
        "at-least-once",
    );
}

#[test]
fn printed_keyed_count_at_least_once_with_record_ids_is_exact_by_id() {
    // Printed results are written as they come: those made after the last checkpoint are printed
    // again by the resumed run, under the same ids.
    check(
        "printed-record-ids",
        Case::new("keyed-count", POSTS, "per-record", "2")
            .printed()
            .with_ids(),
        "at-least-once",
    );
}

#[test]
fn keyed_count_at_least_once_misses_nothing() {
    check(
        "at-least-once",
        Case::new("keyed-count", POSTS, "per-record", "2"),
        "at-least-once",
    );
}

/// A line server for the socket cases: sends `line-NNNNNN` for `0..total`, paced, to one client at a
/// time; a client that goes away (killed) loses what was in flight, and the next one gets the lines from
/// where the server had got to. Closes the connection after the last line, which ends the input.
struct LineServer {
    port: u16,
    /// The first line each connection was sent.
    starts: std::sync::Arc<std::sync::Mutex<Vec<u64>>>,
}

impl LineServer {
    fn start(total: u64) -> Self {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let starts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = starts.clone();
        std::thread::spawn(move || {
            let mut next = 0u64;
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                seen.lock().unwrap().push(next);
                while next < total {
                    let chunk: String = (next..(next + 40).min(total))
                        .map(|i| format!("line-{i:06}\n"))
                        .collect();
                    if conn.write_all(chunk.as_bytes()).is_err() {
                        break;
                    }
                    next = (next + 40).min(total);
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        });
        LineServer { port, starts }
    }
}

/// Kills `caudal run uppercase` reading a socket under `guarantee` at seeded moments, and checks the
/// committed output against what the server sent: no line twice under exactly-once, and a line missing
/// only where a killed process had not yet read it (the end of its connection's lines, in the kernel's
/// buffers when it died): every line it had read was in the write-ahead log and is there.
fn check_socket(name: &str, guarantee: &str) {
    let seed = env_u64("CAUDAL_CRASH_SEED", 0x5EED_0000 + name.len() as u64);
    let kills = env_u64("CAUDAL_CRASH_KILLS", 3);
    let total = 60_000;
    let server = LineServer::start(total);
    let source: &'static str =
        Box::leak(format!("socket://127.0.0.1:{}", server.port).into_boxed_str());
    let dir = scratch(name);
    let case = Case::new("uppercase", source, "per-record", "1");
    let (crashed, said) = case.crashed(&dir, guarantee, kills, seed);
    let starts = server.starts.lock().unwrap().clone();
    let seen = |i: u64| crashed.get(&format!("LINE-{i:06}")).copied().unwrap_or(0);
    if guarantee != "at-least-once" {
        let twice: Vec<_> = crashed.iter().filter(|(_, n)| **n > 1).take(5).collect();
        assert!(
            twice.is_empty(),
            "{name}: lines twice (seed {seed}): {twice:?}\n{said}"
        );
    }
    assert_eq!(
        crashed.len() as u64,
        (0..total).filter(|i| seen(*i) > 0).count() as u64,
        "{name}: lines that the server never sent (seed {seed})"
    );
    if guarantee == "at-most-once" {
        // Lines after the last checkpoint are not replayed, and the fence may drop the first lines a
        // resumed run reads: lines may be missing anywhere.
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    // Each connection's lines: read ones first, then (if the process was killed) the ones it lost.
    let mut bounds = starts.clone();
    bounds.push(total);
    for pair in bounds.windows(2) {
        let (from, to) = (pair[0], pair[1]);
        let lost_from = (from..to).find(|i| seen(*i) == 0).unwrap_or(to);
        if let Some(back) = (lost_from..to).find(|i| seen(*i) > 0) {
            panic!("{name}: line {lost_from} is missing but line {back} after it (same connection {from}..{to}) is there (seed {seed}, starts {starts:?})\n{said}");
        }
    }
    let last = *starts.last().expect("a client connected");
    assert!(
        (last..total).all(|i| seen(i) > 0),
        "{name}: the last connection's lines are not all there (seed {seed})\n{said}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn socket_input_through_the_write_ahead_log_exactly_once() {
    check_socket("socket-exactly-once", "exactly-once");
}

#[test]
fn socket_input_at_most_once_never_repeats_a_line() {
    check_socket("socket-at-most-once", "at-most-once");
}

#[test]
fn socket_input_through_the_write_ahead_log_at_least_once() {
    check_socket("socket-at-least-once", "at-least-once");
}

/// The numbers `examples/durable_channel` printed (`n NNNNNN` lines; a killed run's last line may be
/// cut short).
fn printed_numbers(stdout: &[u8]) -> Vec<u64> {
    let mut lines = BTreeMap::new();
    count_lines(stdout, &mut lines);
    let mut numbers = Vec::new();
    for (line, n) in lines {
        let number: u64 = line.strip_prefix("n ").unwrap().parse().unwrap();
        numbers.extend(std::iter::repeat_n(number, n));
    }
    numbers.sort_unstable();
    numbers
}

#[test]
fn a_durable_channel_replays_what_a_killed_run_had_taken_in() {
    // An application pushes 0..40,000 through a durable channel under at-least-once and is killed;
    // started again, it pushes 100,000..100,100. The second run must first replay, from its
    // write-ahead log, everything the first had taken in after its last checkpoint: at least every
    // number the first printed, and nothing the checkpoint covered.
    let seed = env_u64("CAUDAL_CRASH_SEED", 0x05EE_D0DC);
    let dir = scratch("durable-channel");
    let ck = dir.join("checkpoints");
    let run = |first: &str, count: &str| {
        let mut cmd = Command::new(example("durable_channel"));
        cmd.arg(&ck)
            .args([first, count])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    };
    let mut killed = run("0", "40000").spawn().unwrap();
    std::thread::sleep(Duration::from_millis(Moments(seed).next_ms(300, 1500)));
    let _ = killed.kill(); // SIGKILL
    let first = killed.wait_with_output().unwrap();
    let before = printed_numbers(&first.stdout);
    let second = run("100000", "100").output().unwrap();
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{said}");
    let after = printed_numbers(&second.stdout);
    let (replayed, new): (Vec<u64>, Vec<u64>) = after.iter().partition(|n| **n < 100_000);
    assert_eq!(new, (100_000..100_100).collect::<Vec<_>>(), "{said}");
    let from = replayed.first().copied().unwrap_or(0);
    let to = replayed.last().map_or(0, |n| n + 1);
    assert_eq!(
        replayed,
        (from..to).collect::<Vec<_>>(),
        "the replay is one run of numbers, each once (seed {seed})\n{said}"
    );
    assert!(
        before.last().is_none_or(|last| *last < to),
        "the replay stops at {to}, before what the killed run printed last, {:?} (seed {seed})\n{said}",
        before.last()
    );
    assert!(
        (0..from).all(|n| before.binary_search(&n).is_ok()),
        "numbers before the replay's start {from} were never printed (seed {seed})\n{said}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
