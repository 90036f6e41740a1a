//! The socket source against a real TCP server on loopback (the lecture's `nc -lk 9999` example).

use std::io::Write;
use std::net::TcpListener;
use std::process::Command;
use std::thread;
use std::time::Duration;

use caudal::prelude::*;
use caudal::source::socket::{SocketOptions, SocketSource};

/// Serves `payload` to the first client on a fresh loopback port, then closes; returns the port.
fn serve_once(listener: TcpListener, payload: &'static [u8]) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("a client connects");
        // Write in pieces, as a person typing into netcat would.
        for chunk in payload.chunks(7) {
            conn.write_all(chunk).unwrap();
            conn.flush().unwrap();
            thread::sleep(Duration::from_millis(2));
        }
    })
}

const LINES: &[u8] = b"hello world\nstreaming is fun\r\n\xff\xfe broken\nlast line without newline";

fn uppercase_over_socket(
    port: u16,
    mode: &str,
    options: SocketOptions,
) -> (Vec<String>, RunReport) {
    let out = Collect::new();
    let sink = out.clone();
    let source = move |w: WorkerInfo| -> Box<dyn Source<Item = String>> {
        assert_eq!(w.index, 0);
        Box::new(SocketSource::new(
            format!("127.0.0.1:{port}"),
            options.clone(),
        ))
    };
    let config = RunConfig::new(mode.parse().unwrap()).watermark(WatermarkStrategy::ProcessingTime);
    let report = caudal::run(config, move |df| {
        let lines = df.source("socket", &source);
        df.sink("out", caudal::builtin::uppercase(lines), &sink);
    })
    .unwrap();
    let mut got: Vec<String> = out.take().into_iter().map(|e| e.data).collect();
    got.sort();
    (got, report)
}

use caudal::RunReport;

fn expected() -> Vec<String> {
    let mut v = vec![
        "HELLO WORLD".to_string(),
        "STREAMING IS FUN".to_string(),
        "LAST LINE WITHOUT NEWLINE".to_string(),
    ];
    v.sort();
    v
}

#[test]
fn reads_lines_from_a_tcp_server_in_every_mode() {
    for mode in ["per-record", "micro-batch:20ms", "batch"] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = serve_once(listener, LINES);
        let (got, report) = uppercase_over_socket(port, mode, SocketOptions::default());
        server.join().unwrap();
        assert_eq!(got, expected(), "mode {mode}");
        // The line that is not UTF-8 is counted and reported, not dropped silently.
        assert_eq!(report.dead_letters, 1, "mode {mode}");
        assert!(report.dead_letter_samples[0].reason.contains("UTF-8"));
        assert_eq!(report.sources[0].records, 3);
    }
}

#[test]
fn retries_until_the_server_comes_up() {
    // Find a free port, then leave it closed for a while: the first attempts are refused.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = thread::spawn(move || {
        thread::sleep(Duration::from_millis(400));
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        serve_once(listener, LINES).join().unwrap();
    });
    let options = SocketOptions {
        initial_backoff: Duration::from_millis(50),
        ..SocketOptions::default()
    };
    let (got, _) = uppercase_over_socket(port, "per-record", options);
    server.join().unwrap();
    assert_eq!(got, expected());
}

#[test]
fn gives_up_after_max_attempts_and_says_why() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let options = SocketOptions {
        initial_backoff: Duration::from_millis(10),
        max_attempts: Some(3),
        ..SocketOptions::default()
    };
    let (got, report) = uppercase_over_socket(port, "per-record", options);
    assert!(got.is_empty());
    assert_eq!(report.dead_letters, 1);
    let reason = &report.dead_letter_samples[0].reason;
    assert!(
        reason.contains(&format!("127.0.0.1:{port}")) && reason.contains("3 attempts"),
        "{reason}"
    );
}

