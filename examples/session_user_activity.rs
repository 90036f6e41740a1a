//! Session windows: each user's bursts of posting, closed after 2 minutes without a post.
//!
//! Run with `cargo run --release --example session_user_activity`. A few users post at random moments
//! over an hour of event time; each session prints with its span and its number of posts as soon as
//! the watermark has passed its end.

use caudal::prelude::*;
use caudal::workload::Posts;

fn main() {
    // 5 users, one post every 6 s of event time on average across them: sessions of a few posts each.
    let config = GeneratorConfig {
        limit: Some(600),
        event_rate: Some(1.0 / 6.0),
        ..Default::default()
    };
    let posts = GeneratorFactory::new(
        Posts {
            users: 5,
            ..Posts::default()
        },
        config,
    );
    caudal::run(RunConfig::new(ExecutionMode::PerRecord), move |df| {
        let by_user = df.source("posts", &posts).map(|p| (p.user, ()));
        let (sessions, _late) = by_user.session_window(120_000, 0, Count);
        let lines = sessions.map(|r| {
            format!(
                "user {}: {:>2} posts from minute {:>5.1} to {:>5.1}",
                r.key,
                r.value,
                r.window.start as f64 / 60_000.0,
                r.window.end as f64 / 60_000.0
            )
        });
        df.sink("sessions", lines, &Print::new(Format::text()));
    })
    .expect("the pipeline runs");
}
