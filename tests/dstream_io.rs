//! DStream input from the outside world on the system clock: a TCP text socket fed by a real peer on
//! loopback (the lecture's `nc -lk 9999` example), and a directory of text files.

use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use caudal::dstream::StreamingContext;

/// Batch → its partitions, as a stream produced them.
type Seen = Arc<Mutex<Vec<(u64, Vec<Vec<String>>)>>>;

/// Waits (up to a generous deadline, so that a slow machine does not fail it) until `done` holds.
fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn lines(seen: &Seen) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .flat_map(|(_, parts)| parts.concat())
        .collect()
}

#[test]
fn socket_text_stream_reads_lines_from_a_real_tcp_peer() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent: Vec<String> = (0..200)
        .map(|i| format!("line {i} of the lecture"))
        .collect();
    let to_send = sent.clone();
    let (hang_up, hung_up) = std::sync::mpsc::channel::<()>();
    let peer = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        for chunk in to_send.chunks(50) {
            for line in chunk {
                writeln!(conn, "{line}").unwrap();
            }
            conn.flush().unwrap();
            std::thread::sleep(Duration::from_millis(30));
        }
        // Keep the connection open until the test has read everything.
        let _ = hung_up.recv();
    });

    let ssc = StreamingContext::new(Duration::from_millis(50));
    let seen: Seen = Arc::default();
    let out = seen.clone();
    ssc.start(move |ssc| {
        ssc.socket_text_stream("127.0.0.1", port)
            .map(|line| line.to_uppercase())
            .foreach_rdd(move |time, rdd| {
                let parts = rdd.partitions().map(|p| p.to_vec()).collect();
                out.lock().unwrap().push((time.batch, parts));
            });
    })
    .unwrap();
    wait_for("every line", || lines(&seen).len() >= sent.len());
    ssc.stop(true).unwrap();
    let _ = hang_up.send(());
    peer.join().unwrap();

    let expected: Vec<String> = sent.iter().map(|l| l.to_uppercase()).collect();
    assert_eq!(lines(&seen), expected, "every line once, in order");
    let seen = seen.lock().unwrap();
    // A batch per interval, each with the lines of its interval: 50 ms batches lie within one 200 ms
    // block, so in one partition (none if none came).
    for (i, (batch, parts)) in seen.iter().enumerate() {
        assert_eq!(*batch, i as u64);
        assert!(parts.len() <= 1 && parts.iter().all(|p| !p.is_empty()));
    }
}

#[test]
fn a_socket_streams_batch_has_a_partition_per_block_its_receiver_cut() {
    // Bursts of lines 700 ms apart: two bursts never share a 200 ms block, and a 2 s batch receives
    // two or three of them, so it has as many partitions (more where a burst straddles a block's end).
    // Real PySpark 3.5.9 gives the same shape (bursts 450 ms apart into 1 s batches: a partition per
    // burst, two per batch).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let bursts: Vec<Vec<String>> = (0..6)
        .map(|b| (0..20).map(|i| format!("burst {b} line {i}")).collect())
        .collect();
    let to_send = bursts.clone();
    let (hang_up, hung_up) = std::sync::mpsc::channel::<()>();
    let peer = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        for burst in &to_send {
            conn.write_all(format!("{}\n", burst.join("\n")).as_bytes())
                .unwrap();
            conn.flush().unwrap();
            std::thread::sleep(Duration::from_millis(700));
        }
        let _ = hung_up.recv();
    });

    let ssc =
        StreamingContext::new(Duration::from_secs(2)).block_interval(Duration::from_millis(200));
    let seen: Seen = Arc::default();
    let out = seen.clone();
    ssc.start(move |ssc| {
        ssc.socket_text_stream("127.0.0.1", port)
            .foreach_rdd(move |time, rdd| {
                let parts = rdd.partitions().map(|p| p.to_vec()).collect();
                out.lock().unwrap().push((time.batch, parts));
            });
    })
    .unwrap();
    let total: usize = bursts.iter().map(Vec::len).sum();
    wait_for("every line", || lines(&seen).len() >= total);
    ssc.stop(true).unwrap();
    let _ = hang_up.send(());
    peer.join().unwrap();

    assert_eq!(lines(&seen), bursts.concat(), "every line once, in order");
    let burst_of = |line: &String| line.split(' ').nth(1).unwrap().to_string();
    let seen = seen.lock().unwrap();
    for (batch, parts) in seen.iter() {
        for part in parts {
            assert!(
                !part.is_empty(),
                "batch {batch}: a block is cut only when lines came"
            );
            assert!(
                part.iter().all(|l| burst_of(l) == burst_of(&part[0])),
                "batch {batch}: one block holds lines of two bursts 700 ms apart: {part:?}"
            );
        }
    }
    let most = seen.iter().map(|(_, parts)| parts.len()).max().unwrap();
    assert!(
        most >= 2,
        "a 2 s batch of bursts 700 ms apart has a partition per block: {seen:?}"
    );
}

