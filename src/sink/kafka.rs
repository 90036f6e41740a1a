//! A Kafka sink (feature `kafka`): `kafka://HOST:PORT/TOPIC`, one Kafka record per result (its line,
//! as [`Format`] writes it, without the newline), keyed by nothing, partitioned by librdkafka.
//!
//! The producer is idempotent (`enable.idempotence`: the broker drops the duplicates of its own
//! retries) and waits for every in-sync replica (`acks=all`). At each checkpoint round the sink waits
//! until everything it sent is acknowledged ([`Sink::pre_commit`]), so a checkpoint never covers output
//! the broker does not have: at-least-once. With [`Format::with_ids`] each record carries a
//! deterministic id, so that a reader that keeps one record per id sees each result once.
//!
//! **Exactly-once** ([`KafkaSink::staged_in`]) is a two-phase commit over Kafka transactions, built
//! so that it holds against a real Apache Kafka broker with the plain client API (librdkafka cannot
//! resume another producer's transaction after a crash, as Flink's Java client does by reflection):
//! * between two checkpoint rounds, each sink instance writes its results to a staged file in the
//!   staging directory (by the checkpoint's writer, off the worker); the checkpoint makes it durable
//!   and lists it, with the instance's transactional id (`caudal-TOPIC-wWORKER`, the same in every
//!   run) and a sequence number that only grows;
//! * once the checkpoint is complete, the coordinator commits the file ([`publish`]): a producer with
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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use caudal_operators::{Event, EventTime};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::{Format, Sink, SinkContext, SinkError, SinkFactory};
use crate::checkpoint::store::{DeferredWrite, PreCommit, Publish, StagedFile};
use crate::checkpoint::Guarantee;
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
        if let Some(dir) = &self.staging {
            std::fs::create_dir_all(dir).map_err(|source| SinkError::Io {
                what: format!("creating {}", dir.display()),
                source,
            })?;
        }
        Ok(Box::new(KafkaWriter {
            producer,
            topic: self.topic.clone(),
            brokers: self.brokers.clone(),
            address: format!("kafka://{}/{}", self.brokers, self.topic),
            format: self.format.clone(),
            line: Vec::new(),
            failed,
            staging: self.staging.clone(),
            worker: worker.index,
            ctx: SinkContext::default(),
            buf: Vec::new(),
            next_part: 0,
            staged: Vec::new(),
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

    fn pre_commit(&mut self, next_epoch: u64) -> Result<PreCommit, SinkError> {
        if self.transactional() {
            // The round's records go to the checkpoint's writer, to be published once it completes.
            let mut handed = PreCommit {
                files: std::mem::take(&mut self.staged),
                writes: Vec::new(),
            };
            if let Some((write, staged)) = self.next_stage() {
                handed.writes.push(write);
                handed.files.push(staged);
            }
            // `0` is the end of the stream: the last round keeps its number.
            if next_epoch > 0 {
                self.ctx.epoch = next_epoch;
                self.next_part = 0;
            }
            return Ok(handed);
        }
        // A checkpoint covers what the broker has acknowledged.
        self.flush()?;
        Ok(PreCommit::default())
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
            Some(_) => {
                self.producer.poll(Duration::ZERO);
                self.check()
            }
        }
    }
}

/// Appends `record` to a staged file's bytes: its length (4 bytes, little-endian), then the record.
pub fn frame(record: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(record.len() as u32).to_le_bytes());
    out.extend_from_slice(record);
}

/// The records of a staged file's bytes; `Err` if they end inside a record.
fn records(mut bytes: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut records = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes
            .split_first_chunk::<4>()
            .ok_or("a record's length is cut off")?;
        let len = u32::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return Err(format!("a record of {len} bytes is cut off"));
        }
        records.push(&rest[..len]);
        bytes = &rest[len..];
    }
    Ok(records)
}

/// How long a transactional step (init, commit, offsets) may wait for the broker.
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(30);

/// The producers that commit staged output, one per transactional id, kept between commits (their
/// `init_transactions` is done once).
fn publishers() -> &'static Mutex<HashMap<String, Publisher>> {
    static PUBLISHERS: OnceLock<Mutex<HashMap<String, Publisher>>> = OnceLock::new();
    PUBLISHERS.get_or_init(Mutex::default)
}

/// A transactional producer, and a consumer of its marker group (which reads the last sequence
/// committed and gives the group's metadata to the transaction).
struct Publisher {
    producer: BaseProducer,
    marker: BaseConsumer,
}

