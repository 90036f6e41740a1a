//! `caudal compare`: one workload, the same records, run per-record, in micro-batches and as a batch;
//! end-to-end latency and throughput of each, side by side.
//!
//! Method (see DESIGN §6): the generator is open loop at a fixed offered rate; record `seq` is due at
//! `start + seq / rate`, its *intended* send time, and a result's latency is the time the sink sees it
//! minus the intended send time of the record that produced it. A stalled pipeline therefore cannot hide
//! its stall (no coordinated omission). Latencies after the warm-up go into an HDR histogram (3
//! significant digits). Every mode reads the same bounded stream, and the number and an order-independent
//! checksum of the results must agree across modes; a mismatch is an error.
//!
//! * `config`: the workloads and what to run; `keys`: the keys a researcher sets (`--keys`, `--skew`); `pipelines`: the lab's pipelines and their measured
//!   results; `sink`: the latency sink; CPU, memory and machine readings come from [`crate::system`];
//! * `nexmark`: NEXMark's queries as lab workloads (`--workload nexmark:q5`), measured from the event
//!   that made each result due;
//! * `run`: one measured run, and the interleaved comparison; `sweep`: the throughput sweep;
//! * `report`: percentiles, per-mode summaries, every run, CSV and the terminal table;
//! * `calibrate`: Spark's model measured on the real Spark peer (`--calibrate spark`), by
//!   `spark_fit`'s fit of its batches;
//! * `peer`: real Spark Streaming and Flink run beside Caudal on the same records (`--peers`);
//! * `via_kafka` (feature `kafka`): the same runs with a Kafka broker in the measured path.

pub mod calibrate;
mod config;
pub mod keys;
pub mod nexmark;
pub mod peer;
mod pipelines;
mod report;
mod run;
mod sink;
pub mod spark_fit;
mod sweep;
#[cfg(feature = "kafka")]
pub mod via_kafka;

pub use crate::system::*;
pub use config::*;
pub use pipelines::*;
pub use report::*;
pub use run::*;
pub use sweep::*;
