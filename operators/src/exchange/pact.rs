//! The metered exchange: timely's exchange by a routing function, counting in an [`ExchangeGauge`], with
//! [`Credits`] from the workers of other processes.

use std::rc::Rc;

use timely::communication::{Pull, Push};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{LogPuller, LogPusher, ParallelizationContract};
use timely::dataflow::channels::pushers::exchange::DrainContainerDistributor;
use timely::dataflow::channels::pushers::Exchange;
use timely::dataflow::channels::Message;
use timely::logging::TimelyLogger;
use timely::progress::Timestamp;
use timely::worker::Worker;
use timely::ExchangeData;

use super::credits::Credits;
use super::ExchangeGauge;

/// Timely's exchange of `Vec<D>` containers by `route`, that counts what waits for each worker of the
/// process in `gauge` (a plain exchange when there is no gauge).
pub struct Metered<F> {
    route: F,
    gauge: Option<ExchangeGauge>,
}

impl<F> Metered<F> {
    /// Exchanges by `route` (records go to worker `route(record) % peers`, as with timely's
    /// `Exchange`), counting in `gauge`.
    pub fn new(route: F, gauge: Option<ExchangeGauge>) -> Self {
        Metered { route, gauge }
    }
}

/// A sender to one worker: adds what it sends to the worker's count.
pub struct MeteredPusher<P> {
    inner: P,
    target: usize,
    gauge: Option<ExchangeGauge>,
}

impl<T, D, P: Push<Message<T, Vec<D>>>> Push<Message<T, Vec<D>>> for MeteredPusher<P> {
    #[inline]
    fn push(&mut self, message: &mut Option<Message<T, Vec<D>>>) {
        if let (Some(gauge), Some(message)) = (&self.gauge, message.as_ref()) {
            gauge.sent(self.target, message.data.len());
        }
        self.inner.push(message);
    }
}

/// The receiver of one worker: takes what it pulls off the worker's count, and acknowledges what came
/// from other processes.
pub struct MeteredPuller<P> {
    inner: P,
    index: usize,
    gauge: Option<ExchangeGauge>,
    credits: Option<Credits>,
}

impl<T, D, P: Pull<Message<T, Vec<D>>>> Pull<Message<T, Vec<D>>> for MeteredPuller<P> {
    #[inline]
    fn pull(&mut self) -> &mut Option<Message<T, Vec<D>>> {
        let message = self.inner.pull();
        match (message.as_ref(), &self.gauge, &mut self.credits) {
            (Some(message), Some(gauge), credits) => {
                let records = message.data.len();
                gauge.taken(self.index, message.from, records);
                if let Some(credits) = credits {
                    credits.pulled(message.from, records);
                }
            }
            (None, _, Some(credits)) => credits.settle(),
            _ => {}
        }
        message
    }
}

type Sender<T, D> = MeteredPusher<LogPusher<Box<dyn Push<Message<T, Vec<D>>>>>>;

impl<T, D, F> ParallelizationContract<T, Vec<D>> for Metered<F>
where
    T: Timestamp,
    D: ExchangeData,
    F: FnMut(&D) -> u64 + 'static,
{
    type Pusher =
        Exchange<T, Sender<T, D>, DrainContainerDistributor<CapacityContainerBuilder<Vec<D>>, F>>;
    type Puller = MeteredPuller<LogPuller<Box<dyn Pull<Message<T, Vec<D>>>>>>;

    fn connect(
        self,
        worker: &Worker,
        identifier: usize,
        address: Rc<[usize]>,
        logging: Option<TimelyLogger>,
    ) -> (Self::Pusher, Self::Puller) {
        let index = worker.index();
        let (senders, receiver) =
            worker.allocate::<Message<T, Vec<D>>>(identifier, Rc::clone(&address));
        let senders = senders
            .into_iter()
            .enumerate()
            .map(|(target, sender)| MeteredPusher {
                inner: LogPusher::new(sender, index, target, identifier, logging.clone()),
                target,
                gauge: self.gauge.clone(),
            })
            .collect();
        let distributor = DrainContainerDistributor::new(self.route, worker.peers());
        let credits = self
            .gauge
            .as_ref()
            .and_then(|gauge| Credits::connect(worker, address, gauge));
        let puller = MeteredPuller {
            inner: LogPuller::new(receiver, index, identifier, logging),
            index,
            gauge: self.gauge,
            credits,
        };
        (Exchange::new(senders, distributor), puller)
    }
}
