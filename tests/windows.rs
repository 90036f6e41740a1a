//! Windowed pipelines give the same results in every execution mode when no record is late (DESIGN §3):
//! tumbling, sliding and session windows over the same out-of-order stream, with a watermark that
//! allows for its disorder.

use std::time::Duration;

use caudal::operators::window::WindowResult;
use caudal::prelude::*;
use caudal::workload::{Post, Posts, Tag};

const MODES: [&str; 3] = ["per-record", "micro-batch:5ms", "batch"];

/// 20,000 posts over 20 s of event time, up to 40 ms out of order, offered at 200,000 posts/s.
fn posts() -> impl SourceFactory<Post> {
    let config = GeneratorConfig {
        rate: Some(200_000.0),
        limit: Some(20_000),
        event_rate: Some(1000.0),
        disorder_ms: 40,
        ..Default::default()
    };
    GeneratorFactory::new(Posts::default(), config)
}

#[derive(Clone, Copy)]
enum Kind {
    Tumbling,
    Sliding,
    Session,
}

/// The firings of a windowed count of posts per hashtag (or sum of users, for sliding windows), as
/// `(tag, window, result, firing)`, and how many records came late.
fn run(kind: Kind, mode: &str, workers: usize) -> (Vec<(Tag, Window, u64, u32)>, usize) {
    let source = posts();
    let results = Collect::new();
    let late = Collect::new();
    let (sink, late_sink) = (results.clone(), late.clone());
    let config = RunConfig::new(mode.parse().unwrap())
        .workers(workers)
        .watermark(WatermarkStrategy::BoundedOutOfOrderness { max_delay_ms: 40 });
    caudal::run(config, move |df| {
        let tagged = df
            .source("posts", &source)
            .map(|p| (p.tags()[0], p.user as u64));
        let (fired, late) = match kind {
            Kind::Tumbling => tagged.window(TimeWindows::tumbling(1000, 0).unwrap(), 0, Count),
            Kind::Sliding => tagged.window(TimeWindows::sliding(3000, 1000, 0).unwrap(), 0, Sum),
            Kind::Session => tagged.session_window(15, 0, Count),
        };
        df.sink(
            "results",
            fired.map(|r| (r.key, r.window, r.value, r.firing)),
            &sink,
        );
        df.sink("late", late, &late_sink);
    })
    .unwrap();
    (results.sorted_data(), late.take().len())
}

#[test]
fn windows_agree_in_every_mode_and_on_two_workers() {
    for kind in [Kind::Tumbling, Kind::Sliding, Kind::Session] {
        let (reference, late) = run(kind, "per-record", 1);
        assert_eq!(late, 0);
        assert!(reference.len() > 20);
        assert!(
            reference.iter().all(|r| r.3 == 1),
            "every window fires once"
        );
        for (mode, workers) in MODES.iter().flat_map(|m| [(*m, 1), (*m, 2)]) {
            let (got, late) = run(kind, mode, workers);
            assert_eq!(late, 0, "{mode} on {workers} workers");
            assert_eq!(got, reference, "{mode} on {workers} workers");
        }
    }
}

#[test]
fn tumbling_counts_add_up_to_the_stream() {
    let (fired, _) = run(Kind::Tumbling, "micro-batch:5ms", 1);
    assert_eq!(fired.iter().map(|r| r.2).sum::<u64>(), 20_000);
    // 20 s of event time in 1 s windows, for each hashtag that opens a post.
    assert!(fired
        .iter()
        .all(|r| r.1.end - r.1.start == 1000 && r.1.start % 1000 == 0));
}

/// Worker 0 reads a few records and then nothing, without ending; worker 1 never reads anything.
struct ThenSilence(Vec<Event<(u32, ())>>);

impl Source for ThenSilence {
    type Item = (u32, ());
    fn poll(&mut self, out: &mut Vec<Event<(u32, ())>>, _budget: usize) -> Poll {
        out.append(&mut self.0);
        Poll::Pending { wake_at: None }
    }
    fn offset(&self) -> u64 {
        0
    }
}

#[test]
fn an_idle_input_does_not_hold_windows_open() {
    let source = |w: WorkerInfo| -> Box<dyn Source<Item = (u32, ())>> {
        let records = if w.index == 0 {
            vec![
                Event::new(100, (1, ())),
                Event::new(300, (1, ())),
                Event::new(2500, (2, ())),
            ]
        } else {
            Vec::new()
        };
        Box::new(ThenSilence(records))
    };
    let fired = Collect::new();
    let sink = fired.clone();
    let config = RunConfig {
        idle_timeout: Some(Duration::from_millis(20)),
        ..RunConfig::new(ExecutionMode::PerRecord).workers(2)
    };
    let running = caudal::launch(config, move |df| {
        let (windows, _late) =
            df.source("silent", &source)
                .window(TimeWindows::tumbling(1000, 0).unwrap(), 0, Count);
        df.sink("fired", windows.map(|r| (r.key, r.window, r.value)), &sink);
    })
    .unwrap();
    // Without idleness, worker 1's source would hold the watermark at 0 and nothing could fire before
    // the run stops. With it, [0, 1000) fires while both sources are still running.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while fired.sorted_data().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let before_stop = fired.sorted_data();
    running.stop_flag().stop();
    running.join().unwrap();
    assert_eq!(before_stop, vec![(1, Window::new(0, 1000), 2)]);
}

