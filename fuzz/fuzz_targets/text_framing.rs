//! Socket and file framing: the bounded line reader splits any byte stream into lines that together
//! are the whole input, keeps no more than the bound of any line, and never panics.
#![no_main]

use std::io::BufReader;

use caudal::source::lines::{read_line, Line};
use libfuzzer_sys::fuzz_target;

const MAX: usize = 16;

fuzz_target!(|input: &[u8]| {
    // A tiny read buffer, so that lines span reads as they do on a socket.
    let mut reader = BufReader::with_capacity(5, input);
    let mut buf = Vec::new();
    let mut consumed_total = 0;
    loop {
        match read_line(&mut reader, &mut buf, MAX).expect("reading a slice cannot fail") {
            Line::End => break,
            Line::Text { consumed } => {
                assert_eq!(buf.len(), consumed);
                assert!(buf.len() <= MAX + 1, "kept {} bytes", buf.len());
                assert_eq!(&input[consumed_total..consumed_total + consumed], &buf[..]);
                consumed_total += consumed;
            }
            Line::TooLong { consumed } => {
                assert_eq!(buf.len(), MAX);
                assert!(consumed > MAX);
                consumed_total += consumed;
            }
        }
    }
    assert_eq!(consumed_total, input.len());
});
