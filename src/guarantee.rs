//! [`Guarantee`]: what a run promises about its output after a crash (how it is kept: [`crate::checkpoint`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a crash may do to a run's output (see [`crate::checkpoint`]). Serialized by the names the
/// command line takes (`at-least-once`), as in results.json.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Guarantee {
    /// Nothing is kept: a restarted run starts from scratch.
    #[default]
    None,
    /// Resume from the last complete checkpoint, and never write a result twice: output that the
    /// crashed run may have written is dropped when the resumed run makes it again (an output fence,
    /// see `checkpoint::OutputFence`), so results in flight at the crash may be
    /// missing and none appears twice. Sources that cannot replay are read on from where they are, with
    /// no write-ahead log.
    AtMostOnce,
    /// Resume from the last complete checkpoint: nothing is missing, output made after it may appear
    /// twice.
    AtLeastOnce,
    /// Resume from the last complete checkpoint, and commit output only with the checkpoint that covers
    /// it: the committed output equals that of a run without failure.
    ExactlyOnce,
}

impl Guarantee {
    /// The names the command line takes.
    pub const NAMES: [&'static str; 4] = ["none", "at-most-once", "at-least-once", "exactly-once"];

    /// Whether checkpoints are taken.
    pub fn checkpoints(self) -> bool {
        self != Guarantee::None
    }

    /// Whether output is staged and committed with checkpoints.
    pub fn transactional(self) -> bool {
        self == Guarantee::ExactlyOnce
    }

    /// Whether the input after a checkpoint must be read again exactly (sources that cannot replay
    /// need a write-ahead log); at-most-once may lose it.
    pub fn needs_replay(self) -> bool {
        matches!(self, Guarantee::AtLeastOnce | Guarantee::ExactlyOnce)
    }
}

impl fmt::Display for Guarantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Guarantee::None => "none",
            Guarantee::AtMostOnce => "at-most-once",
            Guarantee::AtLeastOnce => "at-least-once",
            Guarantee::ExactlyOnce => "exactly-once",
        })
    }
}

impl FromStr for Guarantee {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Guarantee::None),
            "at-least-once" => Ok(Guarantee::AtLeastOnce),
            "exactly-once" => Ok(Guarantee::ExactlyOnce),
            "at-most-once" => Ok(Guarantee::AtMostOnce),
            other => Err(format!(
                "unknown guarantee `{other}`: choose one of {}",
                Guarantee::NAMES.join(", ")
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_say_what_to_use() {
        for name in Guarantee::NAMES {
            assert_eq!(name.parse::<Guarantee>().unwrap().to_string(), name);
        }
        let err = "exactly-twice".parse::<Guarantee>().unwrap_err();
        assert!(err.contains("exactly-once"), "{err}");
    }
}
