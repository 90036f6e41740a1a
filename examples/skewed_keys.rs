//! Flow control under skew: two workers, and every post under one key (0), so that one worker counts all
//! of them (and does some work for each) while the other only reads and forwards.
//!
//! Run with `cargo run --release --example skewed_keys`. It runs the same pipeline twice: with the
//! default exchange budget, where the forwarding worker's source stops reading while the counting
//! worker has more than the budget waiting, and with no budget, where what waits for it grows with the
//! input. For each it prints the most records that waited, how often the sources stopped, and the
//! process's peak resident memory so far (Linux only).
//!
//! With `-- --processes`, the two workers are two processes of one worker each (timely's cluster mode
//! on loopback; the example starts them itself), so that the forwarding worker's records cross to the
//! counting worker's process and only the receiver's acknowledgements (credits) hold its source back.
//! Each process prints its own line.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use caudal::config::Cluster;
use caudal::prelude::*;
use caudal::workload::{Post, Posts};

const POSTS: u64 = 4_000_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => run(None),
        ["--processes"] => start_processes(),
        ["--process", process, hostfile] => run(Some(Cluster {
            processes: 2,
            process: process.parse().expect("a process index"),
            hostfile: Some(PathBuf::from(hostfile)),
            connect_timeout: Duration::from_secs(30),
        })),
        _ => {
            eprintln!("usage: skewed_keys [--processes]");
            std::process::exit(2);
        }
    }
}

/// Starts this example as the two processes of a loopback cluster and waits for both.
fn start_processes() {
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port()
    };
    let hostfile = std::env::temp_dir().join(format!("skewed-keys-{}.hosts", std::process::id()));
    std::fs::write(
        &hostfile,
        format!("127.0.0.1:{}\n127.0.0.1:{}\n", free(), free()),
    )
    .expect("the hostfile is written");
    let me = std::env::current_exe().expect("this program's path");
    let children: Vec<_> = (0..2)
        .map(|process| {
            Command::new(&me)
                .args(["--process", &process.to_string()])
                .arg(&hostfile)
                .spawn()
                .expect("a process starts")
        })
        .collect();
    let failed = children
        .into_iter()
        .map(|mut child| child.wait().expect("a process ends"))
        .filter(|status| !status.success())
        .count();
    let _ = std::fs::remove_file(&hostfile);
    if failed > 0 {
        eprintln!("{failed} of the processes failed");
        std::process::exit(1);
    }
}

/// Runs the pipeline with each budget, on two workers of this process, or as one process of `cluster`.
fn run(cluster: Option<Cluster>) {
    let process = cluster
        .as_ref()
        .map_or(String::new(), |c| format!("process {}: ", c.process));
    for (name, budget) in [
        ("default budget", RunConfig::default().exchange_budget),
        ("no budget", usize::MAX),
    ] {
        // Watermark alignment would hold the forwarding worker back too (the counting worker's own
        // source falls behind in event time): off, to show the exchange budget alone.
        let mut config = RunConfig::default()
            .workers(if cluster.is_some() { 1 } else { 2 })
            .exchange_budget(budget)
            .max_watermark_drift(None);
        config.cluster = cluster.clone();
        let source = GeneratorFactory::new(
            Posts::default(),
            GeneratorConfig {
                limit: Some(POSTS),
                ..Default::default()
            },
        );
        let last = Collect::new();
        let sink = last.clone();
        let started = Instant::now();
        let report = caudal::run(config, move |df| {
            let counts = df
                .source("posts", &source)
                .map(|_: Post| (0u8, ()))
                .running_count()
                .map(|(key, n)| (key, busy(n)))
                .filter(|(_, n)| n % 1_000_000 == 0);
            df.sink("millions", counts, &sink);
        })
        .expect("the pipeline runs");
        let counted = last.take().into_iter().map(|e| e.data.1).max().unwrap_or(0);
        println!(
            "{process}{name:>14}: {counted} posts counted in {:.2} s; at most {} records waited for one \
             worker; sources stopped {} times; peak resident memory so far {}",
            started.elapsed().as_secs_f64(),
            report.exchange_peak,
            report.sources[0].throttled,
            peak_rss().unwrap_or_else(|| "unknown".into()),
        );
    }
}

/// About a microsecond of work that returns `n`.
fn busy(n: u64) -> u64 {
    let mut x = n;
    for _ in 0..300 {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    std::hint::black_box(x);
    n
}

/// The process's peak resident set (`VmHWM`), from `/proc/self/status`.
fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.trim_start_matches("VmHWM:").trim().to_string())
}
