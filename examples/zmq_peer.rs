//! A ZeroMQ peer to feed Caudal's ZeroMQ sources: binds a PUB or PUSH socket and sends numbered text
//! messages (`msg 0`, `msg 1`, ...), as fast as it can or at a rate.
//!
//! ```text
//! cargo run --example zmq_peer -- push 127.0.0.1:5557 --count 100000
//! cargo run --example zmq_peer -- pub 127.0.0.1:5556 --count 10000 --topic ticks --wait 500ms
//! caudal run uppercase --source 'zmq+pull://127.0.0.1:5557?limit=100000'
//! ```
//!
//! `--count N` sends N messages then waits for them to leave (PUSH blocks while no puller takes them);
//! without it the peer sends until it is stopped. `--rate R` paces the messages (per second);
//! `--wait D` waits before the first one (a PUB socket drops what it sends before subscribers have
//! joined). With `--topic T` a PUB message is two frames, the topic then the text. `--bad-every K`
//! makes messages 0, K, 2K, ... bytes that are not UTF-8 (for the dead letters).

use std::time::{Duration, Instant};

struct Args {
    push: bool,
    address: String,
    count: Option<u64>,
    rate: Option<f64>,
    wait: Duration,
    topic: String,
    bad_every: Option<u64>,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let usage = "usage: zmq_peer pub|push HOST:PORT [--count N] [--rate PER_SECOND] [--wait 500ms] [--topic T] [--bad-every K]";
    let push = match it.next().as_deref() {
        Some("push") => true,
        Some("pub") => false,
        _ => return Err(usage.into()),
    };
    let address = it.next().ok_or(usage)?;
    let mut args = Args {
        push,
        address,
        count: None,
        rate: None,
        wait: Duration::ZERO,
        topic: String::new(),
        bad_every: None,
    };
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value; {usage}"))?;
        match flag.as_str() {
            "--count" => args.count = Some(value.parse().map_err(|e| format!("--count: {e}"))?),
            "--rate" => args.rate = Some(value.parse().map_err(|e| format!("--rate: {e}"))?),
            "--wait" => {
                args.wait = humantime::parse_duration(&value).map_err(|e| format!("--wait: {e}"))?
            }
            "--topic" => args.topic = value,
            "--bad-every" => {
                args.bad_every = Some(value.parse().map_err(|e| format!("--bad-every: {e}"))?)
            }
            _ => return Err(format!("unknown flag {flag}; {usage}")),
        }
    }
    Ok(args)
}

fn main() {
    let args = match parse() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let context = zmq::Context::new();
    let socket = context
        .socket(if args.push { zmq::PUSH } else { zmq::PUB })
        .expect("a socket");
    // Keep what is queued when the peer stops, until it has left (bounded, so a test's peer ends).
    socket.set_linger(10_000).expect("linger");
    if let Err(e) = socket.bind(&format!("tcp://{}", args.address)) {
        eprintln!("cannot bind tcp://{}: {e}", args.address);
        std::process::exit(1);
    }
    std::thread::sleep(args.wait);
    let start = Instant::now();
    let mut i = 0u64;
    while args.count.is_none_or(|n| i < n) {
        if let Some(rate) = args.rate {
            let due = start + Duration::from_secs_f64(i as f64 / rate);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let text = format!("msg {i}");
        let bad = args.bad_every.is_some_and(|k| k > 0 && i.is_multiple_of(k));
        let body: &[u8] = if bad {
            b"\xff\xfe not text"
        } else {
            text.as_bytes()
        };
        let sent = if args.push || args.topic.is_empty() {
            socket.send(body, 0)
        } else {
            socket
                .send(args.topic.as_bytes(), zmq::SNDMORE)
                .and_then(|()| socket.send(body, 0))
        };
        if let Err(e) = sent {
            eprintln!("sending failed: {e}");
            std::process::exit(1);
        }
        i += 1;
    }
    eprintln!("sent {i} messages");
}
