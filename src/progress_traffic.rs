//! What timely's progress tracking sends (`caudal run --count-progress`,
//! [`crate::config::RunConfig::count_progress`]).
//!
//! Every worker broadcasts the changes to its pointstamps (capabilities held, messages sent and
//! received at each operator port and time) to every other worker, on the progress channel of each
//! dataflow: that is what lets each worker know, without a coordinator, when a time is complete.
//! Within a process the broadcast is a queue; between processes it is a message on the TCP
//! connection, so its rate is the coordination cost of scaling out. The counter listens to timely's
//! own progress log (`timely/progress/<time type>`), counts the broadcasts this process's workers
//! send and the updates they carry, and estimates their bytes on the wire as timely encodes them:
//! a message header of six `usize`s, then `bincode` of `(source, counter, updates)`, an update being
//! `((node, port, time), diff)`.

use caudal_operators::EventTime;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use timely::logging::TimelyProgressEventBuilder;

/// Bytes of a progress message besides its updates: timely's header (six `usize`s), the source
/// worker, the sequence number and the length of the update list.
const MESSAGE_BYTES: u64 = 6 * 8 + 3 * 8;

/// Bytes of one update: the operator's node (`usize`), its port (a `u32` tag and a `usize`), the
/// time (`i64`) and the change (`i64`).
const UPDATE_BYTES: u64 = 8 + 4 + 8 + 8 + 8;

/// Counts the progress broadcasts of a process's workers.
#[derive(Debug, Default)]
pub struct ProgressCounter {
    messages: AtomicU64,
    updates: AtomicU64,
}

impl ProgressCounter {
    /// Listens to `worker`'s progress log, before its dataflows are built (timely hands a dataflow
    /// the loggers registered when it is made).
    pub fn install(self: &Arc<Self>, worker: &mut timely::worker::Worker) {
        let counter = self.clone();
        let name = format!("timely/progress/{}", std::any::type_name::<EventTime>());
        if let Some(mut registry) = worker.log_register() {
            registry.insert::<TimelyProgressEventBuilder<EventTime>, _>(
                &name,
                move |_time, events| {
                    let Some(events) = events else {
                        return;
                    };
                    let (mut messages, mut updates) = (0, 0);
                    for (_, event) in events.iter().filter(|(_, e)| e.is_send) {
                        messages += 1;
                        updates += (event.messages.len() + event.internal.len()) as u64;
                    }
                    counter.messages.fetch_add(messages, Ordering::Relaxed);
                    counter.updates.fetch_add(updates, Ordering::Relaxed);
                },
            );
        }
    }

    /// What was counted, over a run of `elapsed`.
    pub fn report(&self, elapsed: Duration) -> ProgressReport {
        let messages = self.messages.load(Ordering::Relaxed);
        let updates = self.updates.load(Ordering::Relaxed);
        ProgressReport::of(messages, updates, elapsed)
    }
}

/// The progress traffic of a run's process.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ProgressReport {
    /// Progress broadcasts this process's workers sent.
    pub messages: u64,
    /// Pointstamp updates they carried.
    pub updates: u64,
    /// Their estimated size on the wire, as sent to each other process, in bytes.
    pub bytes: u64,
    /// Broadcasts per second of the run.
    pub messages_per_s: f64,
    /// Estimated bytes per second of the run, to each other process.
    pub bytes_per_s: f64,
}

impl ProgressReport {
    /// The report of `messages` broadcasts carrying `updates` updates over `elapsed`.
    pub fn of(messages: u64, updates: u64, elapsed: Duration) -> ProgressReport {
        let bytes = messages * MESSAGE_BYTES + updates * UPDATE_BYTES;
        let seconds = elapsed.as_secs_f64().max(1e-9);
        ProgressReport {
            messages,
            updates,
            bytes,
            messages_per_s: messages as f64 / seconds,
            bytes_per_s: bytes as f64 / seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bytes_are_the_headers_and_the_updates() {
        // 10 broadcasts of 3 updates each in 2 s: 10 * 72 + 30 * 36 = 1,800 bytes, 900 a second.
        let report = ProgressReport::of(10, 30, Duration::from_secs(2));
        assert_eq!(report.bytes, 1_800);
        assert_eq!(report.messages_per_s, 5.0);
        assert_eq!(report.bytes_per_s, 900.0);
    }

    #[test]
    fn a_worker_counts_the_progress_it_broadcasts() {
        let counter = Arc::new(ProgressCounter::default());
        let installed = counter.clone();
        // Two workers in one process, 100 epochs: every epoch's progress is broadcast by both.
        timely::execute(timely::Config::process(2), move |worker| {
            installed.install(worker);
            use timely::dataflow::operators::{Input, Probe};
            use timely::dataflow::{InputHandle, ProbeHandle};
            let mut input: InputHandle<EventTime, _> = InputHandle::new();
            let probe = ProbeHandle::new();
            worker.dataflow::<EventTime, _, _>(|scope| {
                scope
                    .input_from(&mut input)
                    .container::<Vec<u64>>()
                    .probe_with(&probe);
            });
            for epoch in 0..100 {
                input.send(epoch as u64);
                input.advance_to(epoch + 1);
                worker.step_while(|| probe.less_than(input.time()));
            }
        })
        .unwrap();
        let report = counter.report(Duration::from_secs(1));
        // Each worker tells the other at least once per epoch that its input moved on.
        assert!(report.messages >= 200, "{report:?}");
        assert!(report.updates >= report.messages, "{report:?}");
    }
}
