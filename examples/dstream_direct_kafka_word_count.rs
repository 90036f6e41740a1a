//! Spark's `DirectKafkaWordCount`: word counts per batch over a Kafka topic read with a direct stream
//! (`KafkaUtils.createDirectStream`), with each batch's offset ranges, and offsets kept in the
//! checkpoint so that a restarted program reads on where it was.
//!
//! ```python
//! ssc = StreamingContext(sc, 2)
//! kvs = KafkaUtils.createDirectStream(ssc, [topic], {"metadata.broker.list": brokers})
//! kvs.map(lambda x: x[1]).flatMap(lambda line: line.split(" ")) \
//!    .map(lambda word: (word, 1)).reduceByKey(lambda a, b: a + b).pprint()
//! ```
//!
//! scripts/kafka-broker.sh start && scripts/kafka-broker.sh topic words 2
//! cargo run --release --example dstream_direct_kafka_word_count -- localhost:9092 words ck
//! (and write lines to the topic, for example with examples/kafka_latency or any Kafka producer).
//! Stop it (Ctrl-C, or even `kill -9`) and start it again with the same command: it goes on from its
//! last checkpoint (batches after it are read again, as in Spark).

use std::time::Duration;

use caudal::dstream::StreamingContext;
use caudal::source::kafka::KafkaSpec;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [brokers, topic, dir] = args.as_slice() else {
        eprintln!("usage: dstream_direct_kafka_word_count HOST:PORT TOPIC CHECKPOINT_DIR");
        std::process::exit(2);
    };
    let spec: KafkaSpec = format!("kafka://{brokers}/{topic}")
        .parse()
        .unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(2);
        });
    let checkpoint_dir = dir.clone();
    let ssc = StreamingContext::get_or_create(dir.as_str(), || {
        let mut ssc = StreamingContext::new(Duration::from_secs(2));
        ssc.checkpoint(&checkpoint_dir);
        ssc
    })
    .unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1);
    });
    ssc.start(move |ssc| {
        let direct = ssc.kafka_direct_stream(spec);
        let offsets = direct.offsets.clone();
        direct.records.foreach_rdd(move |time, _rdd| {
            for r in offsets.of(time) {
                eprintln!(
                    "{} partition {}: offsets {}..{}",
                    r.topic, r.partition, r.from_offset, r.until_offset
                );
            }
        });
        direct
            .records
            .flat_map(|record| {
                record
                    .text()
                    .unwrap_or_default()
                    .split(' ')
                    .filter(|w| !w.is_empty())
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .map(|word| (word, 1u64))
            .reduce_by_key(|a, b| a + b)
            .pprint(10);
    })
    .unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1);
    });
    if let Err(e) = ssc.await_termination() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
