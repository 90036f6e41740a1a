//! The work budget of one activation: how many timers a keyed operator fires (window firings, session
//! closings, expiries, buffer evictions) before it yields the worker to other operators.
//!
//! Without a bound, a watermark that closes a million windows at once makes the operator fire them all
//! in one activation, and every record behind it on the worker waits for the whole burst. With a
//! budget the operator fires at most that many, keeps the rest, re-activates itself, and holds its
//! output frontier until the last one is out, so results and their times are unchanged; only their
//! spread over activations is (differential dataflow's "fuel" does the same for its merges).
//!
//! The budget is a setting of the timely worker (key [`WorkBudget::CONFIG_KEY`]), so one place decides
//! it for every keyed operator of a run:
//!
//! ```
//! use caudal_operators::budget::WorkBudget;
//! let mut config = timely::Config::thread();
//! WorkBudget::timers(500).install(&mut config);
//! timely::execute(config, |worker| {
//!     worker.dataflow::<caudal_operators::EventTime, _, _>(|scope| {
//!         assert_eq!(WorkBudget::of(scope), WorkBudget::timers(500));
//!     });
//! })
//! .unwrap();
//! ```

use serde::{Deserialize, Serialize};
use timely::dataflow::Scope;
use timely::progress::Timestamp;

/// How much timer work one activation of a keyed operator may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkBudget {
    /// Timers fired per activation at most; `None`: no bound (everything due fires at once).
    pub timers_per_activation: Option<usize>,
}

impl WorkBudget {
    /// The key under which the budget is stored in timely's worker configuration.
    pub const CONFIG_KEY: &'static str = "caudal.work_budget";

    /// The default: 1,000 timers per activation, about 0.25 ms of window firing on this project's
    /// machine, so that a burst of firings adds well under a millisecond to other records' latency.
    pub const DEFAULT: WorkBudget = WorkBudget {
        timers_per_activation: Some(1_000),
    };

    /// At most `n` timers per activation (at least one).
    pub fn timers(n: usize) -> Self {
        WorkBudget {
            timers_per_activation: Some(n.max(1)),
        }
    }

    /// No bound: every due timer fires in the activation that finds it due.
    pub fn unbounded() -> Self {
        WorkBudget {
            timers_per_activation: None,
        }
    }

    /// Stores this budget in a timely configuration, for every worker of the run.
    pub fn install(self, config: &mut timely::Config) {
        config.worker.set(Self::CONFIG_KEY.to_string(), self);
    }

    /// The budget of the worker that builds `scope`: the installed one, or [`WorkBudget::DEFAULT`].
    pub fn of<T: Timestamp>(scope: Scope<'_, T>) -> Self {
        scope
            .worker()
            .config()
            .get::<WorkBudget>(Self::CONFIG_KEY)
            .copied()
            .unwrap_or_default()
    }

    /// The number of timers one activation may fire.
    pub(crate) fn limit(&self) -> usize {
        self.timers_per_activation.unwrap_or(usize::MAX)
    }
}

/// `1000` or `unbounded`, as [`WorkBudget::from_str`](std::str::FromStr) reads it.
impl std::fmt::Display for WorkBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.timers_per_activation {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("unbounded"),
        }
    }
}

/// Reads a positive number of timers per activation, or `unbounded`.
impl std::str::FromStr for WorkBudget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "unbounded" => Ok(WorkBudget::unbounded()),
            n => match n.parse::<usize>() {
                Ok(n) if n > 0 => Ok(WorkBudget::timers(n)),
                _ => Err(format!(
                    "`{s}` is not a work budget: give a positive number of timers per activation, or `unbounded`"
                )),
            },
        }
    }
}

impl Default for WorkBudget {
    fn default() -> Self {
        Self::DEFAULT
    }
}
