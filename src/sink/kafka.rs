//! A Kafka sink (feature `kafka`): `kafka://HOST:PORT/TOPIC`, one Kafka record per result (its line,
//! as [`Format`] writes it, without the newline), keyed by nothing, partitioned by librdkafka.
//!
//! The producer is idempotent (`enable.idempotence`: the broker drops the duplicates of its own
//! retries) and waits for every in-sync replica (`acks=all`). Each record counts in its round's
//! [`InFlight`] until the broker acknowledges it (heard on the producer's own thread); at a checkpoint
//! round the sink hands that count to the checkpoint's writer ([`Sink::pre_commit`]), which waits for
//! it to reach zero before the checkpoint completes, so a checkpoint never covers output the broker
//! does not have (at-least-once) and the worker goes on meanwhile. With [`Format::with_ids`] each
//! record carries a deterministic id, so that a reader that keeps one record per id sees each result
//! once.
//!
//! **Exactly-once** ([`KafkaSink::staged_in`]) is a two-phase commit over Kafka transactions, built
//! so that it holds against a real Apache Kafka broker with the plain client API (librdkafka cannot
//! resume another producer's transaction after a crash, as Flink's Java client does by reflection):
//! * between two checkpoint rounds, each sink instance writes its results to a staged file in the
//!   staging directory (by the checkpoint's writer, off the worker); the checkpoint makes it durable
//!   and lists it, with the instance's transactional id (`caudal-TOPIC-wWORKER`, the same in every
//!   run) and a sequence number that only grows;
//! * once the checkpoint is complete, the coordinator commits the file
//!   ([`crate::checkpoint::publish`]): a producer with
//!   that transactional id (whose `init_transactions` fences any producer of a crashed run and aborts
//!   its open transaction) reads the sequence last committed for the instance (the offset of the
//!   consumer group `caudal-eo.ID` on the topic's partition 0), and if this file's is newer, produces
//!   its records and commits that offset in one transaction, then removes the file;
//! * a resumed run commits again what its checkpoint lists (the sequence makes a repeated commit
//!   publish nothing), and removes the staged files that no complete checkpoint covers.
//!
//! Readers with `isolation.level=read_committed` then see each result once, when the checkpoint that
//! covers it completes (the latency of exactly-once is the checkpoint interval, as in Flink). Each
//! record carries a `caudal-txn` header, `ID SEQUENCE ATTEMPT INDEX COUNT`, which says which commit
//! attempt wrote it. (The tansu broker shows records of aborted transactions to `read_committed`
//! consumers: its fetch returns no aborted-transaction list. A commit interrupted by a crash is aborted
//! and done again, so on tansu its first attempt's records can show; the header tells them apart.)
//!
//! A record the broker refuses or loses (after librdkafka's retries) fails the sink: the run reports it
//! and, under a guarantee, takes no checkpoint that would cover it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use caudal_operators::{Event, EventTime};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

use super::{Format, Sink, SinkContext, SinkError, SinkFactory};
use crate::checkpoint::publish::{frame, Publish};
use crate::checkpoint::store::{Deferred, DeferredWrite, PreCommit, StagedFile};
use crate::checkpoint::{Guarantee, InFlight};
use crate::config::defaults;
use crate::source::WorkerInfo;

/// How long a flush (at a checkpoint, at the end) may wait for the broker.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// Writes results to a Kafka topic (see the module's documentation).
pub struct KafkaSink<D> {
    brokers: String,
    topic: String,
    format: Format<D>,
    staging: Option<PathBuf>,
}

impl<D> KafkaSink<D> {
    /// Writes to `topic` on the brokers `brokers` (`host:port`, several separated by commas).
    pub fn new(brokers: impl Into<String>, topic: impl Into<String>, format: Format<D>) -> Self {
        KafkaSink {
            brokers: brokers.into(),
            topic: topic.into(),
            format,
            staging: None,
        }
    }

