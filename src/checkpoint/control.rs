//! [`ControlChannel`]: the coordinators of a run over several processes talk over a small timely
//! dataflow beside the pipeline, so their messages ([`super::cluster::Control`]) travel on timely's
//! own connections: no second network layer, and a process that dies breaks both alike.
//!
//! Every worker builds it (timely wants the same dataflows on every worker, in the same order); the
//! first worker of each process sends the messages its coordinator queues and receives the ones
//! addressed to its process. The channel's time means nothing but a batch of messages: it advances
//! after each, which sends them on, and the dataflow ends once every worker has closed its end. It is
//! an [`EventTime`] all the same, as in every dataflow of Caudal's (from `i64::MIN` on).

use std::sync::Arc;

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Input;
use timely::dataflow::InputHandleVec;
use timely::worker::Worker;

use caudal_operators::EventTime;

use super::cluster::Control;
use super::Coordinator;

/// One worker's end of the control channel.
pub(crate) struct ControlChannel {
    input: Option<InputHandleVec<EventTime, (usize, Control)>>,
    /// Whether this worker carries its process's messages (the process's first worker).
    carries: bool,
    coord: Arc<Coordinator>,
}

impl ControlChannel {
    /// Builds the channel on `worker` (after the pipeline's dataflow); `None` unless the run is over
    /// several processes.
    pub(crate) fn build(worker: &mut Worker, coord: &Arc<Coordinator>) -> Option<Self> {
        let processes = coord.cluster()?.processes;
        let per_process = worker.peers() / processes;
        let receiver = coord.clone();
        let input = worker.dataflow::<EventTime, _, _>(|scope| {
            let (input, stream) = scope.new_input::<(usize, Control)>();
            stream.sink(
                Exchange::new(move |(process, _): &(usize, Control)| {
                    (process * per_process) as u64
                }),
                "CheckpointControl",
                move |(input, _)| {
                    input.for_each(|_, messages| {
                        for (_, message) in messages.drain(..) {
                            receiver.receive(message);
                        }
                    });
                },
            );
            input
        });
        Some(ControlChannel {
            input: Some(input),
            carries: worker.index().is_multiple_of(per_process),
            coord: coord.clone(),
        })
    }

    /// Sends what this process's coordinator has queued (on the process's first worker).
    pub(crate) fn pump(&mut self) {
        let (true, Some(input), Some(link)) =
            (self.carries, self.input.as_mut(), self.coord.cluster())
        else {
            return;
        };
        let messages = link.take_outbox();
        if messages.is_empty() {
            return;
        }
        for message in messages {
            input.send(message);
        }
        // `flush` alone leaves them in the exchange's buffers: a new time sends them on.
        let next = input.time() + 1;
        input.advance_to(next);
    }

    /// Sends what is queued and closes this worker's end: the channel's dataflow ends once every
    /// worker's is closed.
    pub(crate) fn close(&mut self) {
        self.pump();
        self.input = None;
    }

    /// Whether this worker's end is closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.input.is_none()
    }
}
