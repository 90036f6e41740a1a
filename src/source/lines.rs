//! Text lines with a bound on their length, for the sources that read text (sockets, files).
//!
//! A peer that sends without newlines (`nc < /dev/zero`) must not make a source hold an ever-growing
//! line: [`read_line`] keeps at most `max` bytes of a line, reads the rest of a longer one through to
//! its newline without keeping it, and says so, so that the source can send a sample to the dead
//! letters and read on from the next line.

use std::io::{self, BufRead};

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line, now in the buffer (its terminator included, if it had one); `consumed` bytes were read.
    Text {
        /// The bytes read from the input for it, terminator included.
        consumed: usize,
    },
    /// A line longer than the bound: the buffer holds its first `max` bytes, and the rest was read and
    /// dropped, up to and including its newline.
    TooLong {
        /// The bytes read from the input for it, terminator included.
        consumed: usize,
    },
    /// The end of the input.
    End,
}

/// Reads the next line of `reader` into `buf` (cleared first), keeping at most `max` bytes of it.
pub fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    buf.clear();
    let mut consumed = 0;
    let mut too_long = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(match (consumed, too_long) {
                (0, _) => Line::End,
                (consumed, false) => Line::Text { consumed },
                (consumed, true) => Line::TooLong { consumed },
            });
        }
        let (chunk, ends) = match available.iter().position(|b| *b == b'\n') {
            Some(at) => (&available[..=at], true),
            None => (available, false),
        };
        // The bound is on the line's text; its terminator does not count.
        let text = chunk.len() - usize::from(ends);
        let room = max.saturating_sub(buf.len());
        if text > room {
            too_long = true;
        }
        if !too_long {
            buf.extend_from_slice(chunk);
        } else if room > 0 {
            buf.extend_from_slice(&chunk[..room]);
        }
        let n = chunk.len();
        reader.consume(n);
        consumed += n;
        if ends {
            return Ok(if too_long {
                Line::TooLong { consumed }
            } else {
                Line::Text { consumed }
            });
        }
    }
}

/// The first bytes of a line that was too long, as text, for a dead letter.
pub fn sample(line: &[u8]) -> String {
    const SAMPLE: usize = 200;
    let cut = &line[..line.len().min(SAMPLE)];
    format!("{}...", String::from_utf8_lossy(cut))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    #[test]
    fn long_lines_are_cut_and_skipped_to_their_newline_and_short_ones_pass_whole() {
        let mut input = b"short\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 10_000));
        input.extend_from_slice(b"\nexactly10!\nlast");
        // A small read buffer, so that lines span many reads.
        let mut reader = BufReader::with_capacity(7, &input[..]);
        let mut buf = Vec::new();
        let mut got = Vec::new();
        loop {
            match read_line(&mut reader, &mut buf, 10).unwrap() {
                Line::End => break,
                Line::Text { consumed } => {
                    got.push(format!("{consumed}:{}", String::from_utf8_lossy(&buf)))
                }
                Line::TooLong { consumed } => {
                    got.push(format!("{consumed}:too long {}", buf.len()))
                }
            }
        }
        assert_eq!(
            got,
            vec![
                "6:short\n",
                "10001:too long 10",
                "11:exactly10!\n",
                "4:last"
            ]
        );
    }
}