    /// Stages exactly-once output in `dir` between checkpoints (a directory beside the checkpoints:
    /// the command line uses `CHECKPOINT_DIR/kafka-staged`). Needed for `exactly-once`.
    pub fn staged_in(mut self, dir: impl Into<PathBuf>) -> Self {
        self.staging = Some(dir.into());
        self
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
        if let Some(dir) = &self.staging {
            std::fs::create_dir_all(dir).map_err(|source| SinkError::Io {
                what: format!("creating {}", dir.display()),
                source,
            })?;
        }
        Ok(Box::new(KafkaWriter {
            producer: None,
            topic: self.topic.clone(),
            brokers: self.brokers.clone(),
            address: format!("kafka://{}/{}", self.brokers, self.topic),
            format: self.format.clone(),
            line: Vec::new(),
            failed: Arc::new(Mutex::new(None)),
            staging: self.staging.clone(),
            worker: worker.index,
            ctx: SinkContext::default(),
            buf: Vec::new(),
            next_part: 0,
            staged: Vec::new(),
            round: Arc::new(InFlight::new()),
        }))
    }
}

/// Hears the broker's acknowledgements (on the producer's thread): takes each record off its round's
/// count, and keeps the first failure.
struct Deliveries {
    failed: Arc<Mutex<Option<String>>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    /// The count of the round the record was sent in.
    type DeliveryOpaque = Arc<InFlight>;

    fn delivery(&self, result: &DeliveryResult<'_>, round: Arc<InFlight>) {
        let error = result.as_ref().err().map(|(e, _)| e.to_string());
        if let Some(e) = &error {
            let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
            failed.get_or_insert_with(|| e.clone());
        }
        round.acknowledged(error);
    }
}

/// One worker's producer.
struct KafkaWriter<D> {
    /// The producer of output sent as it comes (made at start; exactly-once output is published by
    /// the checkpoints' transactional producers instead). Its own thread hears the acknowledgements.
    producer: Option<ThreadedProducer<Deliveries>>,
    topic: String,
    brokers: String,
    address: String,
    format: Format<D>,
    line: Vec<u8>,
    failed: Arc<Mutex<Option<String>>>,
    /// Where exactly-once output is staged (`None`: at-least-once, sent as it comes).
    staging: Option<PathBuf>,
    worker: usize,
    ctx: SinkContext,
    /// Exactly-once: the records of the open round, framed ([`frame`]).
    buf: Vec<u8>,
    /// Exactly-once: the next staged file of the round.
    next_part: u64,
    /// Exactly-once: files staged by the worker itself since the last round (a buffer grown too large).
    staged: Vec<StagedFile>,
    /// At-least-once: what the open round sent and the broker has not acknowledged.
    round: Arc<InFlight>,
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

    /// The producer (made at start).
    fn producer(&self) -> Result<&ThreadedProducer<Deliveries>, SinkError> {
        self.producer
            .as_ref()
            .ok_or_else(|| SinkError::Remote(format!("{}: the sink was not started", self.address)))
    }

    /// Makes the producer of output sent as it comes: idempotent, acknowledged by all replicas.
    fn make_producer(&mut self) -> Result<(), SinkError> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "1")
            .set("client.id", format!("caudal-sink-w{}", self.worker))
            .create_with_context(Deliveries {
                failed: self.failed.clone(),
            })
            .map_err(|e| SinkError::Remote(format!("{}: {e}", self.address)))?;
        self.producer = Some(producer);
        Ok(())
    }

    /// Waits until the broker has acknowledged everything sent.
    fn flush(&self) -> Result<(), SinkError> {
        self.producer()?.flush(FLUSH_TIMEOUT).map_err(|e| {
            SinkError::Remote(format!(
                "{}: the broker did not acknowledge the results within {FLUSH_TIMEOUT:?}: {e}",
                self.address
            ))
        })?;
        self.check()
    }
}

impl<D> KafkaWriter<D> {
    fn transactional(&self) -> bool {
        self.ctx.guarantee == Guarantee::ExactlyOnce
    }

    /// The transactional id of this sink instance: the same in every run of the job.
    fn transactional_id(&self) -> String {
        format!("caudal-{}-w{}", self.topic, self.worker)
    }

    /// The buffered records as the next staged file: the bytes to write, and how to commit them.
    fn next_stage(&mut self) -> Option<(DeferredWrite, StagedFile)> {
        let dir = self.staging.as_ref()?;
        if self.buf.is_empty() {
            return None;
        }
        let path = dir.join(format!(
            ".kafka-{:05}-{:08}-{:03}-{:04}.staged",
            self.worker, self.ctx.epoch, self.ctx.attempt, self.next_part
        ));
        let sequence = (self.ctx.epoch << 16) | self.next_part;
        self.next_part += 1;
        let write = DeferredWrite {
            path: path.clone(),
            bytes: std::mem::take(&mut self.buf),
            rename_to: None,
        };
        let staged = StagedFile {
            staged: path.clone(),
            committed: path,
            publish: Some(Publish {
                brokers: self.brokers.clone(),
                topic: self.topic.clone(),
                transactional_id: self.transactional_id(),
                sequence,
            }),
        };
        Some((write, staged))
    }

