//! A Kafka sink (feature `kafka`): `kafka://HOST:PORT/TOPIC`, one Kafka record per result (its line,
//! as [`Format`] writes it, without the newline), keyed by nothing, partitioned by librdkafka.
//!
//! The producer is idempotent (`enable.idempotence`: the broker drops the duplicates of its own
//! retries) and waits for every in-sync replica (`acks=all`). At each checkpoint round the sink waits
//! until everything it sent is acknowledged ([`Sink::pre_commit`]), so a checkpoint never covers output
//! the broker does not have: at-least-once. With [`Format::with_ids`] each record carries a
//! deterministic id, so that a reader that keeps one record per id sees each result once.
//!
//! Exactly-once output to Kafka needs transactions committed with the checkpoints; this sink does not
//! do that yet and refuses `exactly-once` with a message that says what to use instead.
//!
//! A record the broker refuses or loses (after librdkafka's retries) fails the sink: the run reports it
//! and, under a guarantee, takes no checkpoint that would cover it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use caudal_operators::{Event, EventTime};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;

use super::{Format, Sink, SinkContext, SinkError, SinkFactory};
use crate::checkpoint::store::PreCommit;
use crate::checkpoint::Guarantee;
use crate::source::WorkerInfo;

/// How long a flush (at a checkpoint, at the end) may wait for the broker.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// Writes results to a Kafka topic (see the module's documentation).
pub struct KafkaSink<D> {
    brokers: String,
    topic: String,
    format: Format<D>,
}

impl<D> KafkaSink<D> {
    /// Writes to `topic` on the brokers `brokers` (`host:port`, several separated by commas).
    pub fn new(brokers: impl Into<String>, topic: impl Into<String>, format: Format<D>) -> Self {
        KafkaSink {
            brokers: brokers.into(),
            topic: topic.into(),
            format,
        }
    }

    /// The sink of a `kafka://HOST:PORT/TOPIC` address.
    pub fn from_address(address: &str, format: Format<D>) -> Result<Self, String> {
        let rest = address
            .strip_prefix("kafka://")
            .ok_or_else(|| format!("`{address}` is not a kafka:// address"))?;
        let (brokers, topic) = rest
            .split_once('/')
            .filter(|(b, t)| b.contains(':') && !t.is_empty() && !t.contains(['?', '/']))
            .ok_or_else(|| {
                format!("`{address}`: write the sink as kafka://HOST:PORT/TOPIC, such as kafka://localhost:9092/results")
            })?;
        Ok(KafkaSink::new(brokers, topic, format))
    }
}

impl<D: 'static> SinkFactory<D> for KafkaSink<D> {
    fn make(&self, worker: WorkerInfo) -> Result<Box<dyn Sink<D>>, SinkError> {
        let failed = Arc::new(Mutex::new(None));
        let producer: BaseProducer<Deliveries> = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "1")
            .set("client.id", format!("caudal-sink-w{}", worker.index))
            .create_with_context(Deliveries {
                failed: failed.clone(),
            })
            .map_err(|e| SinkError::Remote(format!("kafka://{}: {e}", self.brokers)))?;
        Ok(Box::new(KafkaWriter {
            producer,
            topic: self.topic.clone(),
            address: format!("kafka://{}/{}", self.brokers, self.topic),
            format: self.format.clone(),
            line: Vec::new(),
            failed,
        }))
    }
}

/// Hears the broker's acknowledgements: keeps the first failure.
struct Deliveries {
    failed: Arc<Mutex<Option<String>>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
            failed.get_or_insert_with(|| e.to_string());
        }
    }
}

/// One worker's producer.
struct KafkaWriter<D> {
    producer: BaseProducer<Deliveries>,
    topic: String,
    address: String,
    format: Format<D>,
    line: Vec<u8>,
    failed: Arc<Mutex<Option<String>>>,
}

impl<D> KafkaWriter<D> {
    /// The first record the broker refused, as an error.
    fn check(&self) -> Result<(), SinkError> {
        match self.failed.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(e) => Err(SinkError::Remote(format!(
                "{}: the broker did not take a result: {e}",
                self.address
            ))),
            None => Ok(()),
        }
    }

    /// Waits until the broker has acknowledged everything sent.
    fn flush(&self) -> Result<(), SinkError> {
        self.producer.flush(FLUSH_TIMEOUT).map_err(|e| {
            SinkError::Remote(format!(
                "{}: the broker did not acknowledge the results within {FLUSH_TIMEOUT:?}: {e}",
                self.address
            ))
        })?;
        self.check()
    }
}

impl<D: 'static> Sink<D> for KafkaWriter<D> {
    fn start(&mut self, ctx: &SinkContext) -> Result<(), SinkError> {
        if ctx.guarantee == Guarantee::ExactlyOnce {
            return Err(SinkError::Remote(format!(
                "{}: the Kafka sink gives at-least-once (an idempotent producer flushed at every \
                 checkpoint), not exactly-once yet: use --guarantee at-least-once, with --record-ids \
                 for a reader that drops repeats, or write exactly-once files with --out DIR",
                self.address
            )));
        }
        Ok(())
    }

    fn write(&mut self, records: &mut Vec<Event<D>>) -> Result<(), SinkError> {
        for event in records.iter() {
            self.line.clear();
            self.format.line(event, &mut self.line);
            let payload = &self.line[..self.line.len() - 1];
            let mut record = BaseRecord::<(), [u8]>::to(&self.topic).payload(payload);
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    // librdkafka's queue is full: serve acknowledgements until there is room (the
                    // worker, and so the sources, wait: backpressure from the broker).
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        self.producer.poll(Duration::from_millis(10));
                        record = back;
                    }
                    Err((e, _)) => {
                        return Err(SinkError::Remote(format!(
                            "{}: cannot send a result: {e}",
                            self.address
                        )))
                    }
                }
            }
        }
        records.clear();
        self.producer.poll(Duration::ZERO);
        self.check()
    }

    fn pre_commit(&mut self, _next_epoch: u64) -> Result<PreCommit, SinkError> {
        // A checkpoint covers what the broker has acknowledged.
        self.flush()?;
        Ok(PreCommit::default())
    }

    fn progress(&mut self, frontier: Option<EventTime>) -> Result<(), SinkError> {
        match frontier {
            None => self.flush(),
            Some(_) => {
                self.producer.poll(Duration::ZERO);
                self.check()
            }
        }
    }
}
