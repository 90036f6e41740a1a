//! Scale-out uses timely's own cluster mode: a run on 2 processes on loopback gives the same results as
//! a run on one worker (DESIGN §8).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;
use common::loopback_hostfile;

fn caudal(args: &[String]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_caudal"));
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// Waits for `children`, killing them all if they have not finished within `limit` (a process whose peer
/// never comes would wait forever). Their output is read while they run, so a full pipe never blocks them.
fn finish(children: Vec<Child>, limit: Duration) {
    let pids: Vec<u32> = children.iter().map(Child::id).collect();
    let (tx, rx) = mpsc::channel();
    for child in children {
        let tx = tx.clone();
        std::thread::spawn(move || tx.send(child.wait_with_output()).unwrap());
    }
    let deadline = Instant::now() + limit;
    for _ in 0..pids.len() {
        let Ok(out) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
            for pid in &pids {
                // SAFETY: sending a signal to a child process of ours.
                unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
            }
            panic!("the cluster processes did not finish within {limit:?}");
        };
        let out = out.unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `caudal ARGS` started as process 0 and process 1 of a 2-process cluster on `hostfile`.
fn two_processes(args: &[String], hostfile: &Path) -> Vec<Child> {
    (0..2)
        .map(|p| {
            let mut args = args.to_vec();
            args.extend(
                [
                    "--processes",
                    "2",
                    "--process",
                    &p.to_string(),
                    "--hostfile",
                    hostfile.to_str().unwrap(),
                ]
                .map(String::from),
            );
            caudal(&args).spawn().unwrap()
        })
        .collect()
}

/// The sorted lines of every part file in `dir`.
fn results_in(dir: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .flat_map(|text| text.lines().map(String::from).collect::<Vec<_>>())
        .collect();
    lines.sort();
    lines
}

/// Runs `pipeline` on one worker, then on two processes, each writing part files (timely prints its
/// connection progress on standard output in cluster mode, so results go to files); returns both
/// sets of results.
fn run_pipeline(pipeline: &str, source: &str) -> (Vec<String>, Vec<String>) {
    let dir =
        std::env::temp_dir().join(format!("caudal-cluster-{}-{pipeline}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let args = |out: &Path| -> Vec<String> {
        [
            "run",
            pipeline,
            "--source",
            source,
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };

    let single_dir = dir.join("single");
    finish(
        vec![caudal(&args(&single_dir)).spawn().unwrap()],
        Duration::from_secs(60),
    );

    let hostfile = loopback_hostfile(&dir, 2);
    let cluster_dir = dir.join("cluster");
    finish(
        two_processes(&args(&cluster_dir), &hostfile),
        Duration::from_secs(60),
    );
    let results = (results_in(&single_dir), results_in(&cluster_dir));
    std::fs::remove_dir_all(&dir).unwrap();
    results
}

#[test]
fn two_processes_give_the_same_results_as_one() {
    for (pipeline, source) in [
        ("uppercase", "generator:posts?limit=3000"),
        ("viu-count", "generator:posts?limit=3000"),
        // NEXMark: hot items over sliding windows, and running averages that depend on the order
        // in which the two processes' closed auctions are folded.
        ("nexmark:q5", "generator:nexmark?limit=200000"),
        ("nexmark:q4", "generator:nexmark?limit=200000"),
    ] {
        let (single, both) = run_pipeline(pipeline, source);
        assert!(!single.is_empty());
        if both != single {
            let missing: Vec<_> = single
                .iter()
                .filter(|l| !both.contains(l))
                .take(5)
                .collect();
            let extra: Vec<_> = both
                .iter()
                .filter(|l| !single.contains(l))
                .take(5)
                .collect();
            panic!("{pipeline}: {} results on one worker, {} on two processes; missing {missing:?}, extra {extra:?}", single.len(), both.len());
        }
    }
}

#[test]
fn dstream_specs_on_two_processes_give_sparks_recorded_output() {
    // Every lecture example, its partitions over 2 processes of 2 workers each; the first process
    // checks each spec's output against the output Spark gave (`--check`), the second only works.
    let dir = std::env::temp_dir().join(format!("caudal-cluster-dstream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hostfile = loopback_hostfile(&dir, 2);
    let specs: Vec<String> = common::lecture_specs()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(specs.len(), 4);
    let mut args: Vec<String> = vec!["dstream".into()];
    args.extend(specs);
    args.extend(["--check", "--workers", "2"].map(String::from));
    // `finish` fails unless both succeed, and the first fails on any difference from Spark's output.
    finish(two_processes(&args, &hostfile), Duration::from_secs(120));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_process_whose_peers_never_come_gives_up_with_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("caudal-cluster-alone-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hostfile = loopback_hostfile(&dir, 2);
    let args: Vec<String> = [
        "run",
        "uppercase",
        "--source",
        "generator:posts?limit=10",
        "--processes",
        "2",
        "--process",
        "1",
        "--hostfile",
        hostfile.to_str().unwrap(),
        "--connect-timeout",
        "2s",
    ]
    .map(String::from)
    .to_vec();
    let out = caudal(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("did not all connect within 2s") && stderr.contains("--connect-timeout"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
