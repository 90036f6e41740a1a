//! What the Kafka broker itself sustains on this machine, with a plain librdkafka client and no
//! pipeline: the ceiling to quote Caudal's Kafka source against.
//!
//! ```text
//! scripts/kafka-broker.sh start && scripts/kafka-broker.sh topic bench 1
//! cargo run --release --example kafka_throughput -- 127.0.0.1:9092 bench 1000000
//! cargo run --release -- run filter --source 'kafka://127.0.0.1:9092/bench?until=end' > /dev/null
//! ```
//!
//! It produces COUNT records of 100 bytes (post lines that the `filter` pipeline reads: one in 100
//! tagged `#VIU`) to the topic, then reads the topic from its start to its end with one consumer, and
//! prints both rates.

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

/// Record `i`: a post line, padded to 100 bytes.
fn record(i: u64, out: &mut String) {
    use std::fmt::Write;
    out.clear();
    let tag = if i.is_multiple_of(100) { "VIU" } else { "rust" };
    let _ = write!(out, "user{}: post {i} #{tag} ", i % 1000);
    while out.len() < 100 {
        out.push('x');
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: kafka_throughput HOST:PORT TOPIC [COUNT]";
    let (Some(brokers), Some(topic)) = (args.next(), args.next()) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let count: u64 = args
        .next()
        .map_or(Ok(1_000_000), |c| c.parse())
        .unwrap_or_else(|e| {
            eprintln!("COUNT: {e}; {usage}");
            std::process::exit(2)
        });

    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("a producer");
    let start = Instant::now();
    let mut line = String::new();
    for i in 0..count {
        record(i, &mut line);
        let r = BaseRecord::<(), str>::to(&topic).payload(line.as_str());
        caudal::kafka::send_waiting(&producer, r).expect("producing");
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(60)).expect("flushed");
    let produced = start.elapsed();

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "kafka-throughput")
        .set("enable.partition.eof", "true")
        .set("enable.auto.commit", "false")
        .create()
        .expect("a consumer");
    let metadata = consumer
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .expect("metadata");
    let partitions: Vec<i32> = metadata.topics()[0]
        .partitions()
        .iter()
        .map(|p| p.id())
        .collect();
    let mut assignment = TopicPartitionList::new();
    for p in &partitions {
        assignment
            .add_partition_offset(&topic, *p, Offset::Beginning)
            .expect("assignable");
    }
    consumer.assign(&assignment).expect("assigned");
    let start = Instant::now();
    let (mut read, mut bytes, mut open) = (0u64, 0usize, partitions.len());
    while open > 0 {
        match consumer.poll(Duration::from_secs(5)) {
            Some(Ok(m)) => {
                read += 1;
                bytes += m.payload().map_or(0, <[u8]>::len);
            }
            Some(Err(KafkaError::PartitionEOF(_))) => open -= 1,
            Some(Err(e)) => panic!("consuming: {e}"),
            None => break,
        }
    }
    let consumed = start.elapsed();
    println!(
        "produced {count} records of 100 bytes in {:.2} s: {:.0} records/s",
        produced.as_secs_f64(),
        count as f64 / produced.as_secs_f64()
    );
    println!(
        "consumed {read} records ({bytes} bytes) in {:.2} s: {:.0} records/s, one consumer",
        consumed.as_secs_f64(),
        read as f64 / consumed.as_secs_f64()
    );
}
