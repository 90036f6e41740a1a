//! Helpers shared by the integration tests: the built examples, free ports, seeded kill moments.
// Each test crate includes this module and uses part of it.
#![allow(dead_code)]

use std::path::PathBuf;

#[cfg(feature = "kafka")]
pub mod kafka;
pub mod proxy;

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

/// A free TCP port on loopback (free when asked: bind it soon).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes a hostfile for a cluster of `processes` on loopback, one free port each, as `dir/hosts.txt`.
pub fn loopback_hostfile(dir: &std::path::Path, processes: usize) -> PathBuf {
    let hostfile = dir.join("hosts.txt");
    let hosts: String = (0..processes)
        .map(|_| format!("127.0.0.1:{}\n", free_port()))
        .collect();
    std::fs::write(&hostfile, hosts).unwrap();
    hostfile
}

/// The environment variable `name` as a number, or `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator of kill moments (xorshift64*), from a seed.
pub struct Moments(pub u64);

impl Moments {
    /// The next moment, in ms, in `lo..hi`.
    pub fn next_ms(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        lo + self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % (hi - lo)
    }
}

/// The lecture's DStream specs (`tests/conformance/dstream-lecture/*.json`) that have Spark's recorded
/// output (`NAME.jsonl`) beside them, in name order.
pub fn lecture_specs() -> Vec<PathBuf> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/dstream-lecture");
    lecture_specs_in(&dir)
}

/// The specs in `dir` with a recorded output beside them, in name order.
pub fn lecture_specs_in(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut specs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| p.with_extension("jsonl").is_file())
        .collect();
    specs.sort();
    specs
}
