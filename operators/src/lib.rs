//! # caudal-operators
//!
//! The timely dataflow operators Caudal's runtime is built from. This crate knows timely and nothing of
//! the runtime: it can be used on its own in any timely 0.32 dataflow whose timestamp is
//! [`EventTime`] (signed ms since the Unix epoch, negative before 1970, as Flink's).
//!
//! The layers, lowest first:
//! * [`time`]: event time, the watermark, and how they map onto timely's frontier;
//! * [`watermark`]: watermark strategies and the tracker sources run;
//! * [`hash`]: routing keys to workers;
//! * [`stream`]: [`EventStream`], the stream type all operators take and return;
//! * [`stateless`]: map, flat_map, filter, union, key_by, repartition, inspect;
//! * [`budget`]: how much timer work one activation of a keyed operator may do;
//! * [`shell`]: the keyed-operator shell every stateful operator runs on: exchange by key, per-key
//!   state, timers, capabilities, the late output, the work budget, and the worker's register of
//!   state that checkpoints snapshot and restore;
//! * [`keyed`]: per-key state that updates and emits on every record;
//! * [`process`]: per-key state with event- and processing-time timers, and state time-to-live;
//! * [`window`]: tumbling, sliding, session, marker-session and processing-time windows with allowed
//!   lateness and a late output; windowed joins and cogroup; replaying recorded logs;
//! * [`interval_join`]: joining records of two streams that are close in event time;
//! * [`epoch`]: everything of one timestamp handed over at once, in timestamp order (micro-batch
//!   layers such as Caudal's DStream layer build on it).

pub mod budget;
pub mod epoch;
pub mod exchange;
pub mod hash;
pub mod interval_join;
pub mod keyed;
pub mod process;
pub mod shell;
pub mod stateless;
pub mod stream;
pub mod time;
pub mod watermark;
pub mod window;

pub use stateless::Partitioning;
pub use stream::{example, EventStream};
pub use time::{Event, EventTime};
pub use watermark::{WatermarkStrategy, WatermarkTracker};
