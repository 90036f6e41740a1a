//! The DStream layer: Spark Streaming's API, semantics and output on Caudal's micro-batches.
//!
//! A classic Spark Streaming program ports line for line: a [`StreamingContext`] with a batch
//! interval, input streams ([`Streams::queue_stream`], [`Streams::socket_text_stream`],
//! [`Streams::text_file_stream`], [`Streams::union`]), transformations on [`DStream`]s (`map`,
//! `reduce_by_key`, `window`, `update_state_by_key`, joins, ...) and output operations (`pprint`,
//! `foreach_rdd`, `save_as_text_files`). The program is a closure given to
//! [`StreamingContext::start`] (or, on several workers, [`StreamingContext::start_parallel`]); it runs
//! on timely workers where **batch `i` is timely epoch `i`**: an input stream emits its batch `i` (an
//! [`Rdd`] of partitions, spread over the workers) at epoch `i` when the clock says so, each operation
//! reacts to a batch (windows and state once the frontier has passed it, in batch order), and output
//! operations run on the first worker once the frontier has passed the batch, in registration order.
//! On any number of workers and processes the results are those of one worker, partition for
//! partition.
//!
//! Semantics are Spark's (see `tests/conformance/dstream-spec.md`), down to partitions and `pprint`'s text: keyed results are
//! placed by PySpark's hash, windows fire at multiples of their slide, `reduce_by_key_and_window` with an
//! inverse keeps keys whose value went back to zero, `update_state_by_key` emits every key every batch.
//!
//! ```
//! use caudal::dstream::{RddQueue, StreamingContext};
//! use std::time::Duration;
//!
//! let ssc = StreamingContext::manual(Duration::from_secs(1));
//! let queue: RddQueue<i64> = [vec![vec![4, 2], vec![7, 15, 4]], vec![vec![2, 3, 16], vec![3]]]
//!     .into_iter()
//!     .collect();
//! ssc.start(move |ssc| ssc.queue_stream(&queue).reduce(|a, b| a.max(b)).pprint(10))
//!     .unwrap();
//! ssc.advance(3).unwrap(); // prints 15, then 16, then an empty batch
//! ssc.stop(true).unwrap();
//! ```
//!
//! [`spec`] runs DStream pipelines described in JSON (`caudal dstream SPEC.json`), over dynamically
//! typed records ([`value::Value`]).

mod blocks;
mod checkpoint;
pub mod context;
mod exchange;
pub mod hash;
pub mod input;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod output;
pub mod pyfmt;
pub mod rdd;
mod slice;
pub mod spec;
pub mod state;
pub mod stream;
pub mod time;
pub mod value;
pub mod window;
mod xorshift;

pub use context::{DStreamError, StreamingContext, Streams};
pub use hash::PartitionKey;
pub use input::RddQueue;
pub use output::pprint_text;
pub use pyfmt::PyFormat;
pub use rdd::{Data, Key, Rdd};
pub use stream::DStream;
pub use time::BatchTime;
pub use window::KeyFilter;
