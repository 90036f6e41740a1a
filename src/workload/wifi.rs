//! Wifi analytics: devices connecting to, leaving and probing access points.
//!
//! Line format: `DEVICE,ACCESS_POINT,KIND,RSSI` with `KIND` one of `connect`, `disconnect`, `probe`, for
//! example `4711,12,connect,-63`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{field, fields, mix, Workload};
use crate::parse::FromLine;

/// What a device did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WifiKind {
    /// Joined the access point.
    Connect,
    /// Left it.
    Disconnect,
    /// Was seen probing for networks.
    Probe,
}

impl FromStr for WifiKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "connect" => Ok(WifiKind::Connect),
            "disconnect" => Ok(WifiKind::Disconnect),
            "probe" => Ok(WifiKind::Probe),
            _ => Err(()),
        }
    }
}

impl fmt::Display for WifiKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WifiKind::Connect => "connect",
            WifiKind::Disconnect => "disconnect",
            WifiKind::Probe => "probe",
        })
    }
}

/// One wifi event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WifiEvent {
    /// Position in the generated stream (0 for events read from text).
    pub seq: u64,
    /// The device.
    pub device: u32,
    /// The access point.
    pub access_point: u16,
    /// What happened.
    pub kind: WifiKind,
    /// Received signal strength, in dBm.
    pub rssi: i8,
}

impl fmt::Display for WifiEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{},{},{},{}",
            self.device, self.access_point, self.kind, self.rssi
        )
    }
}

impl FromLine for WifiEvent {
    fn from_line(line: &str) -> Result<Self, String> {
        let mut it = fields(line);
        Ok(WifiEvent {
            seq: 0,
            device: field(it.next(), "device")?,
            access_point: field(it.next(), "access_point")?,
            kind: field(it.next(), "kind (connect, disconnect or probe)")?,
            rssi: field(it.next(), "rssi")?,
        })
    }
}

/// Events of `devices` devices around `access_points` access points.
#[derive(Clone, Debug)]
pub struct Wifi {
    /// How many devices there are.
    pub devices: u32,
    /// How many access points there are.
    pub access_points: u16,
    /// The stream's seed.
    pub seed: u64,
}

impl Default for Wifi {
    fn default() -> Self {
        Wifi {
            devices: 5_000,
            access_points: 50,
            seed: 1,
        }
    }
}

impl Workload for Wifi {
    type Record = WifiEvent;

    #[inline]
    fn record(&self, seq: u64) -> WifiEvent {
        let r = mix(self.seed, seq);
        let kind = match (r >> 40) % 10 {
            0..=3 => WifiKind::Probe,
            4..=6 => WifiKind::Connect,
            _ => WifiKind::Disconnect,
        };
        WifiEvent {
            seq,
            device: (r % self.devices as u64) as u32,
            access_point: ((r >> 24) % self.access_points as u64) as u16,
            kind,
            rssi: -30 - ((r >> 48) % 60) as i8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_prints() {
        let w = Wifi::default();
        for seq in 0..20 {
            let e = w.record(seq);
            assert_eq!(
                WifiEvent {
                    seq,
                    ..WifiEvent::from_line(&e.to_string()).unwrap()
                },
                e
            );
        }
        assert!(WifiEvent::from_line("1,2,fly,-40")
            .unwrap_err()
            .contains("kind"));
    }
}
