//! Scale-out uses timely's own cluster mode: a run on 2 processes on loopback gives the same results as
//! a run on one worker (DESIGN §8).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn caudal(args: &[String]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_caudal"));
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Collects the sorted output lines of `children`, killing them all if they have not finished within
/// `limit` (a process whose peer never comes would wait forever). Output is read while they run, so a
/// full pipe never blocks them.
fn finish(children: Vec<Child>, limit: Duration) -> Vec<String> {
    let pids: Vec<u32> = children.iter().map(Child::id).collect();
    let (tx, rx) = mpsc::channel();
    for child in children {
        let tx = tx.clone();
        std::thread::spawn(move || tx.send(child.wait_with_output()).unwrap());
    }
    let deadline = Instant::now() + limit;
    let mut lines = Vec::new();
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
        // Timely itself prints its connection progress on standard output while process 0 waits.
        let results = String::from_utf8(out.stdout).unwrap();
        lines.extend(
            results
                .lines()
                .filter(|l| !l.starts_with("awaiting connections"))
                .map(String::from),
        );
    }
    lines.sort();
    lines
}

fn run_pipeline(pipeline: &str, source: &str) -> (Vec<String>, Vec<String>) {
    let base: Vec<String> = ["run", pipeline, "--source", source]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let single = finish(
        vec![caudal(&base).spawn().unwrap()],
        Duration::from_secs(60),
    );

    let dir =
        std::env::temp_dir().join(format!("caudal-cluster-{}-{pipeline}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hostfile = dir.join("hosts.txt");
    std::fs::write(
        &hostfile,
        format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port()),
    )
    .unwrap();
    let children: Vec<Child> = (0..2)
        .map(|p| {
            let mut args = base.clone();
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
        .collect();
    let both = finish(children, Duration::from_secs(60));
    std::fs::remove_dir_all(&dir).unwrap();
    (single, both)
}

#[test]
fn two_processes_give_the_same_results_as_one() {
    for (pipeline, source) in [
        ("uppercase", "generator:posts?limit=3000"),
        ("viu-count", "generator:posts?limit=3000"),
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
