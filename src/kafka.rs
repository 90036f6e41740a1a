//! What Caudal's Kafka source and sink, its exactly-once commits, the lab and the Kafka examples share
//! in using the librdkafka client (feature `kafka`).

use crate::config::defaults;

use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::ToBytes;
use rdkafka::producer::{BaseProducer, BaseRecord, ProducerContext, ThreadedProducer};

/// Sets a consumer's fetches to keep latency low and reads steady (Caudal's Kafka source and the lab's
/// reader of results use it):
///
/// * librdkafka's prefetch queue is bounded (`queued.max.messages.kbytes`), so that a slow pipeline
///   holds the fetches back; but when the queue is above its thresholds at a fetch, librdkafka
///   postpones the partition's next fetch by `fetch.queue.backoff.ms` (1 s by default), and a reader
///   that drains the queue in the meantime then waits with nothing to read: measured, 4 stalls of 1 s
///   in a read of 1M records. Look again after 5 ms instead.
/// * `fetch.wait.max.ms` is how long the broker may hold a fetch while it has nothing new. A real
///   Kafka broker answers as soon as records come, but tansu holds the fetch to its end: librdkafka's
///   500 ms default then became 140 ms of median latency at 10,000 records/s
///   ([`defaults::KAFKA_FETCH_WAIT`]).
pub fn prompt_fetches(config: &mut ClientConfig) -> &mut ClientConfig {
    config.set("fetch.queue.backoff.ms", "5").set(
        "fetch.wait.max.ms",
        defaults::KAFKA_FETCH_WAIT.as_millis().to_string(),
    )
}

/// How long one wait for room in a full producer queue lasts before the send is tried again.
const QUEUE_FULL_WAIT: Duration = Duration::from_millis(10);

/// What a producer's `send` gives back when it does not take a record: why, and the record.
pub type Refused<'a, K, P, O> = (KafkaError, BaseRecord<'a, K, P, O>);

/// A librdkafka producer that [`send_waiting`] sends with: one whose events its caller serves
/// ([`BaseProducer`]), or one with a thread of its own for them ([`ThreadedProducer`]).
pub trait Sender<C: ProducerContext> {
    /// The producer's `send`.
    #[allow(clippy::result_large_err)] // librdkafka's own signature: the record comes back
    fn try_send<'a, K, P>(
        &self,
        record: BaseRecord<'a, K, P, C::DeliveryOpaque>,
    ) -> Result<(), Refused<'a, K, P, C::DeliveryOpaque>>
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized;

    /// Serves the producer's events (acknowledgements) for up to `timeout`.
    fn serve(&self, timeout: Duration);
}

/// Implements [`Sender`] for a librdkafka producer type whose own `send` and `poll` do it.
macro_rules! sender_by_send_and_poll {
    ($producer:ident, $($bound:tt)+) => {
        impl<C: $($bound)+> Sender<C> for $producer<C> {
            fn try_send<'a, K, P>(
                &self,
                record: BaseRecord<'a, K, P, C::DeliveryOpaque>,
            ) -> Result<(), Refused<'a, K, P, C::DeliveryOpaque>>
            where
                K: ToBytes + ?Sized,
                P: ToBytes + ?Sized,
            {
                self.send(record)
            }

            fn serve(&self, timeout: Duration) {
                self.poll(timeout);
            }
        }
    };
}

sender_by_send_and_poll!(BaseProducer, ProducerContext);
sender_by_send_and_poll!(ThreadedProducer, ProducerContext + 'static);

/// Sends `record` with `producer`; while librdkafka's queue is full, serves the producer's events
/// (the broker's acknowledgements free room) and tries again, so that the caller waits: how the broker
/// pushes back on whoever produces. Any other error is returned.
pub fn send_waiting<'a, C, S, K, P>(
    producer: &S,
    mut record: BaseRecord<'a, K, P, C::DeliveryOpaque>,
) -> Result<(), KafkaError>
where
    C: ProducerContext,
    S: Sender<C>,
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
{
    loop {
        match producer.try_send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                producer.serve(QUEUE_FULL_WAIT);
                record = back;
            }
            Err((e, _)) => return Err(e),
        }
    }
}
