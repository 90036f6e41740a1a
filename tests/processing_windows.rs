//! Processing-time windows close on the wall clock: results come with no further input, windows are
//! aligned to the interval, and open windows fire when the input ends.

use std::time::Duration;

use caudal::prelude::*;

#[test]
fn windows_fire_on_the_wall_clock_without_further_input() {
    let windows = TimeWindows::tumbling(100, 0).unwrap();
    let mut app = Embedded::start(RunConfig::default(), move |s: EventStream<'_, u32>| {
        s.map(|k| (k % 2, ()))
            .processing_time_window(windows, Count)
    })
    .unwrap();
    for i in 0..20 {
        app.input.push(i).unwrap();
    }
    // Nothing else is pushed: only the clock can fire the windows.
    let mut first = Vec::new();
    while first
        .iter()
        .map(|r: &(u32, i64, i64, u64)| r.3)
        .sum::<u64>()
        < 20
    {
        let out = app
            .output
            .recv_timeout(Duration::from_secs(10))
            .expect("the wall clock fires the window");
        let r = out.data;
        first.push((r.key, r.window.start, r.window.end, r.value));
    }
    assert!(
        first
            .iter()
            .all(|(_, start, end, _)| end - start == 100 && start % 100 == 0),
        "{first:?}"
    );
    assert_eq!(
        first.iter().filter(|r| r.0 == 0).map(|r| r.3).sum::<u64>(),
        10
    );

    std::thread::sleep(Duration::from_millis(250));
    for i in 0..5 {
        app.input.push(i).unwrap();
    }
    let later = app
        .output
        .recv_timeout(Duration::from_secs(10))
        .expect("a later window fires");
    let r = later.data;
    let latest_first = first.iter().map(|w| w.2).max().unwrap();
    assert!(
        r.window.start >= latest_first,
        "{:?} after {first:?}",
        r.window
    );
    app.finish().unwrap();
}

#[test]
fn open_windows_fire_when_the_input_ends() {
    let windows = TimeWindows::tumbling(60_000, 0).unwrap();
    let mut app = Embedded::start(RunConfig::default(), move |s: EventStream<'_, u32>| {
        s.map(|k| (k, ())).processing_time_window(windows, Count)
    })
    .unwrap();
    for i in 0..3 {
        app.input.push(i).unwrap();
    }
    // A minute-long window would not fire for a while: ending the input fires it.
    let report = app.finish().unwrap();
    assert_eq!(report.sinks[0].records, 3, "one window per key");
}
