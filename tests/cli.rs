//! The `caudal` command: built-in pipelines on files and generators, output files, and clear errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

fn caudal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caudal"))
        .args(args)
        .output()
        .expect("caudal runs")
}

/// A directory of the test's own, removed when it is dropped.
fn scratch(name: &str) -> TempDir {
    TempDir::with_prefix(format!("caudal-cli-{name}-")).unwrap()
}

fn stdout_lines(out: &Output) -> Vec<String> {
    assert!(
        out.status.success(),
        "caudal failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    lines.sort();
    lines
}

fn file_arg(path: &Path) -> String {
    format!("file://{}", path.display())
}

#[test]
fn max_temp_keeps_each_sensors_maximum_and_reports_bad_lines() {
    let tmp = scratch("maxtemp");
    let dir = tmp.path();
    let input = dir.join("readings.txt");
    std::fs::write(&input, "sensor-1,20.5\nsensor-2,18.0\nsensor-1,22.0\nsensor-1,19.5\nthis is not a reading\nsensor-2,-3.5\n").unwrap();
    let dead = dir.join("dead.jsonl");
    for mode in ["per-record", "micro-batch:10ms", "batch"] {
        let out = caudal(&[
            "run",
            "max-temp",
            "--source",
            &file_arg(&input),
            "--mode",
            mode,
            "--dead-letters",
            dead.to_str().unwrap(),
        ]);
        let mut expected = vec![
            "(sensor-1, 20.5)",
            "(sensor-1, 22)",
            "(sensor-1, 22)",
            "(sensor-2, 18)",
            "(sensor-2, 18)",
        ];
        expected.sort();
        assert_eq!(stdout_lines(&out), expected, "mode {mode}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("1 bad input(s) skipped") && stderr.contains("this is not a reading"),
            "{stderr}"
        );
        let letters = std::fs::read_to_string(&dead).unwrap();
        assert_eq!(letters.lines().count(), 1);
        assert!(letters.contains("\"origin\":\"max-temp\""), "{letters}");
    }
}

#[test]
fn viu_count_counts_tagged_posts_from_a_directory_into_part_files() {
    let tmp = scratch("viu");
    let dir = tmp.path();
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(
        input.join("a.txt"),
        "ann: lecture on #VIU today\nbob: #spark rocks\n",
    )
    .unwrap();
    std::fs::write(
        input.join("b.txt"),
        "cid: #VIU #VIU twice in one post counts once\n",
    )
    .unwrap();
    std::fs::write(
        input.join(".c.txt.tmp"),
        "dan: a file still being written #VIU\n",
    )
    .unwrap();
    let out_dir = dir.join("out");
    let out = caudal(&[
        "run",
        "viu-count",
        "--source",
        &file_arg(&input),
        "--mode",
        "batch",
        "--out",
        out_dir.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut parts: Vec<PathBuf> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    parts.sort();
    // Only committed part files: no temporary file is left behind.
    assert!(
        parts.iter().all(|p| p
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("part-")),
        "{parts:?}"
    );
    let mut counts: Vec<u64> = parts
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(v["data"][0], "#VIU");
            v["data"][1].as_u64().unwrap()
        })
        .collect();
    counts.sort();
    assert_eq!(counts, vec![1, 2]);
}

#[test]
fn a_generator_runs_until_its_limit() {
    let out = caudal(&[
        "run",
        "viu-count",
        "--source",
        "generator:posts?limit=2000",
        "--mode",
        "micro-batch:5ms",
    ]);
    let lines = stdout_lines(&out);
    // The running count reaches the number of #VIU posts among the 2000, once per count.
    let n = lines.len();
    assert!(n > 100 && n < 400, "{n}");
    assert!(lines.contains(&format!("(#VIU, {n})")));
}

#[test]
fn wrong_flags_say_what_is_wrong_and_how_to_write_them() {
    for (args, wanted) in [
        (
            vec!["run", "uppercase", "--source", "kafka://localhost:9092"],
            "socket://HOST:PORT",
        ),
        (
            vec!["run", "uppercase", "--source", "socket://localhost"],
            "needs a port",
        ),
        (
            vec![
                "run",
                "uppercase",
                "--source",
                "generator:posts",
                "--mode",
                "micro-batch:soon",
            ],
            "micro-batch:100ms",
        ),
        (
            vec!["run", "wordcount", "--source", "generator:posts"],
            "uppercase, viu-count, max-temp",
        ),
        (
            vec!["run", "max-temp", "--source", "generator:posts?limit=10"],
            "generator:temperature",
        ),
        (
            vec![
                "run",
                "uppercase",
                "--source",
                "generator:posts",
                "--mode",
                "batch",
            ],
            "limit=100000",
        ),
        (
            vec!["run", "uppercase", "--source", "file:///no/such/place"],
            "no such file",
        ),
        (
            vec![
                "run",
                "uppercase",
                "--source",
                "generator:posts",
                "--watermark",
                "late",
            ],
            "bounded:500ms",
        ),
        (
            vec!["compare", "--modes", "per-record,streaming"],
            "micro-batch:100ms",
        ),
        // A negative rate, with or without `=`, gets the same range message (not clap's "unexpected
        // argument"); infinite and unschedulable rates are refused before anything runs.
        (
            vec!["compare", "--rate", "-5"],
            "rate `-5` must be a number",
        ),
        (vec!["compare", "--rate=-5"], "rate `-5` must be a number"),
        (vec!["compare", "--rate", "inf"], "at most 1e9"),
        (vec!["compare", "--rate", "1e30"], "at most 1e9"),
        (
            vec!["run", "uppercase", "--source", "generator:posts?rate=inf"],
            "rate `inf` must be",
        ),
        (vec!["compare", "--duration", "0s"], "no time at all"),
        // NEXMark's queries: a query that does not exist, flags of the posts' workloads, and a
        // query given posts.
        (vec!["compare", "--workload", "nexmark:q9"], "nexmark:q11"),
        (
            vec!["compare", "--workload", "nexmark:q5", "--window", "2s"],
            "leave out --window",
        ),
        (
            vec!["run", "nexmark:q5", "--source", "generator:posts"],
            "give it `generator:nexmark`",
        ),
        (
            vec![
                "run",
                "uppercase",
                "--source",
                "generator:posts",
                "--hold-budget",
                "lots",
            ],
            "such as 512MiB or 2GiB",
        ),
        (
            vec![
                "run",
                "tumbling",
                "--source",
                "generator:posts?limit=1000000",
                "--mode",
                "batch",
                "--hold-budget",
                "1MiB",
            ],
            "larger than the hold budget",
        ),
        (
            vec![
                "run",
                "uppercase",
                "--source",
                "generator:posts",
                "--processes",
                "2",
                "--hostfile",
                "/no/such/hosts.txt",
            ],
            "cannot read the hostfile /no/such/hosts.txt",
        ),
        (
            vec![
                "run",
                "uppercase",
                "--source",
                "generator:posts",
                "--duration",
                "0s",
            ],
            "no time at all",
        ),
    ] {
        let out = caudal(&args);
        assert!(!out.status.success(), "{args:?} should fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(wanted), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn compare_writes_json_and_csv_with_equal_results_in_every_run() {
    let tmp = scratch("compare");
    let dir = tmp.path();
    let out = caudal(&[
        "compare",
        "--rate",
        "20000",
        "--duration",
        "300ms",
        "--warmup",
        "100ms",
        "--modes",
        "per-record,micro-batch:20ms,batch",
        "--repeat",
        "2",
        "--json",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(printed, written);
    // At 20,000 records/s no micro-batch comes near the hold budget.
    assert!(printed["runs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["capped_batches"] == 0));
    // The configuration names the modes as the command line does.
    assert_eq!(
        printed["config"]["modes"],
        serde_json::json!(["per-record", "micro-batch:20ms", "batch"])
    );
    let modes = printed["modes"].as_array().unwrap();
    assert_eq!(
        modes
            .iter()
            .map(|m| m["mode"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["per-record", "micro-batch", "batch"]
    );
    assert_eq!(modes[1]["batch_interval_ms"], 20);
    // ... and the guarantees.
    assert!(modes.iter().all(|m| m["guarantee"] == "none"), "{modes:?}");
    // Each count is closed by its own post: none is left for the end of the input to fire.
    assert!(modes.iter().all(|m| m["drained_results"] == 0), "{modes:?}");
    // 400 ms at 20,000/s: 8,000 posts, one running count each, in every run.
    for m in modes {
        assert_eq!(m["results"]["count"], 8000);
        assert_eq!(m["results"]["checksum"], modes[0]["results"]["checksum"]);
        for p in ["p50", "p90", "p99", "p999", "max"] {
            assert!(
                m["latency_us"][p].as_f64().is_some_and(|us| us > 0.0),
                "{m}"
            );
        }
        assert!(m["peak_rss_bytes"].as_u64().is_some());
        assert!(
            m["event_time_latency_us"]["p50"]
                .as_f64()
                .is_some_and(|us| us > 0.0),
            "{m}"
        );
    }
    assert!(modes[0]["p50_ratio_to_per_record"].is_null());
    assert!(modes[1]["p50_ratio_to_per_record"]
        .as_f64()
        .is_some_and(|r| r > 1.0));
    // Runs are interleaved: A B C A B C.
    let runs: Vec<(u64, &str)> = printed["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["repetition"].as_u64().unwrap(),
                r["mode"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        runs,
        [
            (0, "per-record"),
            (0, "micro-batch"),
            (0, "batch"),
            (1, "per-record"),
            (1, "micro-batch"),
            (1, "batch")
        ]
    );
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7);
    for plot in [
        "latency_cdf.svg",
        "latency_cdf.png",
        "latency_over_time.svg",
        "latency_over_time.png",
    ] {
        let bytes = std::fs::read(dir.join(plot)).unwrap_or_else(|e| panic!("{plot}: {e}"));
        assert!(bytes.len() > 1000, "{plot} is nearly empty");
    }
    let svg = std::fs::read_to_string(dir.join("latency_cdf.svg")).unwrap();
    assert!(
        svg.contains("per-record") && svg.contains("micro-batch 20 ms") && svg.contains("batch")
    );
    assert!(std::fs::read(dir.join("latency_cdf.png"))
        .unwrap()
        .starts_with(b"\x89PNG"));
    assert!(csv.starts_with("repetition,mode,guarantee,batch_interval_ms,p50_us"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("reproduce with: caudal compare --workload keyed-count --modes per-record,micro-batch:20ms,batch"), "{stderr}");
}

#[test]
fn windowed_workloads_give_the_same_results_in_every_mode() {
    // `compare` itself fails when two modes disagree; here each windowed workload must run clean.
    for workload in ["tumbling", "sliding", "session", "join"] {
        let out = caudal(&[
            "compare",
            "--workload",
            workload,
            "--rate",
            "20000",
            "--duration",
            "500ms",
            "--warmup",
            "100ms",
            "--modes",
            "per-record,micro-batch:50ms,micro-batch:50ms:spark,batch",
            "--repeat",
            "1",
            "--json",
            "--out",
            scratch(workload).path().to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{workload}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["config"]["workload"], workload);
        let modes = report["modes"].as_array().unwrap();
        assert_eq!(modes.len(), 4);
        // Spark's model holds some records to the next batch (their block was still open), and
        // still gives the same results as every mode, except on tumbling and sliding windows, which
        // under it are Spark's (of processing time): reported, not checked.
        assert_eq!(modes[2]["mode"], "micro-batch-spark");
        let spark_windows = matches!(workload, "tumbling" | "sliding");
        assert_eq!(modes[2]["comparable"], !spark_windows, "{workload}");
        if spark_windows {
            assert!(modes[2]["results"]["count"].as_u64().unwrap() > 0);
        }
        let checked: Vec<&serde_json::Value> =
            modes.iter().filter(|m| m["comparable"] == true).collect();
        assert_eq!(checked.len(), if spark_windows { 3 } else { 4 });
        let count = modes[0]["results"]["count"].as_u64().unwrap();
        assert!(count > 0, "{workload} produced no window results");
        assert!(
            checked.iter().all(|m| m["results"] == modes[0]["results"]),
            "{workload}"
        );
        // The last windows close only because the input ends (no offered record is late enough to
        // close them): in every mode the same ones, counted apart from the latencies.
        let drained = modes[0]["drained_results"].as_u64().unwrap();
        assert!(drained > 0 && drained <= count, "{workload}: {drained}");
        assert!(
            checked.iter().all(|m| m["drained_results"] == drained),
            "{workload}: {modes:?}"
        );
    }
}

#[test]
fn a_sweep_reports_each_mode_at_each_rate_it_tried() {
    let tmp = scratch("sweep");
    let dir = tmp.path();
    let out = caudal(&[
        "compare",
        "--sweep",
        "--sweep-steps",
        "2",
        "--rate",
        "5000",
        "--duration",
        "200ms",
        "--warmup",
        "50ms",
        "--modes",
        "per-record,micro-batch:20ms",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sweep.json")).unwrap()).unwrap();
    let points = report["sweep"]["points"].as_array().unwrap();
    // Both modes are tried at the first rate; a mode that keeps up is tried at the doubled rate too.
    let first: Vec<&str> = points
        .iter()
        .filter(|p| p["offered"] == 5000.0)
        .map(|p| p["mode"].as_str().unwrap())
        .collect();
    assert_eq!(first, ["per-record", "micro-batch"]);
    for p in points {
        assert!(p["offered"] == 5000.0 || p["offered"] == 10000.0, "{p}");
        assert!(
            p["achieved"].as_f64().is_some()
                && p["p99_us"].as_f64().is_some()
                && p["sustainable"].is_boolean()
        );
    }
    assert_eq!(report["sweep"]["sustainable"].as_array().unwrap().len(), 2);
    let csv = std::fs::read_to_string(dir.join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), points.len() + 1);
    assert!(String::from_utf8_lossy(&out.stdout).contains("throughput sweep"));
    let svg = std::fs::read_to_string(dir.join("latency_vs_throughput.svg")).unwrap();
    assert!(svg.contains("per-record p99") && svg.contains("micro-batch 20 ms p50"));
    assert!(std::fs::read(dir.join("latency_vs_throughput.png"))
        .unwrap()
        .starts_with(b"\x89PNG"));
}

#[test]
fn an_out_dir_with_output_is_refused_unless_overwritten_and_leftovers_are_cleared() {
    let tmp = scratch("out-again");
    let dir = tmp.path();
    let input = dir.join("lines.txt");
    std::fs::write(&input, "one\ntwo\n").unwrap();
    let out_dir = dir.join("out");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "uppercase",
            "--source",
            Box::leak(file_arg(&input).into_boxed_str()),
            "--mode",
            "batch",
            "--out",
            out_dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        caudal(&args)
    };
    let lines = || {
        let mut all: Vec<String> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .flat_map(|p| {
                std::fs::read_to_string(p)
                    .unwrap()
                    .lines()
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .collect();
        all.sort();
        all
    };
    let first = run(&[]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(lines(), ["ONE", "TWO"]);

    // The same command again would mix two runs and reuse part names: refused, nothing touched.
    let again = run(&[]);
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success());
    assert!(
        said.contains("already holds the output of another run") && said.contains("--overwrite"),
        "{said}"
    );
    assert_eq!(lines(), ["ONE", "TWO"]);

    // A temporary file a killed run left behind is removed at the next start; --overwrite replaces
    // the output.
    let leftover = out_dir.join(".part-00000-000007.txt.tmp");
    std::fs::write(&leftover, "HALF").unwrap();
    let replaced = run(&["--overwrite"]);
    assert!(
        replaced.status.success(),
        "{}",
        String::from_utf8_lossy(&replaced.stderr)
    );
    assert_eq!(lines(), ["ONE", "TWO"]);
    assert!(
        !leftover.exists(),
        "the left-over temporary file is still there"
    );
}

#[test]
fn an_unbounded_run_ends_when_the_reader_of_its_output_goes_away() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};

    let mut child = Command::new(env!("CARGO_BIN_EXE_caudal"))
        .args(["run", "viu-count", "--source", "generator:posts?rate=10000"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then close the pipe, as `caudal run ... | head -1` does.
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("(#VIU, "), "{first}");
    // The run has no end of its own: it must notice the closed pipe (bounded wait, not a timing).
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let Some(status) = child.try_wait().unwrap() else {
        let _ = child.kill();
        panic!("the run went on writing to a closed pipe");
    };
    let output = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!status.success());
    assert!(
        said.contains("its reader has gone, so the run stops"),
        "{said}"
    );
}

#[test]
fn an_interrupted_compare_writes_the_runs_that_finished_and_says_it_is_incomplete() {
    use std::io::{BufRead, BufReader};

    let tmp = scratch("compare-interrupted");
    let dir = tmp.path();
    let mut child = Command::new(env!("CARGO_BIN_EXE_caudal"))
        .args([
            "compare",
            "--rate",
            "20000",
            "--duration",
            "1s",
            "--warmup",
            "100ms",
            "--modes",
            "per-record,batch",
            "--repeat",
            "3",
            "--out",
            dir.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the second run starts, the first has finished: interrupt as Ctrl-C does.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        said.push_str(&line);
        if line.starts_with("[2/6]") {
            break;
        }
        line.clear();
    }
    assert!(said.contains("[2/6]"), "{said}");
    // SAFETY: sending a signal to a child process of ours.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    said.push_str(&rest);
    assert!(!status.success(), "{said}");
    assert!(said.contains("runs finished"), "{said}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    let runs = results["runs"].as_array().unwrap();
    assert!(!runs.is_empty() && runs.len() < 6, "{} runs", runs.len());
    assert!(
        results["incomplete"]
            .as_str()
            .is_some_and(|n| n.contains(&format!("{} of 6 runs finished", runs.len()))),
        "{}",
        results["incomplete"]
    );
    assert_eq!(results["modes"][0]["mode"], "per-record");
}

#[test]
fn sigterm_stops_a_run_politely_and_its_output_is_committed() {
    use std::io::{BufRead, BufReader};

    let tmp = scratch("sigterm-plain");
    let dir = tmp.path();
    let out_dir = dir.join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_caudal"))
        .args([
            "run",
            "uppercase",
            "--source",
            "generator:posts?rate=20000",
            "--out",
            out_dir.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once it has written a part file it is surely running; then stop it as systemd would.
    while caudal::sink::file::part_files(&out_dir).unwrap().is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended by itself"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: sending a signal to a child process of ours.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let mut said = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        said.push_str(&line.unwrap());
        said.push('\n');
    }
    assert!(child.wait().unwrap().success(), "{said}");
    // The report is written, and says exactly what the committed files hold.
    let written: usize = said
        .lines()
        .find_map(|l| l.trim().strip_prefix("sink output: "))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no report: {said}"));
    let committed: usize = caudal::sink::file::part_files(&out_dir)
        .unwrap()
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap().lines().count())
        .sum();
    assert!(written > 0);
    assert_eq!(committed, written, "{said}");
    let hidden: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.starts_with('.').then_some(name)
        })
        .collect();
    assert!(hidden.is_empty(), "left behind: {hidden:?}");
}

#[test]
fn keys_skew_and_disorder_change_the_workload_and_every_mode_still_agrees() {
    let run = |extra: &[&str], name: &str| -> serde_json::Value {
        let mut args = vec![
            "compare",
            "--workload",
            "tumbling",
            "--window",
            "100ms",
            "--rate",
            "20000",
            "--duration",
            "500ms",
            "--warmup",
            "100ms",
            "--modes",
            "per-record,micro-batch:50ms,batch",
            "--repeat",
            "1",
            "--json",
            "--out",
        ];
        let out_tmp = scratch(name);
        let out_dir = out_tmp.path();
        args.push(out_dir.to_str().unwrap());
        args.extend_from_slice(extra);
        let out = caudal(&args);
        assert!(
            out.status.success(),
            "{extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let own = run(&[], "keys-own");
    let many = run(
        &["--keys", "5000", "--skew", "zipf:1.1", "--disorder", "30ms"],
        "keys-zipf",
    );
    let config = &many["config"];
    assert_eq!(config["keys"], 5000);
    assert_eq!(config["skew"], "zipf:1.1");
    assert_eq!(config["disorder_s"], 0.03);
    assert!(many["command"]
        .as_str()
        .unwrap()
        .contains("--keys 5000 --skew zipf:1.1 --disorder 30ms"));
    let count = |r: &serde_json::Value| r["modes"][0]["results"]["count"].as_u64().unwrap();
    // 16 hashtags make at most 16 results a window; thousands of keys make many more.
    assert!(
        count(&many) > 4 * count(&own),
        "{} vs {}",
        count(&many),
        count(&own)
    );
    let modes = many["modes"].as_array().unwrap();
    assert!(modes.iter().all(|m| m["results"] == modes[0]["results"]));
    for (args, expected) in [
        (&["--skew", "zipf:1.1"][..], "needs --keys"),
        (&["--keys", "10", "--skew", "zipf:0"][..], "zipf:1.1"),
        (&["--keys", "0"][..], "at least one key"),
    ] {
        let mut all = vec!["compare", "--workload", "tumbling", "--duration", "1s"];
        all.extend_from_slice(args);
        let out = caudal(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(expected),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn spark_seed_offsets_the_seeds_of_the_models_repetitions_and_is_recorded() {
    let out_tmp = scratch("spark-seed");
    let out_dir = out_tmp.path();
    let out = caudal(&[
        "compare",
        "--workload",
        "sliding",
        "--window",
        "200ms",
        "--slide",
        "50ms",
        "--rate",
        "10000",
        "--duration",
        "300ms",
        "--warmup",
        "100ms",
        "--modes",
        "micro-batch:50ms:spark,micro-batch:50ms",
        "--spark-seed",
        "7",
        "--repeat",
        "2",
        "--json",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["config"]["spark_seed"], 7);
    assert!(report["command"]
        .as_str()
        .unwrap()
        .contains("--spark-seed 7"));
    // Repetition R of the model draws from 7 + R; the plain micro-batch mode has no model.
    let seeds: Vec<(u64, u64, Option<u64>)> = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["repetition"].as_u64().unwrap(),
                r["mode_index"].as_u64().unwrap(),
                r["spark_seed"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        seeds,
        vec![(0, 0, Some(7)), (0, 1, None), (1, 0, Some(8)), (1, 1, None)]
    );
}
