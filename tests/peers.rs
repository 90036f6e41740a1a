//! `caudal compare --peers`: real Spark Streaming and real Flink beside Caudal on the same records.
//!
//! The tests install the peers themselves (`scripts/setup-peers.sh`: pyspark and apache-flink from
//! PyPI, a JDK from the system's packages if missing; cached under ~/.cache/caudal-peers, so only the
//! first run downloads), run them on loopback, and check that every result that is the same
//! computation as Caudal's is equal to Caudal's. They run one at a time: each peer is a JVM, and the
//! machine has two cores.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

/// One peer run at a time, after one set-up.
fn peers_ready() -> std::sync::MutexGuard<'static, ()> {
    static SETUP: OnceLock<()> = OnceLock::new();
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    SETUP.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/setup-peers.sh");
        let status = Command::new("bash")
            .arg(script)
            .status()
            .expect("bash runs");
        assert!(status.success(), "scripts/setup-peers.sh failed");
    });
    guard
}

/// Runs `caudal compare ARGS --json --out OUT` with a temporary directory of its own, and checks
/// that a run that succeeded left nothing there: the peers' files (Spark's checkpoints and block
/// manager, PySpark's, Flink's mini-cluster) and the lab's own go when the run ends.
fn compare(args: &[&str], out: &Path) -> Output {
    let tmp = out.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("a temporary directory");
    let run = Command::new(env!("CARGO_BIN_EXE_caudal"))
        .arg("compare")
        .args(args)
        .args(["--json", "--out"])
        .arg(out)
        .env("TMPDIR", &tmp)
        .output()
        .expect("caudal runs");
    if run.status.success() {
        let left: Vec<_> = std::fs::read_dir(&tmp)
            .expect("the temporary directory is there")
            .map(|entry| entry.expect("an entry").file_name())
            .collect();
        assert!(
            left.is_empty(),
            "caudal compare {args:?} left {left:?} in its temporary directory"
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
    run
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("caudal-peers-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs a comparison and returns its JSON report's modes; fails with caudal's own words if it failed.
fn modes_of(args: &[&str], name: &str) -> Vec<Value> {
    let out = scratch(name);
    let run = compare(args, &out);
    assert!(
        run.status.success(),
        "caudal compare {args:?} failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_slice(&run.stdout).expect("the report is JSON");
    let _ = std::fs::remove_dir_all(&out);
    report["modes"].as_array().expect("modes").clone()
}

fn mode<'a>(modes: &'a [Value], name: &str) -> &'a Value {
    modes
        .iter()
        .find(|m| m["mode"] == name)
        .unwrap_or_else(|| panic!("no {name} in {modes:?}"))
}

#[test]
fn flink_gives_caudals_results_on_every_workload_it_has() {
    let _peers = peers_ready();
    for (workload, extra) in [
        ("filter", &[][..]),
        ("keyed-count", &[][..]),
        ("tumbling", &["--window", "500ms"][..]),
        // Out of order, on 500 Zipf-drawn keys: Flink's bounded out-of-orderness watermark and
        // Caudal's must close the same windows with the same records.
        (
            "tumbling",
            &[
                "--window",
                "200ms",
                "--disorder",
                "50ms",
                "--keys",
                "500",
                "--skew",
                "zipf:1.1",
            ][..],
        ),
        ("sliding", &["--window", "1s", "--slide", "250ms"][..]),
    ] {
        let mut args = vec![
            "--workload",
            workload,
            "--modes",
            "per-record",
            "--peers",
            "flink",
            "--rate",
            "2000",
            "--duration",
            "2s",
            "--warmup",
            "1s",
            "--repeat",
            "1",
        ];
        args.extend_from_slice(extra);
        let modes = modes_of(&args, &format!("{workload}-{}", extra.len()));
        let (caudal, flink) = (mode(&modes, "per-record"), mode(&modes, "flink"));
        assert_eq!(flink["comparable"], true, "{workload}");
        assert_eq!(flink["results"], caudal["results"], "{workload}");
        assert!(
            caudal["results"]["count"].as_u64().unwrap() > 0,
            "{workload}: no results"
        );
        assert_eq!(
            flink["drained_results"], caudal["drained_results"],
            "{workload}"
        );
        assert!(
            flink["version"]
                .as_str()
                .is_some_and(|v| v.starts_with("flink 1.20")),
            "{workload}: {}",
            flink["version"]
        );
        assert!(flink["latency_us"]["p50"].as_f64().unwrap() > 0.0);
    }
}

/// `workload` with 500 ms micro-batches, beside Spark `peers` (at 500 ms too).
fn spark_run(workload: &str, peers: &str) -> Vec<Value> {
    let args = [
        "--workload",
        workload,
        "--modes",
        "per-record,micro-batch:500ms",
        "--peers",
        peers,
        "--rate",
        "2000",
        "--duration",
        "3s",
        "--warmup",
        "1s",
        "--repeat",
        "1",
    ];
    modes_of(&args, &format!("spark-{workload}"))
}

#[test]
fn spark_gives_caudals_per_record_results_and_reports_its_processing_time_windows() {
    let _peers = peers_ready();
    // One updated count per post, through updateStateByKey, on the JVM and in PySpark: the same
    // results as Caudal's.
    let modes = spark_run("keyed-count", "spark,pyspark");
    let caudal = mode(&modes, "per-record");
    for name in ["spark", "pyspark"] {
        let spark = mode(&modes, name);
        assert_eq!(spark["batch_interval_ms"], 500, "{name}");
        assert_eq!(spark["comparable"], true, "{name}");
        assert_eq!(spark["results"], caudal["results"], "{name}");
        assert!(
            spark["version"]
                .as_str()
                .is_some_and(|v| v.starts_with("spark 3.5")),
            "{name}"
        );
        // A batch result waits at least for its batch boundary: on average half an interval.
        assert!(
            spark["latency_us"]["p50"].as_f64().unwrap() > 50_000.0,
            "{name}"
        );
    }

    // Spark's windows are of processing time: reported, not checked against Caudal's.
    let modes = spark_run("tumbling", "spark");
    let spark = mode(&modes, "spark");
    assert_eq!(spark["comparable"], false);
    assert!(spark["results"]["count"].as_u64().unwrap() > 0);
    assert!(spark["latency_us"]["p50"].as_f64().unwrap() > 0.0);
}

#[test]
fn calibrating_against_real_spark_writes_a_model_that_compare_reads() {
    let _peers = peers_ready();
    let out = scratch("calibrate");
    // Spark on windows at 500 ms, at 4,000/s and 400/s: a fit of its batches from its start.
    let run = Command::new(env!("CARGO_BIN_EXE_caudal"))
        .args(["compare", "--calibrate", "spark", "--workload", "sliding"])
        .args([
            "--window",
            "1s",
            "--slide",
            "500ms",
            "--modes",
            "micro-batch:500ms",
        ])
        .args([
            "--rate",
            "4000",
            "--duration",
            "4s",
            "--warmup",
            "2s",
            "--repeat",
            "1",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("caudal runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let saved: Value =
        serde_json::from_slice(&std::fs::read(out.join("spark-model.json")).unwrap()).unwrap();
    // Two runs of about 15 batches each (from Spark's start to the end of the load), all kept.
    let batches = saved["batches"].as_u64().unwrap();
    assert!((16..=60).contains(&batches), "{saved}");
    assert_eq!(saved["block_ms"], 200);
    // Spark's jobs take time, and its windows' results come after them: both are measured.
    assert!(saved["fixed_ms"].as_f64().unwrap() + saved["per_block_ms"].as_f64().unwrap() > 1.0);
    assert!(saved["output_ms"].as_f64().is_some(), "{saved}");
    assert!(saved["spark"].as_str().unwrap().starts_with("spark 3.5"));
    // The comparison runs the model it describes, and says so under the table.
    let modes = modes_of(
        &[
            "--workload",
            "sliding",
            "--window",
            "1s",
            "--slide",
            "500ms",
            "--modes",
            "micro-batch:500ms:spark",
            "--rate",
            "2000",
            "--duration",
            "2s",
            "--warmup",
            "1s",
            "--repeat",
            "1",
            "--spark-model",
            out.join("spark-model.json").to_str().unwrap(),
        ],
        "calibrated",
    );
    let model = mode(&modes, "micro-batch-spark");
    assert!(model["results"]["count"].as_u64().unwrap() > 0, "{model}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn peers_that_cannot_run_the_comparison_say_why_before_anything_runs() {
    let none = scratch("none");
    let cases: [(&[&str], &str); 4] = [
        (
            &["--workload", "session", "--peers", "flink"],
            "use --workload filter, keyed-count, tumbling or sliding",
        ),
        (
            &[
                "--workload",
                "sliding",
                "--modes",
                "micro-batch:500ms",
                "--window",
                "1s",
                "--slide",
                "100ms",
                "--peers",
                "spark",
            ],
            "multiples of its batch interval",
        ),
        (
            &["--workload", "filter", "--peers", "spark"],
            "run scripts/setup-peers.sh",
        ),
        (
            &[
                "--workload",
                "sliding",
                "--window",
                "1s",
                "--slide",
                "300ms",
            ],
            "--slide 300ms must divide --window 1s",
        ),
    ];
    for (args, expected) in cases {
        let run = Command::new(env!("CARGO_BIN_EXE_caudal"))
            .arg("compare")
            .args(args)
            .args(["--rate", "1000", "--duration", "1s", "--out"])
            .arg(&none)
            .env("CAUDAL_PEERS", &none)
            .output()
            .expect("caudal runs");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{args:?} ran");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("repetition 1"),
            "{args:?} started a run: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&none);
}

#[test]
fn flinks_own_nexmark_suite_runs_a_query_and_reports_its_time() {
    // The harness of scripts/nexmark-vs-flink.sh: the nexmark-flink suite's generator, connector
    // and SQL (peers/flink/nexmark) compiled against the installed Flink, one query run to its end.
    let _one = peers_ready();
    let launcher = caudal::compare::peer::peers_dir().join("flink/nexmark");
    let tmp = scratch("nexmark-tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let run = Command::new(&launcher)
        .args(["q7", "100000", "10000000"])
        .env("TMPDIR", &tmp)
        .output()
        .expect("the launcher runs");
    assert!(
        run.status.success(),
        "Flink's NEXMark q7 failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // Flink's mini-cluster files went with the run.
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    let _ = std::fs::remove_dir_all(&tmp);
    let stdout = String::from_utf8_lossy(&run.stdout);
    let line = stdout.lines().last().expect("a report line");
    let report: Value = serde_json::from_str(line).expect("the report is JSON");
    assert_eq!(report["query"], "q7");
    assert_eq!(report["events"], 100_000);
    assert_eq!(report["flink"], "1.20.5");
    assert!(report["wall_s"].as_f64().unwrap() > 0.0);
    assert!(report["cpu_s"].as_f64().unwrap() > 0.0);
    // q6 is not valid Flink SQL, as the suite says: the driver fails and says why.
    let q6 = Command::new(&launcher)
        .args(["q6", "1000", "10000000"])
        .output()
        .expect("the launcher runs");
    assert!(!q6.status.success());
    assert!(String::from_utf8_lossy(&q6.stderr).contains("ValidationException"));
}

/// The rows of one query in the Flink driver's `--results` output, its changelog applied (+I and +U
/// add a row, -U and -D take one away), as a sorted multiset of JSON texts.
fn flink_rows(output: &str, query: &str) -> Vec<String> {
    let mut bag: std::collections::BTreeMap<String, i64> = Default::default();
    for line in output.lines() {
        let r: Value = serde_json::from_str(line).expect("a result row is JSON");
        if r["query"] != query {
            continue;
        }
        let n = if matches!(r["op"].as_str(), Some("+I" | "+U")) {
            1
        } else {
            -1
        };
        *bag.entry(r["row"].to_string()).or_default() += n;
    }
    let mut rows = Vec::new();
    for (row, n) in bag {
        assert!(
            n >= 0,
            "{query}: Flink retracted a row it never gave: {row}"
        );
        rows.extend(std::iter::repeat_n(row, n as usize));
    }
    rows
}

/// Runs the suite's SQL of `queries` in Flink on the events of `file`; the driver's output.
fn flink_results(file: &Path, queries: &[&str]) -> String {
    let _one = peers_ready();
    let launcher = caudal::compare::peer::peers_dir().join("flink/nexmark");
    let run = Command::new(&launcher)
        .arg("--results")
        .arg(file)
        .arg(queries.join(","))
        .output()
        .expect("the launcher runs");
    assert!(
        run.status.success(),
        "Flink's NEXMark on {} failed:\n{}",
        file.display(),
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stdout).expect("UTF-8")
}

#[test]
fn flinks_nexmark_sql_on_caudals_events_gives_caudals_results() {
    // Caudal's events written as the suite's `datagen` table and read by Flink's filesystem connector
    // (scripts/nexmark-results-vs-flink.sh does the same on more events): 4,000 events at 200 per
    // second of event time, 20 s, so two tumbling windows of 10 s and ten sliding ones.
    use caudal::nexmark::flink::{caudal_rows, datagen_file};
    use caudal::nexmark::Query;
    use caudal::workload::nexmark::NexmarkConfig;
    const EVENTS: u64 = 4_000;
    let config = NexmarkConfig {
        first_rate: 200,
        next_rate: 200,
        ..NexmarkConfig::default()
    };
    let dir = scratch("nexmark-results");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("events.json");
    std::fs::write(&file, datagen_file(&config, EVENTS)).unwrap();
    let queries = ["q0", "q1", "q2", "q3", "q4", "q5", "q7", "q8", "q11"];
    let flink = flink_results(&file, &queries);
    for name in queries {
        let query: Query = name.parse().unwrap();
        let rows = caudal_rows(query, &config, EVENTS);
        let mut caudal: Vec<String> = if query == Query::Q4 {
            // q4 updates each category's average: Flink's final rows are Caudal's latest per category.
            let mut latest = std::collections::BTreeMap::new();
            for row in rows {
                latest.insert(row[0].to_string(), row.to_string());
            }
            latest.into_values().collect()
        } else {
            rows.iter().map(Value::to_string).collect()
        };
        caudal.sort();
        assert!(!caudal.is_empty(), "{name}: no results");
        assert_eq!(flink_rows(&flink, name), caudal, "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flinks_q7_also_gives_a_bid_at_a_windows_end_that_ties_the_windows_highest() {
    // Events made for the edges, through the same file and driver: q7.sql matches a bid to a window's
    // highest price when `B.dateTime BETWEEN window_end - 10 s AND window_end`, both ends included, so
    // a bid at exactly 10 s, in the window [10 s, 20 s), is also the highest of [0, 10 s) when it ties
    // that window's price; Caudal's q7 puts each bid in its one window (Beam's Query7). The edges the
    // two agree on: a bidder's bids exactly 10 s apart are one q11 session (Flink's sessions merge
    // when they touch), and a bid at an auction's expiry counts for q4 (BETWEEN ... AND A.expires).
    use caudal::nexmark::flink::{caudal_rows_on, datagen_json};
    use caudal::nexmark::Query;
    use caudal::workload::nexmark::{Auction, Bid, Channel, NexmarkEvent};
    let bid = |auction, bidder, price, date_time| {
        NexmarkEvent::Bid(Bid {
            auction,
            bidder,
            price,
            date_time,
            channel: Channel::Hot(3),
        })
    };
    let events = [
        NexmarkEvent::Auction(Auction {
            id: 1000,
            initial_bid: 1,
            reserve: 1,
            date_time: 0,
            expires: 5_000,
            seller: 1000,
            category: 10,
        }),
        bid(1000, 2000, 100, 5_000),
        bid(1001, 2001, 100, 10_000),
        bid(1001, 2002, 50, 15_000),
        bid(1001, 2001, 1, 20_000),
        bid(1001, 2003, 7, 30_000),
    ];
    let dir = scratch("nexmark-edges");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("events.json");
    let lines: String = events
        .iter()
        .map(|e| format!("{}\n", datagen_json(e)))
        .collect();
    std::fs::write(&file, lines).unwrap();
    let flink = flink_results(&file, &["q7", "q11", "q4"]);
    let caudal = |query: Query| {
        let mut rows: Vec<String> = caudal_rows_on(query, &events)
            .iter()
            .map(Value::to_string)
            .collect();
        rows.sort();
        rows
    };
    let at_the_end = "[1001,100,2001,10000,null]".to_string();
    let mut q7 = caudal(Query::Q7);
    assert_eq!(q7.iter().filter(|r| **r == at_the_end).count(), 1);
    q7.push(at_the_end);
    q7.sort();
    assert_eq!(
        flink_rows(&flink, "q7"),
        q7,
        "q7: Caudal's rows and the tie"
    );
    let q11 = caudal(Query::Q11);
    assert!(q11.contains(&"[2001,2,10000,30000]".to_string()), "{q11:?}");
    assert_eq!(flink_rows(&flink, "q11"), q11);
    assert_eq!(flink_rows(&flink, "q4"), vec!["[10,100]".to_string()]);
    assert_eq!(caudal(Query::Q4), vec!["[10,100]".to_string()]);
    let _ = std::fs::remove_dir_all(&dir);
}
