//! A Kafka-protocol broker (tansu) for one test, on a loopback port of its own, started and stopped
//! with `scripts/kafka-broker.sh` (which installs it on first use).
//!
//! Why the tests read a topic from offset 0 and not from the broker's earliest offset: when several
//! producers write a new partition at once (a run's workers, each with its own producer), this tansu
//! build's record of the partition's low and high watermarks can go stale (it is updated by
//! optimistic concurrency), and `ListOffsets` then answers an earliest offset of 1, or of thousands,
//! where the log starts at 0. A reader that starts at `Offset::Beginning` skips the records before it,
//! though the broker holds them all, at dense offsets. Measured with two plain rdkafka producers of
//! 20,000 records each to a new 4-partition topic, and no Caudal at all, the earliest-offset reader
//! missed records in 10 of 125 rounds (1 to 10,000 records each); in the 4 of them read again from
//! offset 0, every record was there, each at its own offset, with no gap. That is what made Kafka
//! tests miss a run's output (3 in about 15 runs of a whole file, once in about 50 of a test alone).
//! A real Apache Kafka broker answers the log's start offset.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use super::free_port;

/// The partitions of the tests' topics.
pub const PARTITIONS: i32 = 4;

/// How long a reader of a topic goes on after every partition's end, until nothing more comes.
const QUIET_AT_END: Duration = Duration::from_secs(1);

/// A broker on a port of its own, stopped when dropped.
pub struct Broker {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The port it tells clients to use, if not its own (a proxy's).
    pub advertised: Option<u16>,
}

impl Broker {
    /// Runs `scripts/kafka-broker.sh ARGS` for this broker.
    pub fn script(&self, args: &[&str]) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kafka-broker.sh");
        Command::new("bash")
            .arg(script)
            .args(args)
            .env("KAFKA_PORT", self.port.to_string())
            .env(
                "KAFKA_ADVERTISED_PORT",
                self.advertised.unwrap_or(self.port).to_string(),
            )
            .output()
            .unwrap()
    }

    /// A broker on a free port.
    pub fn start() -> Broker {
        Broker::start_advertising(free_port(), None)
    }

    /// A broker on `port` that tells clients to connect to `advertised` instead (a proxy in front of
    /// it): clients then reach it through the proxy only, after their first connection too.
    pub fn start_advertising(port: u16, advertised: Option<u16>) -> Broker {
        let broker = Broker { port, advertised };
        let started = broker.script(&["start"]);
        assert!(
            started.status.success(),
            "scripts/kafka-broker.sh start failed:\n{}",
            String::from_utf8_lossy(&started.stderr)
        );
        broker
    }

    /// The `host:port` clients use.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.advertised.unwrap_or(self.port))
    }

    /// Creates `name` with `partitions`; its `kafka://` address.
    pub fn topic(&self, name: &str, partitions: i32) -> String {
        let made = self.script(&["topic", name, &partitions.to_string()]);
        assert!(
            made.status.success(),
            "cannot create topic {name}:\n{}",
            String::from_utf8_lossy(&made.stderr)
        );
        format!("kafka://{}/{name}", self.address())
    }

    /// Writes `records` (partition, timestamp, value) and waits until the broker has them all.
    pub fn produce(&self, topic: &str, records: &[(i32, i64, Vec<u8>)]) {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", self.address())
            .set("linger.ms", "5")
            // A send retried after a lost connection is written once (tests cut the broker off).
            .set("enable.idempotence", "true")
            .create()
            .unwrap();
        for (partition, timestamp, value) in records {
            let record = BaseRecord::<(), [u8]>::to(topic)
                .partition(*partition)
                .timestamp(*timestamp)
                .payload(value.as_slice());
            caudal::kafka::send_waiting(&producer, record)
                .unwrap_or_else(|e| panic!("producing to {topic}: {e}"));
        }
        producer.flush(Duration::from_secs(30)).unwrap();
    }

    /// Every value in `topic` as a `read_committed` consumer sees it, counted.
    pub fn read_committed(&self, topic: &str) -> BTreeMap<String, usize> {
        let mut values = BTreeMap::new();
        for (value, _) in self.read_with_headers(topic) {
            *values.entry(value).or_default() += 1;
        }
        values
    }

    /// Every value in `topic` as a `read_committed` consumer sees it, with its `caudal-txn` header.
    pub fn read_with_headers(&self, topic: &str) -> Vec<(String, Option<String>)> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.address())
            .set("group.id", "caudal-test-reader")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .set("isolation.level", "read_committed")
            .create()
            .unwrap();
        // From offset 0, not `Offset::Beginning`: the topic is new, so its log starts at 0 on any
        // broker, and this tansu build can report a later earliest offset (see the module's documentation).
        let mut assignment = TopicPartitionList::new();
        for p in 0..PARTITIONS {
            assignment
                .add_partition_offset(topic, p, Offset::Offset(0))
                .unwrap();
        }
        consumer.assign(&assignment).unwrap();
        let mut open: Vec<i32> = (0..PARTITIONS).collect();
        let mut values = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        // Every partition at its end, and then nothing more for a second: an end-of-partition event
        // says a fetch reached the end the broker knew of then.
        let mut last_news = Instant::now();
        while !open.is_empty() || last_news.elapsed() < QUIET_AT_END {
            assert!(Instant::now() < deadline, "reading {topic} did not end");
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    let value =
                        String::from_utf8(m.payload().unwrap_or_default().to_vec()).unwrap();
                    let txn = m.headers().and_then(|hs| {
                        hs.iter()
                            .find(|h| h.key == "caudal-txn")
                            .and_then(|h| h.value)
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                    });
                    values.push((value, txn));
                    last_news = Instant::now();
                }
                Some(Err(KafkaError::PartitionEOF(p))) => open.retain(|q| *q != p),
                Some(Err(e)) => panic!("reading {topic}: {e}"),
                None => {}
            }
        }
        values
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.script(&["stop"]);
    }
}
