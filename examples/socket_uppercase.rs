//! The lecture's classic socket example: upper-case every line typed into netcat, in 10 s micro-batches.
//!
//! In one terminal:    nc -lk 9999
//! In another:         cargo run --release --example socket_uppercase
//! Type lines into netcat; every 10 seconds Caudal prints the batch's lines upper-cased.
//!
//! Options: `-- HOST:PORT` to read elsewhere, `-- --per-record` to see each line at once instead of
//! per batch, and `-- --demo` to run without netcat: the example then serves a few lines itself on a
//! loopback port, uses 1 s batches and ends when they are read.

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

use caudal::prelude::*;
use caudal::source::socket::{SocketOptions, SocketSource};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let demo = args.iter().any(|a| a == "--demo");
    let per_record = args.iter().any(|a| a == "--per-record");
    let mut address = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "localhost:9999".into());
    let mut interval = Duration::from_secs(10);

    if demo {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        address = listener.local_addr().unwrap().to_string();
        interval = Duration::from_secs(1);
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("the example connects");
            for line in [
                "hello caudal",
                "per-record or micro-batch?",
                "the same results, another latency",
            ] {
                writeln!(conn, "{line}").unwrap();
                std::thread::sleep(Duration::from_millis(400));
            }
        });
    } else {
        eprintln!(
            "reading lines from {address}: start `nc -lk {}` and type into it (Ctrl-C to stop)",
            address.rsplit(':').next().unwrap_or("9999")
        );
    }

    let mode = if per_record {
        ExecutionMode::PerRecord
    } else {
        ExecutionMode::micro_batch(interval)
    };
    let config = RunConfig::new(mode).watermark(WatermarkStrategy::ProcessingTime);
    let source = move |w: WorkerInfo| -> Box<dyn Source<Item = String>> {
        if w.index == 0 {
            Box::new(SocketSource::new(address.clone(), SocketOptions::default()))
        } else {
            Box::new(caudal::source::Empty::default())
        }
    };
    let report = caudal::run(config, move |df| {
        let lines = df.source("socket", &source);
        let upper = lines.map(|line| line.to_uppercase());
        df.sink("stdout", upper, &Print::new(Format::text()));
    })
    .expect("the pipeline runs");
    eprint!("{report}");
}
