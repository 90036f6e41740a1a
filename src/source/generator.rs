//! A deterministic, rate-controlled generator of a [`Workload`]'s records.
//!
//! Record `seq` is due at `start + seq / rate` (its *intended* send time) and has event time
//! `seq * 1000 / event_rate` ms (or the workload's own, [`Workload::event_time`], as NEXMark's), minus
//! an optional deterministic disorder. The generator is open loop: it
//! emits every record that is due, however late the pipeline is, so a stalled pipeline cannot slow the
//! offered load down and hide its stall (no coordinated omission). Worker `w` of `n` makes the records with
//! `seq % n == w`, so the stream is the same whatever the number of workers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use caudal_operators::{Event, EventTime};

use super::{Poll, Source, SourceFactory, WorkerInfo};
use crate::workload::{mix, Workload};

/// When each record of a paced generator is due: shared with whoever measures latency.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// When record 0 is due.
    pub start: Instant,
    /// Records per second over all workers; `None` sends as fast as the pipeline takes them.
    pub rate: Option<f64>,
}

impl Schedule {
    /// The intended send time of record `seq`, as an offset from `start`.
    #[inline]
    pub fn intended_offset(&self, seq: u64) -> Duration {
        match self.rate {
            Some(rate) => Duration::from_nanos((seq as f64 * 1e9 / rate) as u64),
            None => Duration::ZERO,
        }
    }

    /// How many records are due by `now` (records `0..n`).
    #[inline]
    fn due(&self, now: Instant) -> u64 {
        match self.rate {
            Some(_) if now < self.start => 0,
            Some(rate) => (now.duration_since(self.start).as_secs_f64() * rate) as u64 + 1,
            None => u64::MAX,
        }
    }
}

/// How a generator paces and times its records.
#[derive(Clone, Debug, Default)]
pub struct GeneratorConfig {
    /// Records per second over all workers; `None` for as fast as possible.
    pub rate: Option<f64>,
    /// How many records in all; `None` for an unbounded stream.
    pub limit: Option<u64>,
    /// Records per second of event time (defaults to the rate, or 1000 when unpaced).
    pub event_rate: Option<f64>,
    /// Each record's event time is moved back by up to this many ms (deterministically), to make an
    /// out-of-order stream.
    pub disorder_ms: u64,
    /// When record 0 is due; `None` for the moment the source starts.
    pub start: Option<Instant>,
}

/// Where generated records fall in event time: record `seq` at `seq * 1000 / event_rate` ms (before
/// any disorder), from the epoch on (a generated stream never goes before 1970, so its times are
/// counted unsigned here). The one place this formula is written: the generator stamps its records
/// with it, and the lab's latency measurement finds the record that closed a window with it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EventTimeline {
    ms_per_record: f64,
}

impl EventTimeline {
    /// The timeline of a stream of `event_rate` records per second of event time.
    pub fn new(event_rate: f64) -> Self {
        EventTimeline {
            ms_per_record: 1000.0 / event_rate,
        }
    }

    /// The event time of record `seq`, in ms, moved back by up to `disorder_ms` (deterministically,
    /// the same for every run): the generator's out-of-order streams.
    #[inline]
    pub fn disordered(&self, seq: u64, disorder_ms: u64) -> u64 {
        Self::disorder(self.event_time(seq), seq, disorder_ms)
    }

    /// Event time `t` of record `seq` moved back by up to `disorder_ms` (deterministically): how
    /// [`EventTimeline::disordered`] moves the timeline's times, and the generator a workload's own.
    #[inline]
    pub fn disorder(t: u64, seq: u64, disorder_ms: u64) -> u64 {
        match disorder_ms {
            0 => t,
            d => t.saturating_sub(mix(0xD150_4DE5, seq) % (d + 1)),
        }
    }

    /// The event time of record `seq`, in ms.
    #[inline]
    pub fn event_time(&self, seq: u64) -> u64 {
        (seq as f64 * self.ms_per_record) as u64
    }
}

/// Makes every worker's share of a workload's generated stream: the [`SourceFactory`] of generators.
///
/// ```
/// use caudal::prelude::*;
/// use caudal::workload::Temperature;
///
/// let readings = GeneratorFactory::new(Temperature::default(), GeneratorConfig {
///     limit: Some(100),
///     ..Default::default()
/// });
/// let out = Collect::new();
/// let sink = out.clone();
/// caudal::run(RunConfig::default(), move |df| {
///     let stream = df.source("readings", &readings);
///     df.sink("out", stream, &sink);
/// })
/// .unwrap();
/// assert_eq!(out.take().len(), 100);
/// ```
pub struct GeneratorFactory<W> {
    workload: Arc<W>,
    config: GeneratorConfig,
}

impl<W: Workload> GeneratorFactory<W> {
    /// Generators of `workload`'s records, paced and timed by `config`.
    pub fn new(workload: W, config: GeneratorConfig) -> Self {
        GeneratorFactory {
            workload: Arc::new(workload),
            config,
        }
    }
}

impl<W: Workload> SourceFactory<W::Record> for GeneratorFactory<W> {
    fn make(&self, worker: WorkerInfo) -> Box<dyn Source<Item = W::Record>> {
        Box::new(Generator::new(
            self.workload.clone(),
            self.config.clone(),
            worker,
        ))
    }
}

