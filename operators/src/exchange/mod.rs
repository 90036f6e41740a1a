//! Bounded exchange between workers: every exchange of the operators (the keyed shell's, `repartition`)
//! counts the records it has handed to each worker of the process and that worker has not taken yet,
//! and what it has sent to each worker of another process that this one has not acknowledged, so that
//! sources can stop reading while a worker falls behind (credit-based flow control in the manner of
//! Flink's: timely's exchange queues themselves are unbounded).
//!
//! * [`ExchangeGauge`]: the count per worker of the process, its peak, and the budget sources hold to;
//!   installed in timely's worker configuration, so that every worker of a process shares it;
//! * [`Metered`]: the parallelization contract that keeps the count: timely's exchange, with a counter
//!   on each sender and on the receiver;
//! * `Credits`: the acknowledgements a receiver sends back to the workers of other processes that sent
//!   it records, on a channel of timely's allocator beside the exchange's.

mod credits;
mod gauge;
mod pact;

pub use gauge::ExchangeGauge;
pub use pact::Metered;
