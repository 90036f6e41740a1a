//! Processing-time windows: readings counted per sensor in 200 ms windows of the wall clock, closed by
//! the clock itself (no watermark involved).
//!
//! Run with `cargo run --release --example processing_time_windows`. Readings arrive for about a second
//! at 5,000 per second; each window prints when the clock passes its end.

use caudal::prelude::*;
use caudal::workload::Temperature;

fn main() {
    let config = GeneratorConfig {
        rate: Some(5_000.0),
        limit: Some(5_000),
        ..Default::default()
    };
    let readings = GeneratorFactory::new(
        Temperature {
            sensors: 3,
            ..Temperature::default()
        },
        config,
    );
    caudal::run(RunConfig::new(ExecutionMode::PerRecord), move |df| {
        let by_sensor = df.source("readings", &readings).map(|r| (r.sensor, ()));
        let counts =
            by_sensor.processing_time_window(TimeWindows::tumbling(200, 0).unwrap(), Count);
        let lines = counts.map(|r| {
            format!(
                "sensor {} window ending at {} ms (wall clock): {:>4} readings",
                r.key,
                r.window.end % 100_000,
                r.value
            )
        });
        df.sink("counts", lines, &Print::new(Format::text()));
    })
    .expect("the pipeline runs");
}