/// A windowed count of key 1's records.
type Counting = fn(EventStream<'_, (u8, ())>) -> EventStream<'_, WindowResult<u8, u64>>;

/// Runs `window` over `times` (all of key 1, from worker 0, out of order as given) in `mode` on
/// `workers` workers, with a watermark 5 s behind the records so that none is late; returns the
/// firings as `(window, count)`, sorted.
fn counts_before_1970(
    times: &[EventTime],
    mode: &str,
    workers: usize,
    window: Counting,
) -> Vec<(Window, u64)> {
    let events: Vec<Event<(u8, ())>> = times.iter().map(|t| Event::new(*t, (1, ()))).collect();
    let source = caudal::source::from_events(events);
    let results = Collect::new();
    let sink = results.clone();
    let config = RunConfig::new(mode.parse().unwrap())
        .workers(workers)
        .watermark(WatermarkStrategy::BoundedOutOfOrderness {
            max_delay_ms: 5_000,
        });
    caudal::run(config, move |df| {
        let fired = window(df.source("events", &source));
        df.sink("results", fired.map(|r| (r.window, r.value)), &sink);
    })
    .unwrap();
    results.sorted_data()
}

/// Tumbling, sliding and session windows before 1970 and across it, worked by hand from Flink's
/// formulas (`TimeWindow.getWindowStartWithOffset`: floor alignment; sessions `[t, t + gap)` merged
/// when they touch), through the whole runtime in every mode.
#[test]
fn windows_before_1970_are_flinks_in_every_mode() {
    fn tumbling(s: EventStream<'_, (u8, ())>) -> EventStream<'_, WindowResult<u8, u64>> {
        s.window(TimeWindows::tumbling(1000, 0).unwrap(), 0, Count)
            .0
    }
    fn straddling(s: EventStream<'_, (u8, ())>) -> EventStream<'_, WindowResult<u8, u64>> {
        s.window(TimeWindows::tumbling(1000, 500).unwrap(), 0, Count)
            .0
    }
    fn sliding(s: EventStream<'_, (u8, ())>) -> EventStream<'_, WindowResult<u8, u64>> {
        s.window(TimeWindows::sliding(2000, 500, 0).unwrap(), 0, Count)
            .0
    }
    fn sessions(s: EventStream<'_, (u8, ())>) -> EventStream<'_, WindowResult<u8, u64>> {
        s.session_window(1000, 0, Count).0
    }
    let w = Window::new;
    for mode in MODES {
        for workers in [1, 2] {
            let at = format!("{mode}, {workers} workers");
            // -1 and -1000 in [-1000, 0), -1001 in [-2000, -1000), -2001 in [-3000, -2000).
            assert_eq!(
                counts_before_1970(
                    &[-1, -1000, -1001, 0, 999, 1000, -2001],
                    mode,
                    workers,
                    tumbling
                ),
                vec![
                    (w(-3000, -2000), 1),
                    (w(-2000, -1000), 1),
                    (w(-1000, 0), 2),
                    (w(0, 1000), 2),
                    (w(1000, 2000), 1)
                ],
                "{at}"
            );
            // Offset 500: [-500, 500) straddles 1970.
            assert_eq!(
                counts_before_1970(&[-500, -1, 0, 499, 500, -501], mode, workers, straddling),
                vec![(w(-1500, -500), 1), (w(-500, 500), 4), (w(500, 1500), 1)],
                "{at}"
            );
            // -1 is in the four windows of 2 s starting at -500, -1000, -1500 and -2000.
            assert_eq!(
                counts_before_1970(&[-1], mode, workers, sliding),
                vec![
                    (w(-2000, 0), 1),
                    (w(-1500, 500), 1),
                    (w(-1000, 1000), 1),
                    (w(-500, 1500), 1)
                ],
                "{at}"
            );
            // Gap 1000: -2500 and -1800 make [-2500, -800); -100 starts [-100, 900).
            assert_eq!(
                counts_before_1970(&[-1800, -100, -2500], mode, workers, sessions),
                vec![(w(-2500, -800), 2), (w(-100, 900), 1)],
                "{at}"
            );
        }
    }
}