/// Generates one worker's share of a workload's records.
pub struct Generator<W: Workload> {
    workload: Arc<W>,
    config: GeneratorConfig,
    timeline: EventTimeline,
    schedule: Option<Schedule>,
    next: u64,
    step: u64,
    produced: u64,
}

impl<W: Workload> Generator<W> {
    /// The part of `workload`'s stream that `worker` makes.
    pub fn new(workload: Arc<W>, config: GeneratorConfig, worker: WorkerInfo) -> Self {
        let event_rate = config.event_rate.or(config.rate).unwrap_or(1000.0);
        let schedule = config.start.map(|start| Schedule {
            start,
            rate: config.rate,
        });
        Generator {
            workload,
            timeline: EventTimeline::new(event_rate),
            config,
            schedule,
            next: worker.index as u64,
            step: worker.peers as u64,
            produced: 0,
        }
    }

    /// The event time of record `seq` (ms since the Unix epoch, never before it): the workload's own
    /// if it has one, else the timeline's; moved back by the configured disorder.
    #[inline]
    pub fn event_time(&self, seq: u64) -> EventTime {
        let ms = match self.workload.event_time(seq) {
            Some(t) => EventTimeline::disorder(t, seq, self.config.disorder_ms),
            None => self.timeline.disordered(seq, self.config.disorder_ms),
        };
        EventTime::try_from(ms).unwrap_or(EventTime::MAX)
    }
}

impl<W: Workload> Source for Generator<W> {
    type Item = W::Record;

    fn poll(&mut self, out: &mut Vec<Event<W::Record>>, budget: usize) -> Poll {
        let now = Instant::now();
        let resumed_at = self.config.rate.map_or(Duration::ZERO, |rate| {
            Schedule {
                start: now,
                rate: Some(rate),
            }
            .intended_offset(self.next)
        });
        // A resumed generator goes on from its offset at once: its schedule starts as if record
        // `next` were due now.
        let schedule = *self.schedule.get_or_insert(Schedule {
            start: match self.produced {
                0 => now,
                _ => now.checked_sub(resumed_at).unwrap_or(now),
            },
            rate: self.config.rate,
        });
        let end = self.config.limit.unwrap_or(u64::MAX);
        let due = schedule.due(now).min(end);
        let mut emitted = 0;
        while self.next < due && emitted < budget {
            out.push(Event::new(
                self.event_time(self.next),
                self.workload.record(self.next),
            ));
            self.next += self.step;
            emitted += 1;
        }
        self.produced += emitted as u64;
        if self.next >= end {
            Poll::Done
        } else if self.next < due {
            Poll::Ready
        } else {
            Poll::Pending {
                wake_at: Some(schedule.start + schedule.intended_offset(self.next)),
            }
        }
    }

    fn offset(&self) -> u64 {
        self.produced
    }

    fn replayable(&self) -> bool {
        true
    }

    fn resume(&mut self, offset: u64) -> Result<(), String> {
        self.next += offset * self.step;
        self.produced = offset;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Temperature;

    fn drain<W: Workload>(mut g: Generator<W>) -> Vec<Event<W::Record>> {
        let mut out = Vec::new();
        while g.poll(&mut out, 7) != Poll::Done {}
        out
    }

    #[test]
    fn workers_split_the_stream_without_gaps_or_overlap() {
        let w = Arc::new(Temperature::default());
        let config = GeneratorConfig {
            limit: Some(100),
            ..Default::default()
        };
        let mut seqs: Vec<u64> = (0..3)
            .flat_map(|i| {
                drain(Generator::new(
                    w.clone(),
                    config.clone(),
                    WorkerInfo { index: i, peers: 3 },
                ))
            })
            .map(|e| e.data.seq)
            .collect();
        seqs.sort();
        assert_eq!(seqs, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn event_time_follows_the_event_rate_and_disorder_stays_bounded() {
        let w = Arc::new(Temperature::default());
        let config = GeneratorConfig {
            limit: Some(1000),
            event_rate: Some(100.0),
            disorder_ms: 25,
            ..Default::default()
        };
        let events = drain(Generator::new(w, config, WorkerInfo::single()));
        for e in &events {
            let ideal = e.data.seq as EventTime * 10;
            assert!(e.time <= ideal && ideal - e.time <= 25, "{e:?}");
        }
        assert!(
            events.windows(2).any(|p| p[1].time < p[0].time),
            "the stream should be out of order"
        );
    }

    #[test]
    fn a_paced_generator_emits_only_what_is_due() {
        let w = Arc::new(Temperature::default());
        let start = Instant::now() + Duration::from_secs(3600);
        let config = GeneratorConfig {
            rate: Some(1000.0),
            limit: Some(10),
            start: Some(start),
            ..Default::default()
        };
        let mut g = Generator::new(w, config, WorkerInfo::single());
        let mut out = Vec::new();
        match g.poll(&mut out, 100) {
            Poll::Pending { wake_at: Some(at) } => assert_eq!(at, start),
            other => panic!("expected to wait for the start, got {other:?}"),
        }
        assert!(out.is_empty());
    }
}
