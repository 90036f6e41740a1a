//! The lecture's second windowed example: every 20 seconds, the posts tagged #VIU over the last minute
//! (sliding windows of 60 s every 20 s, computed over 20 s panes: no post is copied into three windows).
//!
//! Run with `cargo run --release --example sliding_viu_last_minute`.

use caudal::prelude::*;
use caudal::workload::{Posts, Tag};

fn main() {
    let config = GeneratorConfig {
        limit: Some(30_000),
        event_rate: Some(100.0),
        ..Default::default()
    };
    let posts = GeneratorFactory::new(Posts::default(), config);
    caudal::run(RunConfig::new(ExecutionMode::PerRecord), move |df| {
        let viu = df
            .source("posts", &posts)
            .filter(|p| p.has_tag(Tag::VIU))
            .map(|_| (Tag::VIU, ()));
        let every_20s = TimeWindows::sliding(60_000, 20_000, 0).unwrap();
        let (counts, _late) = viu.window(every_20s, 0, Count);
        let lines = counts.map(|r| {
            format!(
                "[{:>4} s, {:>4} s): {:>4} posts tagged {}",
                r.window.start / 1000,
                r.window.end / 1000,
                r.value,
                r.key
            )
        });
        df.sink("counts", lines, &Print::new(Format::text()));
    })
    .expect("the pipeline runs");
}
