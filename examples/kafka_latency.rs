//! End-to-end latency through a Kafka broker: an open-loop producer writes numbered records to an input
//! topic at a fixed rate, `caudal run uppercase` reads them and writes each to an output topic, and a
//! consumer of the output topic measures, for every record, the time from its *intended* send time (its
//! slot in the schedule, carried in the record) to its arrival: no coordinated omission (a producer
//! that falls behind its schedule shows as latency).
//!
//! ```text
//! scripts/kafka-broker.sh start && scripts/kafka-broker.sh topic lat-in 1 && scripts/kafka-broker.sh topic lat-out 1
//! cargo build --release && cargo run --release --example kafka_latency -- 127.0.0.1:9092 lat-in lat-out 100000 10s [CAUDAL ARGS...]
//! ```
//!
//! `--direct` instead measures the broker alone: the consumer reads the input topic itself (the
//! broker's own latency, the floor under Caudal's). Other arguments after the duration go to `caudal run` (for example `--guarantee at-least-once
//! --checkpoint-dir /tmp/ck`). The first second is warm-up and is not counted. The `caudal` binary is
//! taken from `CAUDAL_BIN`, or beside this example (`target/release/caudal`). Use new, empty topics for
//! each measurement: the tansu broker's answer to "where does this partition end" counts record
//! batches, not records, so starting "at the end" of a topic that holds records goes wrong on it.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: kafka_latency HOST:PORT IN_TOPIC OUT_TOPIC RATE DURATION [--direct | caudal run flags...]";
    if args.len() < 5 {
        eprintln!("{usage}");
        std::process::exit(2);
    }
    let brokers = args[0].clone();
    let (in_topic, out_topic) = (args[1].clone(), args[2].clone());
    let rate: f64 = args[3].parse().expect("RATE: records per second");
    let duration = humantime::parse_duration(&args[4]).expect("DURATION, such as 10s");
    let direct = args.get(5).is_some_and(|a| a == "--direct");
    let extra = if direct { &args[6..] } else { &args[5..] };
    let (read_topic, marker) = match direct {
        true => (in_topic.as_str(), " t"),
        false => (out_topic.as_str(), " T"),
    };
    let caudal = std::env::var("CAUDAL_BIN").unwrap_or_else(|_| {
        let exe = std::env::current_exe().expect("this program's path");
        let dir = exe
            .parent()
            .and_then(|p| p.parent())
            .expect("target/<profile>");
        dir.join("caudal").to_string_lossy().into_owned()
    });

    // The output topic's reader starts at its end, before anything is sent.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "kafka-latency")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "1")
        .set("fetch.queue.backoff.ms", "1")
        .create()
        .expect("a consumer");
    let mut out = TopicPartitionList::new();
    out.add_partition_offset(read_topic, 0, Offset::End)
        .expect("assignable");
    consumer.assign(&out).expect("assigned");

    let mut child = (!direct).then(|| {
        Command::new(&caudal)
            .args(["run", "uppercase", "--source"])
            .arg(format!("kafka://{brokers}/{in_topic}?start=latest"))
            .arg("--sink")
            .arg(format!("kafka://{brokers}/{out_topic}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {caudal}: {e}"))
    });
    // Let Caudal (and the reader) assign their partitions (at their end) before the first record.
    std::thread::sleep(Duration::from_secs(3));

    let total = (rate * duration.as_secs_f64()) as u64;
    let done = Arc::new(AtomicBool::new(false));
    let producer_done = done.clone();
    let brokers_p = brokers.clone();
    let in_topic_p = in_topic.clone();
    let producer = std::thread::spawn(move || {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &brokers_p)
            .set("linger.ms", "5")
            .create()
            .expect("a producer");
        let start_us = now_us() + 10_000;
        let mut payload = String::new();
        for i in 0..total {
            let intended = start_us + (i as f64 * 1e6 / rate) as u64;
            loop {
                let now = now_us();
                if now >= intended {
                    break;
                }
                if intended - now > 200 {
                    std::thread::sleep(Duration::from_micros(intended - now - 100));
                }
                producer.poll(Duration::ZERO);
            }
            payload.clear();
            payload.push_str(&format!("msg {i} t{intended}"));
            let r = BaseRecord::<(), str>::to(&in_topic_p).payload(payload.as_str());
            caudal::kafka::send_waiting(&producer, r).expect("producing");
            producer.poll(Duration::ZERO);
        }
        producer.flush(Duration::from_secs(30)).expect("flushed");
        producer_done.store(true, Ordering::Release);
        start_us
    });

    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    let (mut seen, mut first_us) = (0u64, None);
    let deadline = Instant::now() + duration + Duration::from_secs(30);
    while seen < total && Instant::now() < deadline {
        let m = match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                eprintln!("reading {read_topic}: {e}");
                continue;
            }
            None => continue,
        };
        let now = now_us();
        let Some(intended) = m
            .payload()
            .and_then(|p| std::str::from_utf8(p).ok())
            .and_then(|v| v.rsplit_once(marker))
            .and_then(|(_, t)| t.parse::<u64>().ok())
        else {
            continue;
        };
        seen += 1;
        let first = *first_us.get_or_insert(intended);
        // The first second is warm-up.
        if intended >= first + 1_000_000 {
            histogram.saturating_record(now.saturating_sub(intended));
        }
    }
    let _ = producer.join();
    if let Some(child) = child.as_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{seen} of {total} records back at {rate} records/s; latency from intended send time, after 1 s of warm-up: \
         p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms ({} measured)",
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(0.999),
        histogram.max() as f64 / 1000.0,
        histogram.len()
    );
}
