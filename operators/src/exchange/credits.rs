//! Credits across processes: a worker acknowledges what it pulled from another process's worker, so
//! that the sender's [`ExchangeGauge`] counts what is still on its way or waiting (Flink's
//! credit-based flow control, on a channel of timely's own allocator beside the exchange's).

use std::rc::Rc;

use timely::communication::{Pull, Push};
use timely::worker::Worker;
use timely::Bincode;

use super::ExchangeGauge;

/// An acknowledgement: global worker `.0` took `.1` more records that the receiver of the message sent.
type Ack = Bincode<(u64, u64)>;

/// One worker's end of an exchange's acknowledgements: it owes its senders in other processes for what
/// it pulled from them, and settles what its own process sent to others.
///
/// The channel is allocated with the address of the exchange's receiving operator, so an
/// acknowledgement that arrives activates that operator on the sending worker; its next pull of the
/// exchange settles it, even while every source of the process is stopped.
pub(crate) struct Credits {
    index: u64,
    gauge: ExchangeGauge,
    senders: Vec<Box<dyn Push<Ack>>>,
    receiver: Box<dyn Pull<Ack>>,
    /// Per global worker: records pulled from it and not yet acknowledged.
    owed: Vec<u64>,
    /// Acknowledge a sender as soon as this much is owed to it (else when the pull comes up empty).
    every: u64,
}

impl Credits {
    /// The acknowledgements of an exchange into the operator at `address`, if `gauge` sees workers of
    /// other processes (with one process there is nothing to acknowledge). Every worker must call this
    /// at the same point of building the same dataflow: it allocates a channel identifier.
    pub(crate) fn connect(
        worker: &Worker,
        address: Rc<[usize]>,
        gauge: &ExchangeGauge,
    ) -> Option<Self> {
        if !gauge.has_remote() {
            return None;
        }
        let identifier = worker.new_identifier();
        let (senders, receiver) = worker.allocate::<Ack>(identifier, address);
        Some(Credits {
            index: worker.index() as u64,
            gauge: gauge.clone(),
            owed: vec![0; senders.len()],
            senders,
            receiver,
            every: (gauge.budget() / 4).max(1),
        })
    }

    /// This worker pulled `records` sent by global worker `from`.
    #[inline]
    pub(crate) fn pulled(&mut self, from: usize, records: usize) {
        if self.gauge.is_local(from) {
            return;
        }
        let owed = &mut self.owed[from];
        *owed += records as u64;
        if *owed >= self.every {
            let records = std::mem::take(owed);
            self.acknowledge(from, records);
        }
    }

    /// The pull came up empty: acknowledge everything owed, and settle what came back for this process.
    pub(crate) fn settle(&mut self) {
        for from in 0..self.owed.len() {
            let records = std::mem::take(&mut self.owed[from]);
            if records > 0 {
                self.acknowledge(from, records);
            }
        }
        while let Some(ack) = self.receiver.pull().take() {
            let (worker, records) = ack.payload;
            self.gauge.acknowledged(worker as usize, records);
        }
    }

    fn acknowledge(&mut self, to: usize, records: u64) {
        let sender = &mut self.senders[to];
        sender.push(&mut Some(Bincode::from((self.index, records))));
        sender.done();
    }
}
