//! Temperature sensors: each reading is a sensor and a temperature in °C.
//!
//! Line format: `SENSOR,CELSIUS`, for example `sensor-3,21.5` or `3 21.5`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{field, fields, mix, Workload};
use crate::parse::FromLine;

/// One temperature reading.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// Position in the generated stream (0 for readings read from text).
    pub seq: u64,
    /// The sensor that took it.
    pub sensor: u32,
    /// The temperature, in °C.
    pub celsius: f64,
}

impl fmt::Display for Reading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sensor-{},{:.1}", self.sensor, self.celsius)
    }
}

impl FromLine for Reading {
    fn from_line(line: &str) -> Result<Self, String> {
        let mut it = fields(line);
        let sensor = it.next().map(|s| s.strip_prefix("sensor-").unwrap_or(s));
        let sensor = field(sensor, "sensor")?;
        let celsius: f64 = field(it.next(), "celsius")?;
        if !celsius.is_finite() {
            return Err(format!("temperature `{celsius}` is not a finite number"));
        }
        Ok(Reading {
            seq: 0,
            sensor,
            celsius,
        })
    }
}

/// Readings from `sensors` sensors, between 10 and 35 °C.
#[derive(Clone, Debug)]
pub struct Temperature {
    /// How many sensors there are.
    pub sensors: u32,
    /// The stream's seed.
    pub seed: u64,
}

impl Default for Temperature {
    fn default() -> Self {
        Temperature {
            sensors: 100,
            seed: 1,
        }
    }
}

impl Workload for Temperature {
    type Record = Reading;

    #[inline]
    fn record(&self, seq: u64) -> Reading {
        let r = mix(self.seed, seq);
        let sensor = (r % self.sensors as u64) as u32;
        let celsius = 10.0 + ((r >> 32) % 250) as f64 / 10.0;
        Reading {
            seq,
            sensor,
            celsius,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_prints() {
        let r = Temperature::default().record(42);
        let back = Reading::from_line(&r.to_string()).unwrap();
        assert_eq!(
            (back.sensor, back.celsius),
            (r.sensor, (r.celsius * 10.0).round() / 10.0)
        );
        assert_eq!(Reading::from_line("7 21.5").unwrap().celsius, 21.5);
    }

    #[test]
    fn bad_lines_say_which_field() {
        assert!(Reading::from_line("sensor-1")
            .unwrap_err()
            .contains("celsius"));
        assert!(Reading::from_line("x,1.0").unwrap_err().contains("sensor"));
        assert!(Reading::from_line("1,hot").unwrap_err().contains("hot"));
        assert!(Reading::from_line("1,NaN").is_err());
    }
}
