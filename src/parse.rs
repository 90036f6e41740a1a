//! Reading typed records from text lines, with bad lines sent to the dead letters.

use caudal_operators::{Event, EventStream};
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;

use crate::dead_letter::DeadLetters;

/// A record that can be read from one line of text.
pub trait FromLine: Sized {
    /// Reads a record from `line` (without its line ending), or says why it cannot.
    fn from_line(line: &str) -> Result<Self, String>;
}

impl FromLine for String {
    fn from_line(line: &str) -> Result<Self, String> {
        Ok(line.to_string())
    }
}

/// Adds [`ParseLines::parse_lines`] to streams of text lines.
pub trait ParseLines<'scope> {
    /// Reads each line as a `T`; a line that does not parse is counted and reported to `dead_letters`
    /// (tagged with `origin`) and goes no further.
    fn parse_lines<T: FromLine + 'static>(
        self,
        origin: &str,
        dead_letters: DeadLetters,
    ) -> EventStream<'scope, T>;
}

impl<'scope> ParseLines<'scope> for EventStream<'scope, String> {
    fn parse_lines<T: FromLine + 'static>(
        self,
        origin: &str,
        dead_letters: DeadLetters,
    ) -> EventStream<'scope, T> {
        let origin = origin.to_string();
        let stream = self.inner.unary(Pipeline, "ParseLines", move |_, _| {
            move |input, output| {
                input.for_each(|cap, lines| {
                    let mut session = output.session(&cap);
                    for Event { time, data: line } in lines.drain(..) {
                        match T::from_line(&line) {
                            Ok(data) => session.give(Event { time, data }),
                            Err(reason) => dead_letters.report(&origin, &line, reason),
                        }
                    }
                });
            }
        });
        EventStream::new(stream)
    }
}