    /// Removes the staged files of this instance that a killed run left and no complete checkpoint
    /// covers (what one covers was published before the sinks start).
    fn clear_leftovers(&self) -> Result<(), SinkError> {
        let Some(dir) = &self.staging else {
            return Ok(());
        };
        let prefix = format!(".kafka-{:05}-", self.worker);
        let entries = std::fs::read_dir(dir).map_err(|source| SinkError::Io {
            what: format!("listing {}", dir.display()),
            source,
        })?;
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) && name.ends_with(".staged") {
                std::fs::remove_file(entry.path()).map_err(|source| SinkError::Io {
                    what: format!("removing {}", entry.path().display()),
                    source,
                })?;
            }
        }
        Ok(())
    }
}

impl<D: 'static> Sink<D> for KafkaWriter<D> {
    fn start(&mut self, ctx: &SinkContext) -> Result<(), SinkError> {
        self.ctx = *ctx;
        if self.transactional() && self.staging.is_none() {
            return Err(SinkError::Remote(format!(
                "{}: exactly-once output to Kafka stages each round's results beside the \
                 checkpoints: make the sink with KafkaSink::staged_in(DIR)",
                self.address
            )));
        }
        if !self.transactional() {
            self.make_producer()?;
        }
        self.clear_leftovers()
    }

    fn write(&mut self, records: &mut Vec<Event<D>>) -> Result<(), SinkError> {
        if self.transactional() {
            for event in records.drain(..) {
                self.line.clear();
                self.format.line(&event, &mut self.line);
                frame(&self.line[..self.line.len() - 1], &mut self.buf);
            }
            return Ok(());
        }
        self.round.sending(records.len() as u64);
        for event in records.iter() {
            self.line.clear();
            self.format.line(event, &mut self.line);
            let payload = &self.line[..self.line.len() - 1];
            let record = BaseRecord::<(), [u8], _>::with_opaque_to(&self.topic, self.round.clone())
                .payload(payload);
            // A full queue waits here (the worker, and so the sources: backpressure from the broker).
            crate::kafka::send_waiting(self.producer()?, record).map_err(|e| {
                SinkError::Remote(format!("{}: cannot send a result: {e}", self.address))
            })?;
        }
        records.clear();
        self.check()
    }

    fn pre_commit(&mut self, next_epoch: u64) -> Result<PreCommit, SinkError> {
        if self.transactional() {
            // The round's records go to the checkpoint's writer, to be published once it completes.
            let mut handed = PreCommit {
                files: std::mem::take(&mut self.staged),
                writes: Vec::new(),
            };
            if let Some((write, staged)) = self.next_stage() {
                handed.writes.push(Deferred::Write(write));
                handed.files.push(staged);
            }
            // `0` is the end of the stream: the last round keeps its number.
            if next_epoch > 0 {
                self.ctx.epoch = next_epoch;
                self.next_part = 0;
            }
            return Ok(handed);
        }
        // A checkpoint covers what the broker has acknowledged: its writer waits for the round's.
        self.check()?;
        let round = std::mem::replace(&mut self.round, Arc::new(InFlight::new()));
        Ok(PreCommit {
            files: Vec::new(),
            writes: vec![Deferred::Acknowledged {
                in_flight: InFlight::clone(&round),
                timeout: FLUSH_TIMEOUT,
                destination: self.address.clone(),
            }],
        })
    }

    fn progress(&mut self, frontier: Option<EventTime>) -> Result<(), SinkError> {
        if self.transactional() {
            // A round's buffer grown past its bound is staged by the worker itself.
            if self.buf.len() >= defaults::FILE_BUFFER_UNDER_CHECKPOINTS {
                if let Some((write, staged)) = self.next_stage() {
                    write.perform(false).map_err(|source| SinkError::Io {
                        what: format!("writing {}", write.path.display()),
                        source,
                    })?;
                    self.buf = write.bytes;
                    self.buf.clear();
                    self.staged.push(staged);
                }
            }
            return Ok(());
        }
        match frontier {
            None => self.flush(),
            Some(_) => self.check(),
        }
    }
}
