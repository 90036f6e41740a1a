//! Source descriptions as the CLI takes them: `socket://HOST:PORT`, `file://PATH`, `generator:WORKLOAD`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::workload::NAMES;

/// Where a command-line pipeline reads from.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceSpec {
    /// A TCP text socket (`socket://HOST:PORT`), read by worker 0.
    Socket {
        /// `host:port`.
        address: String,
    },
    /// A file, or a directory of files (`file://PATH`).
    File {
        /// The file or directory.
        path: PathBuf,
    },
    /// A Kafka topic (`kafka://HOST:PORT/TOPIC?...`, feature `kafka`): its records' values as text.
    #[cfg(feature = "kafka")]
    Kafka(super::kafka::KafkaSpec),
    /// A ZeroMQ SUB or PULL endpoint (`zmq+sub://HOST:PORT?topic=T`, `zmq+pull://HOST:PORT`, feature
    /// `zeromq`): its messages as text.
    #[cfg(feature = "zeromq")]
    Zmq(super::zeromq::ZmqSpec),
    /// A built-in workload (`generator:WORKLOAD`, optionally `?rate=N&limit=N`).
    Generator {
        /// One of [`NAMES`].
        workload: String,
        /// Records per second, or as fast as possible.
        rate: Option<f64>,
        /// How many records; unbounded if absent.
        limit: Option<u64>,
    },
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceSpec::Socket { address } => write!(f, "socket://{address}"),
            SourceSpec::File { path } => write!(f, "file://{}", path.display()),
            #[cfg(feature = "kafka")]
            SourceSpec::Kafka(spec) => write!(f, "{spec}"),
            #[cfg(feature = "zeromq")]
            SourceSpec::Zmq(spec) => write!(f, "{spec}"),
            SourceSpec::Generator {
                workload,
                rate,
                limit,
            } => {
                write!(f, "generator:{workload}")?;
                let mut sep = '?';
                if let Some(rate) = rate {
                    write!(f, "{sep}rate={rate}")?;
                    sep = '&';
                }
                if let Some(limit) = limit {
                    write!(f, "{sep}limit={limit}")?;
                }
                Ok(())
            }
        }
    }
}

/// A source description that could not be read.
/// The highest rate a generator can schedule: one record per nanosecond.
pub const MAX_RATE: f64 = 1e9;

/// Reads a rate in records per second: a finite number above 0 and at most [`MAX_RATE`] (`inf`,
/// `NaN`, negative rates and rates no generator can keep are refused here, not discovered as a hang).
pub fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 && rate <= MAX_RATE => Ok(rate),
        Ok(_) | Err(_) => Err(format!(
            "rate `{s}` must be a number of records per second above 0 and at most {MAX_RATE:e} \
             (for example 100000)"
        )),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid source `{given}`: {reason}. Write it as `socket://HOST:PORT` (for example `socket://localhost:9999`), `file://PATH` (a file or a watched directory), `kafka://HOST:PORT/TOPIC[?start=earliest|latest|committed&group=G&until=end]`, `zmq+sub://HOST:PORT[?topic=T&hwm=N&limit=N]`, `zmq+pull://HOST:PORT[?hwm=N&limit=N]` or `generator:WORKLOAD[?rate=N&limit=N]` with WORKLOAD one of {workloads}")]
pub struct SourceSpecError {
    given: String,
    reason: String,
    workloads: String,
}

impl FromStr for SourceSpec {
    type Err = SourceSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| SourceSpecError {
            given: s.to_string(),
            reason,
            workloads: NAMES.join(", "),
        };
        if let Some(address) = s.strip_prefix("socket://") {
            let (host, port) = address
                .rsplit_once(':')
                .ok_or_else(|| err("the address needs a port".into()))?;
            if host.is_empty() {
                return Err(err("the address needs a host".into()));
            }
            port.parse::<u16>()
                .map_err(|_| err(format!("`{port}` is not a port number")))?;
            return Ok(SourceSpec::Socket {
                address: address.to_string(),
            });
        }
        if s.starts_with("kafka://") {
            #[cfg(feature = "kafka")]
            return s.parse().map(SourceSpec::Kafka).map_err(err);
            #[cfg(not(feature = "kafka"))]
            return Err(err(
                "this caudal was built without Kafka (cargo build --features kafka)".into(),
            ));
        }
        if s.starts_with("zmq+sub://") || s.starts_with("zmq+pull://") {
            #[cfg(feature = "zeromq")]
            return s.parse().map(SourceSpec::Zmq).map_err(err);
            #[cfg(not(feature = "zeromq"))]
            return Err(err(
                "this caudal was built without ZeroMQ (cargo build --features zeromq)".into(),
            ));
        }
        if let Some(path) = s.strip_prefix("file://") {
            if path.is_empty() {
                return Err(err("the path is empty".into()));
            }
            return Ok(SourceSpec::File {
                path: PathBuf::from(path),
            });
        }
        if let Some(rest) = s.strip_prefix("generator:") {
            let (workload, query) = rest.split_once('?').unwrap_or((rest, ""));
            if !NAMES.contains(&workload) {
                return Err(err(format!("unknown workload `{workload}`")));
            }
            let (mut rate, mut limit) = (None, None);
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                match pair.split_once('=') {
                    Some(("rate", v)) => rate = Some(parse_rate(v).map_err(err)?),
                    Some(("limit", v)) => {
                        limit = Some(
                            v.parse::<u64>()
                                .map_err(|_| err(format!("limit `{v}` is not a count")))?,
                        )
                    }
                    _ => return Err(err(format!("unknown option `{pair}` (known: rate, limit)"))),
                }
            }
            return Ok(SourceSpec::Generator {
                workload: workload.to_string(),
                rate,
                limit,
            });
        }
        Err(err("unknown kind of source".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_prints_every_kind() {
        for text in [
            "socket://localhost:9999",
            "file:///tmp/in",
            "generator:posts",
            "generator:temperature?rate=1000&limit=50",
        ] {
            assert_eq!(text.parse::<SourceSpec>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn errors_say_what_is_wrong_and_show_the_forms() {
        for (bad, why) in [
            ("socket://localhost", "port"),
            ("socket://localhost:http", "not a port"),
            ("generator:weather", "unknown workload `weather`"),
            ("generator:posts?rate=-3", "rate `-3` must be"),
            ("generator:posts?rate=inf", "rate `inf` must be"),
            ("generator:posts?rate=NaN", "rate `NaN` must be"),
            ("generator:posts?rate=1e30", "at most 1e9"),
            ("zmq://x", "unknown kind"),
            #[cfg(feature = "kafka")]
            ("kafka://x", "has no topic"),
            #[cfg(not(feature = "kafka"))]
            ("kafka://x:1/t", "built without Kafka"),
        ] {
            let msg = bad.parse::<SourceSpec>().unwrap_err().to_string();
            assert!(msg.contains(why), "{msg}");
            assert!(msg.contains("socket://HOST:PORT"), "{msg}");
        }
    }
}
