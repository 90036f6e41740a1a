//! Helpers shared by the integration tests that run the built examples.

use std::path::PathBuf;

/// An example program built beside the running test (`cargo test` builds the examples first).
pub fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/<this test> → target/<profile>/examples/<name>
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run the whole suite (`cargo test --workspace` builds the examples)",
        path.display()
    );
    path
}
