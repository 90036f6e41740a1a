//! Keyed process functions: event-time timers, and state that expires after its time-to-live (against a
//! model over random logs and watermarks).

use std::collections::HashMap;

use caudal_operators::process::{KeyContext, KeyedProcess, Timer, Ttl};
use caudal_operators::window::replay::{replay, LogEntry, ReplayWatermark};
use caudal_operators::EventTime;
use proptest::prelude::*;

mod common;
use common::{frontier_after_record, log, watermark};

/// Counts each key's records and reports the count 1000 ms (event time) after the key's first record.
struct CountForASecond;

impl KeyedProcess<u8, i64> for CountForASecond {
    type State = u64;
    type Out = (u8, EventTime, u64);

    fn on_record(&mut self, _value: i64, ctx: &mut KeyContext<'_, u8, u64, Self::Out>) {
        let time = ctx.time();
        if ctx.state().is_none() {
            ctx.set_event_timer(time + 1000);
        }
        *ctx.state().get_or_insert(0) += 1;
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut KeyContext<'_, u8, u64, Self::Out>) {
        let Timer::EventTime(at) = timer else { return };
        if let Some(count) = ctx.state().take() {
            let key = *ctx.key();
            ctx.emit((key, at, count));
        }
    }
}

fn record(key: u8, time: EventTime) -> LogEntry<u8, i64> {
    LogEntry::Record {
        key,
        value: 0,
        time,
    }
}

#[test]
fn event_timers_fire_when_the_watermark_reaches_them() {
    let log = vec![
        record(1, 100),
        record(1, 900),
        record(2, 950),
        LogEntry::Watermark(1100),
        record(1, 1200),
        LogEntry::Watermark(1949),
    ];
    let out = replay(log, ReplayWatermark::Explicit, |s| {
        s.process_by_key("CountForASecond", CountForASecond)
    });
    // Key 1's timer at 1100 fires when the watermark reaches 1100, with 2 records; key 2's at 1950 has not fired by
    // watermark 1949, nor key 1's second at 2200: both fire at the end of the input.
    assert_eq!(out, vec![(1, 1100, 2), (2, 1950, 1), (1, 2200, 1)]);
}

#[test]
fn event_timers_before_1970_fire_when_the_watermark_reaches_them() {
    let log = vec![
        record(1, -3000),
        record(1, -2100),
        record(2, -2050),
        LogEntry::Watermark(-2000),
        record(1, -1800),
        LogEntry::Watermark(-1051),
    ];
    let out = replay(log, ReplayWatermark::Explicit, |s| {
        s.process_by_key("CountForASecond", CountForASecond)
    });
    // Key 1's timer at -2000 fires at watermark -2000 with 2 records; key 2's at -1050 has not fired
    // by watermark -1051, nor key 1's second at -800: both fire at the end of the input.
    assert_eq!(out, vec![(1, -2000, 2), (2, -1050, 1), (1, -800, 1)]);
}

/// A running count per key whose state expires `ttl` ms of event time after the key's latest record.
fn model(log: &[LogEntry<u8, i64>], ttl: u64, watermark: ReplayWatermark) -> Vec<(u8, u64)> {
    let mut states: HashMap<u8, (u64, EventTime)> = HashMap::new();
    let mut out = Vec::new();
    let mut frontier = EventTime::MIN; // watermark + 1: nothing complete
    let mut max_seen: Option<EventTime> = None;
    let mut advance = |to: EventTime, states: &mut HashMap<u8, (u64, EventTime)>| {
        if to > frontier {
            frontier = to;
            states.retain(|_, (_, expiry)| *expiry >= to);
        }
    };
    for entry in log {
        match entry {
            LogEntry::Record { key, time, .. } => {
                let state = states.entry(*key).or_insert((0, EventTime::MIN));
                state.0 += 1;
                state.1 = state.1.max(time + ttl as EventTime);
                out.push((*key, state.0));
                max_seen = Some(max_seen.map_or(*time, |m| m.max(*time)));
                if let Some(to) = frontier_after_record(watermark, max_seen.unwrap()) {
                    advance(to, &mut states);
                }
            }
            LogEntry::Watermark(w) => advance(w + 1, &mut states),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn event_time_ttl_matches_the_model(log in log(), ttl in 1u64..1500, watermark in watermark()) {
        let expected = model(&log, ttl, watermark);
        let got = replay(log, watermark, move |s| {
            s.map_with_state_ttl("Count", || 0u64, |k, n, _| { *n += 1; Some((*k, *n)) }, Ttl::EventTime(ttl))
        });
        prop_assert_eq!(got, expected);
    }
}

/// Map state: each hashtag keeps a map of users to how often they used it, and reports when a user
/// uses it for the third time.
struct ThirdUse;

impl KeyedProcess<u8, i64> for ThirdUse {
    type State = rustc_hash::FxHashMap<i64, u32>;
    type Out = (u8, i64);

    fn on_record(&mut self, user: i64, ctx: &mut KeyContext<'_, u8, Self::State, (u8, i64)>) {
        let key = *ctx.key();
        let uses = ctx
            .state()
            .get_or_insert_with(Default::default)
            .entry(user)
            .or_default();
        *uses += 1;
        if *uses == 3 {
            ctx.emit((key, user));
        }
    }
}

#[test]
fn map_state_keeps_a_map_per_key() {
    let log: Vec<LogEntry<u8, i64>> = [
        (1, 7),
        (1, 7),
        (2, 7),
        (1, 8),
        (1, 7),
        (2, 7),
        (2, 7),
        (1, 7),
    ]
    .into_iter()
    .enumerate()
    .map(|(t, (key, value))| LogEntry::Record {
        key,
        value,
        time: t as EventTime,
    })
    .collect();
    let out = replay(log, ReplayWatermark::Explicit, |s| {
        s.process_by_key("ThirdUse", ThirdUse)
    });
    assert_eq!(out, vec![(1, 7), (2, 7)]);
}
