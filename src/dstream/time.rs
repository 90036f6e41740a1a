//! Batch times, and how `pprint` prints them.

use std::fmt::Write;

pub(crate) use crate::source::driver::batch_of;

/// When a batch runs: its index (0-based) and its time, `zero + (index + 1) × interval` in ms since
/// the Unix epoch (the manual clock's zero is 0, so batch `i` is at `(i + 1) × interval`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BatchTime {
    /// The batch's index, from 0.
    pub batch: u64,
    /// The batch's time in milliseconds since the Unix epoch.
    pub ms: u64,
}

impl BatchTime {
    /// `YYYY-MM-DD HH:MM:SS`, with `.ffffff` when the time is not a whole second, as Python prints a
    /// `datetime`: in UTC, or in the local time zone.
    pub fn format(&self, utc: bool) -> String {
        let secs = (self.ms / 1000) as i64;
        let (y, mo, d, h, mi, s) = if utc {
            utc_fields(secs)
        } else {
            local_fields(secs).unwrap_or_else(|| utc_fields(secs))
        };
        let mut out = format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}");
        if !self.ms.is_multiple_of(1000) {
            let _ = write!(out, ".{:06}", (self.ms % 1000) * 1000);
        }
        out
    }
}

type Fields = (i64, u32, u32, u32, u32, u32);

/// The calendar fields of a Unix time in UTC.
fn utc_fields(secs: i64) -> Fields {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem / 60 % 60, rem % 60)
}

/// The calendar fields of a Unix time in the local time zone.
fn local_fields(secs: i64) -> Option<Fields> {
    let t: libc::time_t = secs as libc::time_t;
    // SAFETY: `localtime_r` only writes the `tm` we give it, and reads `t`.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    ok.then_some((
        tm.tm_year as i64 + 1900,
        tm.tm_mon as u32 + 1,
        tm.tm_mday as u32,
        tm.tm_hour as u32,
        tm.tm_min as u32,
        tm.tm_sec as u32,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_python_datetime() {
        let t = |ms| BatchTime { batch: 0, ms }.format(true);
        assert_eq!(t(1000), "1970-01-01 00:00:01");
        assert_eq!(t(1500), "1970-01-01 00:00:01.500000");
        assert_eq!(t(1_764_072_000_000), "2025-11-25 12:00:00");
        assert_eq!(t(951_782_400_000), "2000-02-29 00:00:00");
    }
}