#[test]
fn text_file_stream_reads_the_files_that_appear() {
    let dir = std::env::temp_dir().join(format!("caudal-dstream-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ssc = StreamingContext::new(Duration::from_millis(50));
    let seen: Seen = Arc::default();
    let out = seen.clone();
    let watched = dir.clone();
    ssc.start(move |ssc| {
        ssc.text_file_stream(watched)
            .flat_map(|line| line.split(' ').map(String::from).collect::<Vec<_>>())
            .foreach_rdd(move |time, rdd| {
                let parts = rdd.partitions().map(|p| p.to_vec()).collect();
                out.lock().unwrap().push((time.batch, parts));
            });
    })
    .unwrap();
    // Written under a name the stream skips, then renamed: it is read whole, once.
    std::fs::write(dir.join(".first.tmp"), "a b\nc\n").unwrap();
    std::fs::rename(dir.join(".first.tmp"), dir.join("first.txt")).unwrap();
    wait_for("the first file", || lines(&seen).len() >= 3);
    std::fs::write(dir.join(".second.tmp"), "d\n").unwrap();
    std::fs::rename(dir.join(".second.tmp"), dir.join("second.txt")).unwrap();
    wait_for("the second file", || lines(&seen).len() >= 4);
    ssc.stop(true).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(lines(&seen), vec!["a", "b", "c", "d"]);
}

/// The files of `tests/conformance/pyspark_text_file_splits.json`, by name: an empty one, lines that
/// start at split boundaries, one just under 1.1 splits, a line across three splits, lines of many
/// lengths, no final newline, and CRLF ends.
fn split_files() -> Vec<(&'static str, String)> {
    let tens: String = (0..25).map(|i| format!("{i:09}\n")).collect();
    let slop: String = (0..11).map(|i| format!("{i:09}\n")).collect();
    let odd: String = (0..60usize)
        .map(|i| format!("{i:0width$}\n", width = 3 + i % 17))
        .collect();
    let crlf: String = (0..30).map(|i| format!("line {i}\r\n")).collect();
    vec![
        ("a_empty.txt", String::new()),
        ("b_tens.txt", tens),
        ("c_slop.txt", slop),
        ("d_long.txt", format!("short\n{}\nend\n", "L".repeat(300))),
        ("e_odd.txt", odd),
        ("f_nonl.txt", "no newline at end".into()),
        ("g_crlf.txt", crlf),
    ]
}

#[test]
fn a_text_file_streams_batch_has_a_partition_per_input_split_as_pyspark_cuts_them() {
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/conformance/pyspark_text_file_splits.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let split_bytes = expected["split_bytes"].as_u64().unwrap();
    let dir = std::env::temp_dir().join(format!("caudal-dstream-splits-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ssc = StreamingContext::new(Duration::from_millis(50)).file_split_bytes(split_bytes);
    let seen: Seen = Arc::default();
    let out = seen.clone();
    let watched = dir.clone();
    ssc.start(move |ssc| {
        ssc.text_file_stream(watched).foreach_rdd(move |time, rdd| {
            let parts = rdd.partitions().map(|p| p.to_vec()).collect();
            out.lock().unwrap().push((time.batch, parts));
        });
    })
    .unwrap();
    // Each written under a name the stream skips, then renamed, in name order: whichever batches
    // they land in, the partitions follow one another in that order.
    let files = split_files();
    for (name, text) in &files {
        let hidden = dir.join(format!(".{name}.tmp"));
        std::fs::write(&hidden, text).unwrap();
        std::fs::rename(&hidden, dir.join(name)).unwrap();
    }
    let total: usize = files.iter().map(|(_, t)| t.lines().count()).sum();
    wait_for("every file", || lines(&seen).len() >= total);
    ssc.stop(true).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    let mut pyspark: Vec<Vec<String>> = Vec::new();
    for (name, _) in &files {
        let parts: Vec<Vec<String>> =
            serde_json::from_value(expected["partitions"][name].clone()).unwrap();
        pyspark.extend(parts);
    }
    let caudal: Vec<Vec<String>> = seen
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(_, parts)| parts.clone())
        .collect();
    assert_eq!(caudal, pyspark, "the files' partitions, as PySpark's");
}
