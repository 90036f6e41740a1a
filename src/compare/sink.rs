//! The latency sink: per-worker HDR histograms from intended send times, merged at the end.

use super::pipelines::Measured;
use super::report::{Percentiles, ResultSummary, Trend};
use crate::checkpoint::store::PreCommit;
use crate::sink::{Sink, SinkContext, SinkError, SinkFactory};
use crate::source::generator::Schedule;
use crate::source::WorkerInfo;
use caudal_operators::{Event, EventTime};
use hdrhistogram::Histogram;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a sink observed: latencies, the results' summary, and when the last result came.
pub(crate) struct Recording {
    pub(crate) histogram: Histogram<u64>,
    /// Latencies from the event time each result is about, in ns.
    pub(crate) event_histogram: Histogram<u64>,
    /// Latencies of the burst workload's window results, in ns, kept apart.
    pub(crate) burst_histogram: Histogram<u64>,
    pub(crate) results: ResultSummary,
    /// Results whose closing record was never offered (windows that the end of the input closed):
    /// counted, and kept out of the latencies.
    pub(crate) drained: u64,
    pub(crate) last: Option<Instant>,
    /// About one result per sample step of intended send time, as (intended send time in s,
    /// latency in µs), for plots and the latency's trend.
    pub(crate) samples: Vec<(f64, f64)>,
}

impl Recording {
    pub(crate) fn new() -> Self {
        // Latencies in nanoseconds, from 1 ns to an hour, to 3 significant digits.
        let histogram =
            Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds");
        Recording {
            event_histogram: histogram.clone(),
            burst_histogram: histogram.clone(),
            histogram,
            results: ResultSummary::default(),
            drained: 0,
            last: None,
            samples: Vec::new(),
        }
    }

    fn merge(&mut self, other: &Recording) {
        self.histogram
            .add(&other.histogram)
            .expect("histograms with the same bounds");
        self.event_histogram
            .add(&other.event_histogram)
            .expect("histograms with the same bounds");
        self.burst_histogram
            .add(&other.burst_histogram)
            .expect("histograms with the same bounds");
        self.results.count += other.results.count;
        self.results.checksum = self.results.checksum.wrapping_add(other.results.checksum);
        self.drained += other.drained;
        self.last = self.last.max(other.last);
        self.samples.extend_from_slice(&other.samples);
    }
}

/// Records latencies on each worker and merges them when the stream ends.
#[derive(Clone)]
pub(crate) struct LatencySink {
    pub(crate) schedule: Schedule,
    pub(crate) warmup_seq: u64,
    /// How many records are offered: a result whose closing record is not among them (`seq` at or
    /// beyond it) was fired by the end of the input, not by a record, and has no latency to measure.
    pub(crate) end_seq: u64,
    /// How far apart in intended send time the sampled results are, in s.
    pub(crate) sample_step_s: f64,
    pub(crate) merged: Arc<Mutex<Recording>>,
}

impl LatencySink {
    /// The sink of one run of `config`, whose `total` records are offered on `schedule`: latencies
    /// count after the warm-up, and about 2,000 results are sampled for the latency-over-time plot.
    pub(crate) fn for_run(
        config: &super::config::CompareConfig,
        schedule: Schedule,
        total: u64,
    ) -> LatencySink {
        LatencySink {
            schedule,
            warmup_seq: (config.warmup.as_secs_f64() * config.rate) as u64,
            end_seq: total,
            sample_step_s: (config.warmup + config.duration).as_secs_f64() / 2000.0,
            merged: Arc::new(Mutex::new(Recording::new())),
        }
    }
}

/// What a run's latency sink recorded, as a [`super::report::ModeResult`] reports it.
pub(crate) struct Measurements {
    pub(crate) latency_us: Percentiles,
    pub(crate) event_time_latency_us: Percentiles,
    pub(crate) burst_window_latency_us: Option<Percentiles>,
    pub(crate) results: ResultSummary,
    pub(crate) drained: u64,
    pub(crate) histogram: Histogram<u64>,
    /// The sampled results, by intended send time.
    pub(crate) samples: Vec<(f64, f64)>,
    pub(crate) trend: Option<Trend>,
    /// From the clock's start to the last result, in s (at least 1 ns).
    pub(crate) span_s: f64,
}

impl LatencySink {
    /// Takes what the run recorded (leaving an empty recording) and summarizes it over the
    /// measured part of `config`'s runs.
    pub(crate) fn take(&self, config: &super::config::CompareConfig) -> Measurements {
        let Recording {
            histogram,
            event_histogram,
            burst_histogram,
            results,
            drained,
            last,
            mut samples,
        } = std::mem::replace(
            &mut *self.merged.lock().unwrap_or_else(|e| e.into_inner()),
            Recording::new(),
        );
        samples.sort_by(|a, b| a.0.total_cmp(&b.0));
        let trend = Trend::of(
            &samples,
            config.warmup.as_secs_f64(),
            (config.warmup + config.duration).as_secs_f64(),
        );
        Measurements {
            latency_us: Percentiles::of(&histogram),
            event_time_latency_us: Percentiles::of(&event_histogram),
            burst_window_latency_us: (!burst_histogram.is_empty())
                .then(|| Percentiles::of(&burst_histogram)),
            results,
            drained,
            histogram,
            samples,
            trend,
            span_s: last
                .map_or(Duration::ZERO, |l| {
                    l.saturating_duration_since(self.schedule.start)
                })
                .as_secs_f64()
                .max(1e-9),
        }
    }
}

