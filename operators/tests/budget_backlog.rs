//! A work budget bounds what one activation of a keyed operator adds to its input's work; it must not
//! stop the operator. Records that come while a firing pass is under way wait for it, and an input
//! that brings more records per activation than the budget used to make that backlog grow forever:
//! no pass could begin again, and no window fired before the end of the input.

use caudal_operators::budget::WorkBudget;
use caudal_operators::stream::EventInput;
use caudal_operators::window::aggregate::Count;
use caudal_operators::window::TimeWindows;
use caudal_operators::{Event, EventStream, EventTime};
use std::cell::RefCell;
use std::rc::Rc;
use timely::dataflow::operators::{Input, Inspect, Probe};
use timely::dataflow::ProbeHandle;

/// Keys per window: each window end fires this many timers, several budgets' worth.
const KEYS: u64 = 40;
/// Records per ms of event time, each ms fed in one activation: more than the budget.
const PER_MS: u64 = 50;
/// The budget: timers (or held-back records) per activation.
const BUDGET: usize = 10;

#[test]
fn windows_fire_while_the_input_brings_more_than_the_budget_per_activation() {
    let mut config = timely::Config::thread();
    WorkBudget::timers(BUDGET).install(&mut config);
    let fired_before_close = timely::execute(config, |worker| {
        let mut input: EventInput<(u64, ())> = EventInput::new();
        let probe = ProbeHandle::new();
        let fired = Rc::new(RefCell::new(0u64));
        let count = fired.clone();
        worker.dataflow::<EventTime, _, _>(|scope| {
            let tumbling = TimeWindows::tumbling(10, 0).unwrap();
            let (windows, _late) =
                EventStream::new(scope.input_from(&mut input)).window(tumbling, 0, Count);
            windows
                .inner
                .inspect(move |_| *count.borrow_mut() += 1)
                .probe_with(&probe);
        });
        // 200 ms of event time, one ms per activation; the watermark follows the input.
        for ms in 0..200i64 {
            for i in 0..PER_MS {
                input.send(Event::new(ms, (i % KEYS, ())));
            }
            input.advance_to(ms + 1);
            input.flush();
            worker.step();
        }
        let before_close = *fired.borrow();
        input.close();
        worker.step_while(|| !probe.done());
        assert_eq!(*fired.borrow(), 20 * KEYS, "every window fires in the end");
        before_close
    })
    .unwrap()
    .join()
    .pop()
    .unwrap()
    .unwrap();
    // 19 windows ended before the last ms was fed; all but the last few must have fired by then.
    assert!(
        fired_before_close >= 15 * KEYS,
        "only {fired_before_close} window results before the input closed, of {} due",
        19 * KEYS
    );
}