impl Publisher {
    fn new(p: &Publish) -> Result<Publisher, KafkaError> {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &p.brokers)
            .set("transactional.id", &p.transactional_id)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "1")
            .create()?;
        // Fences the producers of crashed runs with this id and aborts their open transaction.
        producer.init_transactions(TRANSACTION_TIMEOUT)?;
        let marker: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &p.brokers)
            .set("group.id", format!("caudal-eo.{}", p.transactional_id))
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .create()?;
        Ok(Publisher { producer, marker })
    }

    /// The sequence after the last one committed for this id (0 if none).
    fn committed(&self, p: &Publish) -> Result<u64, KafkaError> {
        let mut partition = TopicPartitionList::new();
        partition.add_partition(&p.topic, 0);
        let committed = self
            .marker
            .committed_offsets(partition, TRANSACTION_TIMEOUT)?;
        Ok(match committed.elements().first().map(|e| e.offset()) {
            Some(Offset::Offset(next)) if next > 0 => next as u64,
            _ => 0,
        })
    }

    /// Produces `records` and commits `p.sequence` in one transaction, unless it was committed.
    fn publish(&self, p: &Publish, records: &[&[u8]]) -> Result<(), KafkaError> {
        if self.committed(p)? > p.sequence {
            return Ok(());
        }
        self.producer.begin_transaction()?;
        let attempt = attempt_nonce();
        let result = (|| {
            for (i, record) in records.iter().enumerate() {
                let tag = format!(
                    "{} {} {attempt:016x} {i} {}",
                    p.transactional_id,
                    p.sequence,
                    records.len()
                );
                let headers = OwnedHeaders::new().insert(Header {
                    key: "caudal-txn",
                    value: Some(&tag),
                });
                let mut message = BaseRecord::<(), [u8]>::to(&p.topic)
                    .payload(*record)
                    .headers(headers);
                loop {
                    match self.producer.send(message) {
                        Ok(()) => break,
                        Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                            self.producer.poll(Duration::from_millis(10));
                            message = back;
                        }
                        Err((e, _)) => return Err(e),
                    }
                }
            }
            let mut offsets = TopicPartitionList::new();
            offsets.add_partition_offset(&p.topic, 0, Offset::Offset(p.sequence as i64 + 1))?;
            let group = self
                .marker
                .group_metadata()
                .ok_or_else(|| KafkaError::Global(RDKafkaErrorCode::InvalidGroupId))?;
            self.producer
                .send_offsets_to_transaction(&offsets, &group, TRANSACTION_TIMEOUT)?;
            self.producer.commit_transaction(TRANSACTION_TIMEOUT)
        })();
        if result.is_err() {
            let _ = self.producer.abort_transaction(TRANSACTION_TIMEOUT);
        }
        result
    }
}

/// Closes the transactional producers this process keeps for the commits of exactly-once output (the
/// next commit starts a new one, as a new process would). For an application that runs many jobs, or
/// tests that stand for a restarted process.
pub fn close_publishers() {
    publishers()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
}

/// A number that tells one commit attempt from another.
fn attempt_nonce() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 40)
}

/// Commits the staged file `staged` of exactly-once Kafka output (see the module's documentation):
/// produces its records and records `p.sequence` in one transaction of `p.transactional_id`, then
/// removes the file. Done already (the file is gone, or the sequence is committed): nothing is
/// produced. The checkpoint coordinator calls it once the checkpoint that lists the file is complete,
/// and again on resume.
pub fn publish(p: &Publish, staged: &Path) -> Result<(), String> {
    let bytes = match std::fs::read(staged) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot read {}: {e}", staged.display())),
    };
    let records = records(&bytes).map_err(|e| format!("{} is damaged: {e}", staged.display()))?;
    let address = format!("kafka://{}/{}", p.brokers, p.topic);
    let mut publishers = publishers().lock().unwrap_or_else(|e| e.into_inner());
    let mut tries = 0;
    loop {
        tries += 1;
        let publisher = match publishers.get(&p.transactional_id) {
            Some(publisher) => publisher,
            None => {
                let made = Publisher::new(p).map_err(|e| {
                    format!(
                        "{address}: cannot start the transactional producer {}: {e}",
                        p.transactional_id
                    )
                })?;
                publishers.entry(p.transactional_id.clone()).or_insert(made)
            }
        };
        match publisher.publish(p, &records) {
            Ok(()) => break,
            // A producer fenced by another with the same id, or one in a fatal state: start again
            // with a new one (its init fences the other), once.
            Err(e) if tries < 2 => {
                tracing::warn!(
                    "{address}: committing {} failed ({e}); retrying with a new producer",
                    staged.display()
                );
                publishers.remove(&p.transactional_id);
            }
            Err(e) => {
                return Err(format!(
                    "{address}: cannot commit the transaction of {} ({} records): {e}",
                    staged.display(),
                    records.len()
                ))
            }
        }
    }
    match std::fs::remove_file(staged) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("cannot remove {}: {e}", staged.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framed_records_read_back_and_a_cut_one_is_an_error() {
        let mut bytes = Vec::new();
        for r in [&b"one"[..], b"", b"three"] {
            frame(r, &mut bytes);
        }
        assert_eq!(records(&bytes).unwrap(), vec![&b"one"[..], b"", b"three"]);
        assert!(records(&bytes[..bytes.len() - 1]).is_err());
        assert!(records(&bytes[..2]).is_err());
    }
}