pub(crate) struct LatencySinkWorker {
    shared: LatencySink,
    recording: Recording,
    /// Under exactly-once: results not yet staged by a checkpoint round, as `(seq, event_ms, burst)`.
    held: Option<Vec<(u64, i64, bool)>>,
    /// The intended send time (s) from which the next result is sampled.
    next_sample_s: f64,
}

impl LatencySinkWorker {
    /// Records the latency of the result of `seq` (about `event_ms`), seen at `now`.
    fn record(&mut self, now: Instant, seq: u64, event_ms: i64, burst: bool) {
        let rec = &mut self.recording;
        if seq >= self.shared.end_seq {
            rec.drained += 1;
            rec.last = Some(now);
            return;
        }
        let (seq, event_ms, burst) = (&seq, &event_ms, &burst);
        {
            if *burst {
                if *seq >= self.shared.warmup_seq {
                    let intended =
                        self.shared.schedule.start + self.shared.schedule.intended_offset(*seq);
                    let ns = now.saturating_duration_since(intended).as_nanos() as u64;
                    rec.burst_histogram.saturating_record(ns.max(1));
                }
            } else if *seq >= self.shared.warmup_seq {
                let event_at =
                    self.shared.schedule.start + Duration::from_millis((*event_ms).max(0) as u64);
                let event_ns = now.saturating_duration_since(event_at).as_nanos() as u64;
                rec.event_histogram.saturating_record(event_ns.max(1));
                let intended =
                    self.shared.schedule.start + self.shared.schedule.intended_offset(*seq);
                let ns = now.saturating_duration_since(intended).as_nanos() as u64;
                rec.histogram.saturating_record(ns.max(1));
                let sent = self.shared.schedule.intended_offset(*seq).as_secs_f64();
                if sent >= self.next_sample_s {
                    rec.samples.push((sent, ns as f64 / 1e3));
                    self.next_sample_s = sent + self.shared.sample_step_s;
                }
            }
        }
        rec.last = Some(now);
    }

    /// Records every held result as seen at `now`.
    fn release_held(&mut self, now: Instant) {
        if let Some(mut held) = self.held.take() {
            for (seq, event_ms, burst) in held.drain(..) {
                self.record(now, seq, event_ms, burst);
            }
            self.held = Some(held);
        }
    }
}

impl<T: Hash + 'static> Sink<Measured<T>> for LatencySinkWorker {
    fn start(&mut self, ctx: &SinkContext) -> Result<(), SinkError> {
        if ctx.guarantee.transactional() {
            self.held = Some(Vec::new());
        }
        Ok(())
    }

    fn pre_commit(&mut self, _next_epoch: u64) -> Result<PreCommit, SinkError> {
        self.release_held(Instant::now());
        Ok(PreCommit::default())
    }

    fn write(&mut self, records: &mut Vec<Event<Measured<T>>>) -> Result<(), SinkError> {
        let now = Instant::now();
        for event in records.iter() {
            let Measured {
                seq,
                event_ms,
                value,
                burst,
            } = &event.data;
            match self.held.as_mut() {
                Some(held) => held.push((*seq, *event_ms, *burst)),
                None => self.record(now, *seq, *event_ms, *burst),
            }
            let rec = &mut self.recording;
            let mut h = rustc_hash::FxHasher::default();
            value.hash(&mut h);
            rec.results.count += 1;
            rec.results.checksum = rec
                .results
                .checksum
                .wrapping_add(crate::workload::mix(0, h.finish()));
        }
        Ok(())
    }

    fn progress(&mut self, frontier: Option<EventTime>) -> Result<(), SinkError> {
        if frontier.is_none() {
            // The end of the input: the final checkpoint commits what is held.
            self.release_held(Instant::now());
            self.shared
                .merged
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .merge(&self.recording);
        }
        Ok(())
    }
}

impl<T: Hash + 'static> SinkFactory<Measured<T>> for LatencySink {
    fn make(&self, _worker: WorkerInfo) -> Result<Box<dyn Sink<Measured<T>>>, SinkError> {
        Ok(Box::new(LatencySinkWorker {
            shared: self.clone(),
            recording: Recording::new(),
            held: None,
            next_sample_s: 0.0,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_fired_by_the_end_of_the_input_are_counted_apart_from_the_latencies() {
        // 100 records offered, the first 10 of them warm-up.
        let shared = LatencySink {
            schedule: Schedule {
                start: Instant::now(),
                rate: Some(1000.0),
            },
            warmup_seq: 10,
            end_seq: 100,
            sample_step_s: 0.0,
            merged: Arc::new(Mutex::new(Recording::new())),
        };
        let mut sink: Box<dyn Sink<Measured<u64>>> = shared.make(WorkerInfo::single()).unwrap();
        sink.start(&SinkContext::default()).unwrap();
        // Results closed by records 5 (warm-up), 50 and 99, and two windows whose closing record
        // (100, 130) was never offered: the end of the input fired them.
        let mut results: Vec<Event<Measured<u64>>> = [5, 50, 99, 100, 130]
            .into_iter()
            .map(|seq| {
                Event::new(
                    0,
                    Measured {
                        seq,
                        event_ms: seq as i64,
                        value: seq,
                        burst: false,
                    },
                )
            })
            .collect();
        sink.write(&mut results).unwrap();
        sink.progress(None).unwrap();
        let merged = shared.merged.lock().unwrap();
        assert_eq!(merged.results.count, 5, "every result is counted");
        assert_eq!(merged.drained, 2);
        assert_eq!(merged.histogram.len(), 2, "only 50 and 99 have a latency");
    }
}
