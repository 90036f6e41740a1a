//! How staged output that is not a file is committed once its checkpoint is complete: today, exactly-once
//! Kafka output (see [`crate::sink::kafka`]). A staged file holds one sink instance's records of one
//! checkpoint round, framed ([`frame`]); [`commit`] produces them in one Kafka transaction of the
//! instance's transactional id, which also commits the round's sequence as the offset of a consumer
//! group of the instance's own, so that a commit repeated after a crash publishes nothing twice.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// How staged output is committed to a Kafka topic: the file holds the records of one sink instance
/// for one checkpoint round, and committing it produces them in one Kafka transaction of the
/// instance's transactional id, which also records `sequence` as the offset of a consumer group of its
/// own (see [`crate::sink::kafka`]); a commit repeated after a crash finds the sequence there and
/// publishes nothing twice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publish {
    /// `host:port` of the brokers.
    pub brokers: String,
    /// The topic.
    pub topic: String,
    /// The sink instance's transactional id, the same in every run of the job (it fences the
    /// producer of a crashed run).
    pub transactional_id: String,
    /// Increases with every file the instance stages, across runs.
    pub sequence: u64,
}

/// Commits the staged file `staged` as `publish` says (see [`publish`]).
pub(crate) fn commit(publish: &Publish, staged: &Path) -> std::io::Result<()> {
    #[cfg(feature = "kafka")]
    return kafka::publish(publish, staged).map_err(std::io::Error::other);
    #[cfg(not(feature = "kafka"))]
    {
        let _ = staged;
        Err(std::io::Error::other(format!(
            "the checkpoint holds output for kafka://{}/{}, but this caudal was built without Kafka \
             (cargo build --features kafka)",
            publish.brokers, publish.topic
        )))
    }
}

/// Appends `record` to a staged file's bytes: its length (4 bytes, little-endian), then the record.
pub fn frame(record: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(record.len() as u32).to_le_bytes());
    out.extend_from_slice(record);
}

/// The records of a staged file's bytes; `Err` if they end inside a record.
#[cfg_attr(not(feature = "kafka"), allow(dead_code))]
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

#[cfg(feature = "kafka")]
pub use kafka::{close_publishers, publish};

#[cfg(feature = "kafka")]
mod kafka {
    use std::collections::HashMap;
    use std::path::Path;
    use std::sync::{Mutex, OnceLock};
    use std::time::Duration;

    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    use rdkafka::message::{Header, OwnedHeaders};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use rdkafka::{Offset, TopicPartitionList};

    use super::{records, Publish};

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
                    let message = BaseRecord::<(), [u8]>::to(&p.topic)
                        .payload(*record)
                        .headers(headers);
                    crate::kafka::send_waiting(&self.producer, message)?;
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
        let records =
            records(&bytes).map_err(|e| format!("{} is damaged: {e}", staged.display()))?;
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
