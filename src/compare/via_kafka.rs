//! `caudal compare --via kafka://HOST:PORT`: the Kafka broker in the measured path.
//!
//! Each run gets two new one-partition topics on the broker. A feeder thread produces the workload's
//! records to the input topic open loop (record `seq` at its intended send time, whatever the
//! pipeline does, as the in-process generator does), each as its event time and post (bincode) with
//! a producer that lingers at most 1 ms; Caudal reads the topic with its Kafka source (`limit=` the
//! run's records, event time from the record), runs the lab's pipeline, and writes every result to
//! the output topic with its Kafka sink under the run's guarantee (exactly-once: transactions
//! committed with the checkpoints). An observer thread reads the output topic (`read_committed`) and
//! takes each result's latency when it arrives there, from the intended send time of the record that
//! produced it, into the same histograms as an in-process run. So latency covers producer, broker,
//! consumer, pipeline, producer, broker and consumer; the results' count and checksum must equal the
//! in-process run's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use caudal_operators::{Event, EventTime};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use super::config::LabWorkload;
use super::pipelines::{event_ms, lab_pipeline, LabTime, Measured};
use super::sink::LatencySink;
use crate::config::RunConfig;
use crate::pipeline::{launch, RunError};
use crate::report::RunReport;
use crate::sink::kafka::KafkaSink;
use crate::sink::{Format, SinkContext, SinkFactory};
use crate::source::generator::Schedule;
use crate::source::kafka::{KafkaRecord, KafkaSpec, Start};
use crate::source::WorkerInfo;
use crate::workload::{Post, Posts, Workload};

/// What the lab's results are on the output topic.
type Result3 = Measured<(u64, i64, u64)>;

/// How long the observer waits for more results once the run has ended.
const OBSERVE_QUIET: Duration = Duration::from_secs(1);
/// How long creating the topics may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The broker address of `--via`: `kafka://HOST:PORT` (several brokers separated by commas).
pub fn parse_via(s: &str) -> Result<String, String> {
    let brokers = s
        .strip_prefix("kafka://")
        .ok_or_else(|| format!("`{s}`: --via takes a Kafka broker, kafka://HOST:PORT"))?;
    if brokers.is_empty() || brokers.contains('/') || brokers.split(',').any(|b| !b.contains(':')) {
        return Err(format!(
            "`{s}`: write the broker as kafka://HOST:PORT, such as kafka://127.0.0.1:9092 \
             (scripts/kafka-broker.sh start runs one); the lab makes its own topics"
        ));
    }
    Ok(brokers.to_string())
}

/// One run's topics on the broker.
pub(crate) struct Leg {
    brokers: String,
    input: String,
    output: String,
}

impl Leg {
    /// Makes two new one-partition topics for run number `run` of this process.
    pub(crate) fn create(brokers: &str, run: u64) -> Result<Leg, RunError> {
        let base = format!("caudal-lab-{}-{run}-{}", std::process::id(), nonce());
        let leg = Leg {
            brokers: brokers.to_string(),
            input: format!("{base}-in"),
            output: format!("{base}-out"),
        };
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .create()
            .map_err(|e| leg.error(format!("cannot make an admin client: {e}")))?;
        let topics = [
            NewTopic::new(&leg.input, 1, TopicReplication::Fixed(1)),
            NewTopic::new(&leg.output, 1, TopicReplication::Fixed(1)),
        ];
        let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
        let created = block_on(admin.create_topics(&topics, &options))
            .map_err(|e| leg.error(format!("cannot create the lab's topics: {e}")))?;
        for result in created {
            if let Err((topic, code)) = result {
                return Err(leg.error(format!("cannot create topic {topic}: {code}")));
            }
        }
        Ok(leg)
    }

    fn error(&self, message: String) -> RunError {
        RunError::Input(format!(
            "kafka://{}: {message} (is the broker running? scripts/kafka-broker.sh start)",
            self.brokers
        ))
    }

