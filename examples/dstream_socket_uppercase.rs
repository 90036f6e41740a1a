//! The lecture's first Spark Streaming program, ported line for line to Caudal's DStream layer:
//!
//! ```python
//! ssc = StreamingContext(sc, 10)
//! lines = ssc.socketTextStream("localhost", 9999)
//! lines.map(lambda line: line.upper()).pprint()
//! ssc.start(); ssc.awaitTermination()
//! ```
//!
//! In one terminal:    nc -lk 9999
//! In another:         cargo run --release --example dstream_socket_uppercase
//! Type lines into netcat; every 10 seconds the batch's lines are printed upper-cased, under Spark's
//! `pprint` header. Ctrl-C stops it.
//!
//! `-- --demo` runs without netcat: the example serves a few lines itself on a loopback port, uses
//! 1 s batches and stops after three batches.

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

use caudal::dstream::StreamingContext;

fn main() {
    let demo = std::env::args().any(|a| a == "--demo");
    let (host, mut port, mut interval) = ("localhost".to_string(), 9999, Duration::from_secs(10));
    if demo {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        port = listener.local_addr().expect("an address").port();
        interval = Duration::from_secs(1);
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("the stream connects");
            for line in ["to be or not to be", "that is the question"] {
                let _ = writeln!(conn, "{line}");
            }
            std::thread::sleep(Duration::from_secs(10));
        });
    }

    let ssc = StreamingContext::new(interval);
    let (h, p) = (host.clone(), port);
    ssc.start(move |ssc| {
        let lines = ssc.socket_text_stream(&h, p);
        lines.map(|line| line.to_uppercase()).pprint(10);
    })
    .expect("the program starts");
    eprintln!("reading lines from {host}:{port} in batches of {interval:?}");
    if demo {
        let _ = ssc.await_termination_or_timeout(interval * 3);
        ssc.stop(true).expect("a clean stop");
    } else {
        ssc.await_termination().expect("the job runs");
    }
}
