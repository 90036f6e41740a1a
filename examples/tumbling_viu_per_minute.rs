//! The lecture's first windowed example: posts tagged #VIU, counted per minute (tumbling windows).
//!
//! Run with `cargo run --release --example tumbling_viu_per_minute`. Ten minutes of posts (event time;
//! 100 posts a second) are generated as fast as the pipeline takes them; each minute's count is printed
//! when the watermark passes the minute's end, with the watermark that closed it.

use caudal::prelude::*;
use caudal::workload::{Posts, Tag};

fn main() {
    let config = GeneratorConfig {
        limit: Some(60_000),
        event_rate: Some(100.0),
        disorder_ms: 500,
        ..Default::default()
    };
    let posts = GeneratorFactory::new(Posts::default(), config);
    let run = RunConfig::new(ExecutionMode::PerRecord)
        .watermark(WatermarkStrategy::BoundedOutOfOrderness { max_delay_ms: 500 });
    caudal::run(run, move |df| {
        let viu = df
            .source("posts", &posts)
            .filter(|p| p.has_tag(Tag::VIU))
            .map(|_| (Tag::VIU, ()));
        let (per_minute, late) = viu.window(TimeWindows::tumbling(60_000, 0).unwrap(), 0, Count);
        let lines = per_minute.map(|r| {
            format!(
                "minute {:>2}: {:>4} posts tagged {} (closed at watermark {} ms)",
                r.window.start / 60_000,
                r.value,
                r.key,
                r.watermark
            )
        });
        df.sink("counts", lines, &Print::new(Format::text()));
        df.sink(
            "late",
            late.map(|l| format!("late: {l:?}")),
            &Print::new(Format::text()),
        );
    })
    .expect("the pipeline runs");
}
