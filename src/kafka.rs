//! What Caudal's Kafka sink, its exactly-once commits and the Kafka examples share in using the
//! librdkafka client (feature `kafka`).

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::ToBytes;
use rdkafka::producer::{BaseProducer, BaseRecord, ProducerContext};

/// How long one wait for room in a full producer queue lasts before the send is tried again.
const QUEUE_FULL_WAIT: Duration = Duration::from_millis(10);

/// Sends `record` with `producer`; while librdkafka's queue is full, serves the producer's events
/// (the broker's acknowledgements free room) and tries again, so that the caller waits: how the broker
/// pushes back on whoever produces. Any other error is returned.
pub fn send_waiting<'a, C, K, P>(
    producer: &BaseProducer<C>,
    mut record: BaseRecord<'a, K, P, C::DeliveryOpaque>,
) -> Result<(), KafkaError>
where
    C: ProducerContext,
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
{
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                producer.poll(QUEUE_FULL_WAIT);
                record = back;
            }
            Err((e, _)) => return Err(e),
        }
    }
}
