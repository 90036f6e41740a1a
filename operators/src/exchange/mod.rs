//! Bounded exchange between workers: every exchange of the operators (the keyed shell's, `repartition`)
//! counts the records it has handed to each worker of the process and that worker has not taken yet,
//! so that sources can stop reading while a worker falls behind (credit-based flow control in the
//! manner of Flink's, kept to one process: timely's exchange queues themselves are unbounded).
//!
//! * [`ExchangeGauge`]: the count per worker of the process, its peak, and the budget sources hold to;
//!   installed in timely's worker configuration, so that every worker of a process shares it;
//! * [`Metered`]: the parallelization contract that keeps the count: timely's exchange, with a counter
//!   on each sender to a worker of this process and on the receiver.

mod gauge;
mod pact;

pub use gauge::ExchangeGauge;
pub use pact::Metered;