#[test]
fn the_cli_upper_cases_a_socket_stream_in_micro_batches() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = serve_once(listener, LINES);
    let output = Command::new(env!("CARGO_BIN_EXE_caudal"))
        .args([
            "run",
            "uppercase",
            "--source",
            &format!("socket://127.0.0.1:{port}"),
            "--mode",
            "micro-batch:50ms",
        ])
        .output()
        .unwrap();
    server.join().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    lines.sort();
    assert_eq!(lines, expected());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("1 bad input(s) skipped"), "{stderr}");
}

#[test]
fn a_server_that_drops_the_connection_ends_the_input() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || drop(listener.accept().unwrap()));
    let (got, report) = uppercase_over_socket(port, "per-record", SocketOptions::default());
    server.join().unwrap();
    assert!(got.is_empty());
    assert_eq!(report.dead_letters, 0);
}

#[test]
fn a_line_longer_than_the_bound_goes_to_the_dead_letters_and_reading_goes_on() {
    // A peer that sends 3 MiB without a newline (as `nc < /dev/zero` would, without end): the source
    // keeps no more than the bound of it.
    let mut payload = b"first\n".to_vec();
    payload.extend(std::iter::repeat_n(b'z', 3 << 20));
    payload.extend_from_slice(b"\nsecond\n");
    let payload: &'static [u8] = Box::leak(payload.into_boxed_slice());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.write_all(payload).unwrap();
    });
    let options = SocketOptions {
        max_line_bytes: 1000,
        ..SocketOptions::default()
    };
    let (got, report) = uppercase_over_socket(port, "per-record", options);
    server.join().unwrap();
    assert_eq!(got, vec!["FIRST".to_string(), "SECOND".to_string()]);
    assert_eq!(report.dead_letters, 1);
    let letter = &report.dead_letter_samples[0];
    assert!(
        letter.reason.contains(&format!("{} bytes", (3 << 20) + 1))
            && letter.reason.contains("1000 bytes"),
        "{}",
        letter.reason
    );
    assert!(letter.input.starts_with("zzzz") && letter.input.len() < 300);
}

/// The resident memory of process `pid`, in bytes (Linux).
#[cfg(target_os = "linux")]
fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Runs `caudal run uppercase` against a peer that sends `chunk` over and over for `seconds`, with
/// standard output read or never read; returns the highest resident memory seen.
#[cfg(target_os = "linux")]
fn peak_under_flood(chunk: &'static [u8], read_stdout: bool, seconds: u64) -> u64 {
    use std::process::Stdio;
    use std::time::Instant;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let flood = thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let until = Instant::now() + Duration::from_secs(seconds);
        while Instant::now() < until && conn.write_all(chunk).is_ok() {}
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_caudal"))
        .args(["run", "uppercase", "--source"])
        .arg(format!("socket://127.0.0.1:{port}"))
        .stdout(if read_stdout {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Holding the pipe without reading it blocks the run's output once the pipe is full.
    let _unread = child.stdout.take();
    let mut peak = 0;
    let until = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < until {
        peak = peak.max(resident_bytes(child.id()).unwrap_or(0));
        thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    flood.join().unwrap();
    peak
}

/// A bound far below what the unbounded versions reached (gigabytes within seconds), far above what
/// the bounded ones use (about 10 MB).
#[cfg(target_os = "linux")]
const FLOOD_BOUND: u64 = 256 << 20;

#[test]
#[cfg(target_os = "linux")]
fn a_peer_sending_without_newlines_does_not_grow_memory() {
    static ZEROS: [u8; 1 << 16] = [0; 1 << 16];
    let peak = peak_under_flood(&ZEROS, true, 3);
    assert!(
        peak > 0 && peak < FLOOD_BOUND,
        "peak resident memory {peak} bytes"
    );
}

#[test]
#[cfg(target_os = "linux")]
fn a_flooding_peer_with_output_never_read_does_not_grow_memory() {
    static LINES: std::sync::LazyLock<Vec<u8>> =
        std::sync::LazyLock::new(|| b"hello world line\n".repeat(4096));
    let peak = peak_under_flood(LINES.as_slice(), false, 3);
    assert!(
        peak > 0 && peak < FLOOD_BOUND,
        "peak resident memory {peak} bytes"
    );
}