    /// Runs the lab's pipeline through the broker (see the module's documentation): feeds `total`
    /// records on `schedule`, observes the results into `sink`, and returns the run's report once
    /// the observer has seen the output settle. A raised `interrupted` stops the feeder and the run.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run(
        &self,
        run_config: RunConfig,
        staging: std::path::PathBuf,
        workload: LabWorkload,
        shape: super::config::Shape,
        rate: f64,
        schedule: Schedule,
        total: u64,
        sink: LatencySink,
        interrupted: &AtomicBool,
    ) -> Result<RunReport, RunError> {
        let spec = KafkaSpec {
            brokers: self.brokers.clone(),
            topic: self.input.clone(),
            group: None,
            start: Start::Earliest,
            until_end: false,
            limit: Some(total),
            properties: Vec::new(),
        };
        let source = crate::source::kafka::source(spec).event_time(|r: &KafkaRecord| {
            // The record starts with its event time (bincode of `Event<Post>`).
            Some(EventTime::from_le_bytes(
                r.payload.get(..8)?.try_into().ok()?,
            ))
        });
        let output = KafkaSink::<Result3>::new(&self.brokers, &self.output, Format::json())
            .staged_in(staging);
        let finished = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let observer = scope.spawn(|| self.observe(sink, &finished));
            let feeder = scope.spawn(|| {
                self.feed(
                    schedule,
                    total,
                    rate,
                    shape.disorder_ms(),
                    interrupted,
                    &finished,
                )
            });
            let report = launch(run_config, move |df| {
                let records = df.source("kafka", &source);
                let posts = records.flat_map(|r: KafkaRecord| {
                    bincode::deserialize::<Event<Post>>(&r.payload)
                        .ok()
                        .map(|e| e.data)
                });
                df.sink(
                    "kafka",
                    lab_pipeline(workload, posts, rate, shape, LabTime::Event),
                    &output,
                );
            })
            .and_then(|running| super::run::join_unless(running, interrupted));
            finished.store(true, Ordering::Release);
            let fed = feeder.join().expect("the feeder does not panic");
            let observed = observer.join().expect("the observer does not panic");
            let report = report?;
            fed?;
            observed?;
            Ok(report)
        })
    }

    /// Produces records `0..total` to the input topic, each at its intended send time.
    fn feed(
        &self,
        schedule: Schedule,
        total: u64,
        rate: f64,
        disorder_ms: u64,
        interrupted: &AtomicBool,
        finished: &AtomicBool,
    ) -> Result<(), RunError> {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("linger.ms", "1")
            .set("enable.idempotence", "true")
            .create()
            .map_err(|e| self.error(format!("cannot make the feeder's producer: {e}")))?;
        let posts = Posts::default();
        let mut payload = Vec::with_capacity(64);
        for seq in 0..total {
            if interrupted.load(Ordering::Acquire) || finished.load(Ordering::Acquire) {
                break;
            }
            let due = schedule.start + schedule.intended_offset(seq);
            super::run::wait_until(due);
            let event = Event::new(event_ms(seq, rate, disorder_ms), posts.record(seq));
            payload.clear();
            bincode::serialize_into(&mut payload, &event).expect("a post serializes");
            let record = BaseRecord::<(), [u8]>::to(&self.input)
                .partition(0)
                .payload(&payload);
            crate::kafka::send_waiting(&producer, record)
                .map_err(|e| self.error(format!("cannot produce to {}: {e}", self.input)))?;
            producer.poll(Duration::ZERO);
        }
        producer
            .flush(Duration::from_secs(30))
            .map_err(|e| self.error(format!("cannot flush the feeder: {e}")))
    }

    /// Reads the output topic into a latency sink until the run has finished and the topic has been
    /// quiet for [`OBSERVE_QUIET`]; merges what it saw into the sink's recording.
    fn observe(&self, sink: LatencySink, finished: &AtomicBool) -> Result<(), RunError> {
        let consumer: BaseConsumer = crate::kafka::prompt_fetches(
            ClientConfig::new()
                .set("bootstrap.servers", &self.brokers)
                .set("group.id", "caudal-lab-observer")
                .set("enable.auto.commit", "false")
                .set("isolation.level", "read_committed"),
        )
        .create()
        .map_err(|e| self.error(format!("cannot make the observer's consumer: {e}")))?;
        // The topic is new, so it starts at offset 0 on any broker; the tansu test broker can answer a
        // later earliest offset for a partition that several producers wrote at once.
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(&self.output, 0, Offset::Offset(0))
            .map_err(|e| self.error(e.to_string()))?;
        consumer
            .assign(&assignment)
            .map_err(|e| self.error(format!("cannot read {}: {e}", self.output)))?;
        let mut latency = sink
            .make(WorkerInfo::single())
            .map_err(|e| self.error(e.to_string()))?;
        // Not transactional: a result counts when the observer reads it (committed, under exactly-once).
        latency
            .start(&SinkContext::default())
            .map_err(|e| self.error(e.to_string()))?;
        let mut one = Vec::with_capacity(1);
        let mut undecodable = 0u64;
        let mut quiet_since: Option<Instant> = None;
        loop {
            match consumer.poll(Duration::from_millis(10)) {
                Some(Ok(message)) => {
                    quiet_since = None;
                    match serde_json::from_slice::<Event<Result3>>(message.payload().unwrap_or(&[]))
                    {
                        Ok(event) => {
                            one.push(Event::new(event.time, event.data));
                            latency
                                .write(&mut one)
                                .map_err(|e| self.error(e.to_string()))?;
                            one.clear();
                        }
                        Err(_) => undecodable += 1,
                    }
                }
                Some(Err(KafkaError::PartitionEOF(_))) | None => {
                    if finished.load(Ordering::Acquire) {
                        let since = *quiet_since.get_or_insert_with(Instant::now);
                        if since.elapsed() >= OBSERVE_QUIET {
                            break;
                        }
                    }
                }
                Some(Err(e)) => tracing::warn!("kafka://{}/{}: {e}", self.brokers, self.output),
            }
        }
        if undecodable > 0 {
            tracing::warn!(
                "kafka://{}/{}: {undecodable} records were not lab results",
                self.brokers,
                self.output
            );
        }
        latency
            .progress(None)
            .map_err(|e| self.error(e.to_string()))
    }
}

/// A number that tells this run's topics from an earlier process's with the same id.
fn nonce() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Runs a future to its end on this thread (the admin client's calls are futures; nothing else here
/// is async).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_broker_address_is_checked_with_the_fix() {
        assert_eq!(
            parse_via("kafka://127.0.0.1:9092").unwrap(),
            "127.0.0.1:9092"
        );
        for bad in ["127.0.0.1:9092", "kafka://localhost", "kafka://h:1/topic"] {
            let e = parse_via(bad).unwrap_err();
            assert!(e.contains("kafka://HOST:PORT"), "{bad}: {e}");
        }
    }
}
