//! The timely operator behind [`super::KeyedOperator`]: one input exchanged by key, two outputs
//! (results and late records), the state registered with the worker, timers fired within the budget.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::hash::Hash;
use std::rc::{Rc, Weak};

use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::{Capability, CapabilityTrait, InputCapability};
use timely::ExchangeData;

use super::context::Context;
use super::registry::{
    Footprint, OperatorSnapshot, Restore, Retiring, Snapshotting, StateRegistry, SNAPSHOT_FORMAT,
};
use super::state::KeyedState;
use super::timers::{Timer, TimerQueue};
use super::{KeyedOperator, LateRecord};
use crate::budget::WorkBudget;
use crate::exchange::{ExchangeGauge, Metered};
use crate::hash::route;
use crate::stream::EventStream;
use crate::time::{wall_clock_ms, watermark_at, Event, EventTime};

/// What the shell keeps of an operator, and what its snapshot holds.
#[derive(Serialize, Deserialize)]
#[serde(bound(
    serialize = "K: Serialize + Hash + Eq, S: Serialize",
    deserialize = "K: Deserialize<'de> + Hash + Eq, S: Deserialize<'de>"
))]
struct ShellState<K, S> {
    states: KeyedState<K, S>,
    timers: TimerQueue<K>,
}

/// The state as registered with the worker: with what identifies its serialized form.
struct Registered<K, S> {
    state: ShellState<K, S>,
    state_version: u32,
    operator_type: &'static str,
}

impl<K: Serialize + Hash + Eq, S: Serialize> Snapshotting for Registered<K, S> {
    fn snapshot(&self) -> OperatorSnapshot {
        OperatorSnapshot {
            format: SNAPSHOT_FORMAT,
            state_version: self.state_version,
            operator_type: self.operator_type.to_string(),
            bytes: bincode::serialize(&self.state).expect("operator state serializes"),
        }
    }

    fn footprint(&self) -> Footprint {
        let states = &self.state.states;
        Footprint {
            keys: states.len() as u64,
            serialized_bytes: bincode::serialized_size(states).expect("operator state serializes"),
            table_bytes: (states.capacity() * (std::mem::size_of::<(K, S)>() + 1)) as u64,
        }
    }
}

impl<K: for<'de> Deserialize<'de> + Hash + Eq + Clone, S: for<'de> Deserialize<'de>>
    Registered<K, S>
{
    /// Takes its share of a restore: its own snapshot, or the keys it owns from every old worker's.
    fn restore(&mut self, share: Restore) -> Result<(), String> {
        for part in share.parts {
            let state = self.decode(part)?;
            match share.placement {
                None => self.state = state,
                Some(placement) => {
                    let ShellState { states, timers } = state;
                    self.state.states.absorb(states, |k| placement.owns(k));
                    self.state.timers.absorb(timers, |k| placement.owns(k));
                }
            }
        }
        Ok(())
    }

    fn decode(&self, part: OperatorSnapshot) -> Result<ShellState<K, S>, String> {
        if part.format != SNAPSHOT_FORMAT {
            return Err(format!(
                "snapshot format {} is not the format this build reads ({SNAPSHOT_FORMAT})",
                part.format
            ));
        }
        if part.operator_type != self.operator_type {
            return Err(format!(
                "the snapshot is of a {} operator, this one is a {}",
                part.operator_type, self.operator_type
            ));
        }
        if part.state_version != self.state_version {
            return Err(format!(
                "the snapshot holds state version {}, this build has version {}",
                part.state_version, self.state_version
            ));
        }
        bincode::deserialize(&part.bytes)
            .map_err(|e| format!("the state does not decode ({e}): damaged or of another type"))
    }
}

/// A message held back (while a firing pass is under way, or until the frontier reaches its time),
/// with capabilities for both outputs.
struct Stashed<K, V> {
    caps: [Capability<EventTime>; 2],
    data: Vec<Event<(K, V)>>,
}

impl<K, V> Stashed<K, V> {
    fn time(&self) -> EventTime {
        *self.caps[0].time()
    }
}

/// Something capabilities can be minted from: a message's capability or a stashed pair.
trait Mint {
    fn mint(&self, time: EventTime, port: usize) -> Capability<EventTime>;
}

impl Mint for InputCapability<EventTime> {
    fn mint(&self, time: EventTime, port: usize) -> Capability<EventTime> {
        self.delayed(&time, port)
    }
}

impl Mint for [Capability<EventTime>; 2] {
    fn mint(&self, time: EventTime, port: usize) -> Capability<EventTime> {
        self[port].delayed(&time)
    }
}

/// The capabilities the shell holds for its timers' output: results, and late records if timers can
/// make them. Held exactly while some timer is pending.
struct Held {
    caps: [Option<Capability<EventTime>>; 2],
    ports: usize,
}

impl Held {
    fn time(&self) -> Option<EventTime> {
        self.caps[0].as_ref().map(|c| *c.time())
    }

    /// Makes sure the capabilities cover the timers after a message read at `read_at` set some.
    fn cover<K: Hash + Eq + Clone>(
        &mut self,
        timers: &TimerQueue<K>,
        from: &impl Mint,
        read_at: EventTime,
    ) {
        let processing = timers.has_processing().then_some(read_at);
        let event = timers.earliest_event();
        let Some(needed) = processing.into_iter().chain(event).min() else {
            return;
        };
        let needed = needed.max(read_at);
        if self.time().is_none_or(|held| needed < held) {
            for port in 0..self.ports {
                self.caps[port] = Some(from.mint(needed, port));
            }
        }
    }

    /// Moves the capabilities up to what the pending timers still need, or lets them go.
    fn settle<K: Hash + Eq + Clone>(
        &mut self,
        timers: &TimerQueue<K>,
        frontier: Option<EventTime>,
    ) {
        let Some(held) = self.time() else {
            return;
        };
        let processing = timers.has_processing().then(|| frontier.unwrap_or(held));
        let event = timers.earliest_event();
        match processing.into_iter().chain(event).min() {
            None => self.caps = [None, None],
            Some(target) if target > held => {
                for cap in self.caps.iter_mut().flatten() {
                    cap.downgrade(&target);
                }
            }
            Some(_) => {}
        }
    }
}

/// The output handle of one of the shell's outputs during an activation.
type Session<'a, D> = timely::dataflow::operators::generic::OutputBuilderSession<
    'a,
    EventTime,
    CapacityContainerBuilder<Vec<Event<D>>>,
>;

/// Sends what the buffers hold at the given capabilities.
fn flush<O: 'static, K: 'static, V: 'static>(
    out: &mut Session<'_, O>,
    late: &mut Session<'_, LateRecord<K, V>>,
    out_buf: &mut Vec<Event<O>>,
    late_buf: &mut Vec<Event<LateRecord<K, V>>>,
    out_cap: &impl CapabilityTrait<EventTime>,
    late_cap: &impl CapabilityTrait<EventTime>,
) {
    if !out_buf.is_empty() {
        out.session(out_cap).give_container(out_buf);
        out_buf.clear();
    }
    if !late_buf.is_empty() {
        late.session(late_cap).give_container(late_buf);
        late_buf.clear();
    }
}

/// Builds the shell around `op`.
#[allow(clippy::type_complexity)]
pub(super) fn build<'scope, K, V, Op>(
    stream: EventStream<'scope, (K, V)>,
    name: &str,
    mut op: Op,
) -> (
    EventStream<'scope, Op::Out>,
    EventStream<'scope, LateRecord<K, V>>,
)
where
    K: ExchangeData + Hash + Eq + Clone,
    V: ExchangeData,
    Op: KeyedOperator<K, V>,
{
    let scope = stream.scope();
    let budget = WorkBudget::of(scope).limit();
    let mut builder = OperatorBuilder::new(name.to_owned(), scope);
    let info = builder.operator_info();
    let pact = Metered::new(
        |e: &Event<(K, V)>| route(&e.data.0),
        ExchangeGauge::of(scope),
    );
    let mut input = builder.new_input(stream.inner, pact);
    let (out, out_stream) = builder.new_output::<Vec<Event<Op::Out>>>();
    let (late, late_stream) = builder.new_output::<Vec<Event<LateRecord<K, V>>>>();
    let mut out = OutputBuilder::<_, CapacityContainerBuilder<Vec<Event<Op::Out>>>>::from(out);
    let mut late =
        OutputBuilder::<_, CapacityContainerBuilder<Vec<Event<LateRecord<K, V>>>>>::from(late);
    let activator = scope.activator_for(info.address.clone());

    let shared = Rc::new(RefCell::new(Registered::<K, Op::State> {
        state: ShellState {
            states: KeyedState::default(),
            timers: TimerQueue::default(),
        },
        state_version: Op::STATE_VERSION,
        operator_type: std::any::type_name::<Op>(),
    }));
    let registry = StateRegistry::current();
    let id = registry.next_id(info.address[0], name);
    let weak: Weak<RefCell<dyn Snapshotting>> = Rc::downgrade(&shared) as _;
    if let Some(share) = registry.register(id.clone(), weak) {
        if let Err(reason) = shared.borrow_mut().restore(share) {
            registry.restore_failed(id.clone(), reason);
        }
    }
    if Op::DISTINCT_TIMERS {
        shared.borrow_mut().state.timers.make_distinct();
    }
    let retiring = Retiring {
        id: id.clone(),
        state: shared.clone() as Rc<RefCell<dyn Snapshotting>>,
    };

    builder.build(move |caps| {
        let ports = if Op::LATE_ON_TIMER { 2 } else { 1 };
        let mut held = Held {
            caps: [None, None],
            ports,
        };
        // Restored timers need the initial capabilities; the first activation moves them up.
        if !shared.borrow().state.timers.is_empty() {
            for (port, cap) in caps.into_iter().enumerate().take(ports) {
                held.caps[port] = Some(cap);
            }
            activator.activate();
        }
        let mut stash: VecDeque<Stashed<K, V>> = VecDeque::new();
        // Messages with records behind their time, waiting for the frontier to reach it; by time.
        let mut waiting: VecDeque<Stashed<K, V>> = VecDeque::new();
        let mut out_buf: Vec<Event<Op::Out>> = Vec::new();
        let mut late_buf: Vec<Event<LateRecord<K, V>>> = Vec::new();
        // The watermark of the pass in progress, and the earliest processing-time activation asked for.
        let mut pass_watermark = i64::MIN;
        let mut armed: Option<u64> = None;
        // The latest message time whose watermark the operator has taken in: a message at it or
        // earlier was handled with no timer due before it pending.
        let mut seen = EventTime::MIN;

        move |frontiers| {
            // The logic owns it: its drop leaves the state's last snapshot with the register.
            let _ = &retiring;
            let mut shared = shared.borrow_mut();
            let ShellState { states, timers } = &mut shared.state;
            let mut out = out.activate();
            let mut late = late.activate();
            let seen = &mut seen;
            let frontier = frontiers[0].frontier().first().copied();
            let watermark = watermark_at(frontier);

            // One message's records, then its results at its time.
            macro_rules! handle {
                ($data:expr, $read_at:expr, $mint:expr, $out_cap:expr, $late_cap:expr) => {{
                    let read_at = $read_at;
                    if !owes(timers, read_at) {
                        *seen = (*seen).max(read_at);
                    }
                    let mut ctx = Context::new(
                        states,
                        timers,
                        &mut out_buf,
                        &mut late_buf,
                        read_at,
                        watermark,
                    );
                    for Event {
                        time,
                        data: (key, value),
                    } in $data.drain(..)
                    {
                        op.on_record(key, value, time, &mut ctx);
                    }
                    flush(
                        &mut out,
                        &mut late,
                        &mut out_buf,
                        &mut late_buf,
                        $out_cap,
                        $late_cap,
                    );
                    held.cover(timers, $mint, read_at);
                }};
            }

            // Records held back in this activation: without a pass under way they would have been
            // handled as they came.
            //
            // A message's time is its sender's watermark plus one, and in Flink that watermark reaches
            // the operator before the message: the timers due before the message's time fire before
            // its records are handled (timers set behind the watermark wait for its next move). For a
            // record at or after its message's time that order makes no difference (every window it
            // touches ends after it), but one behind it, late by its sender's watermark, could
            // otherwise merge into a session or a shared pane past its cleanup time. So a message with
            // such records waits, while timers due before its time are pending and the operator has
            // not taken in that watermark (`seen`), until the frontier reaches its time: until then
            // those timers may not be due, as another sender can be behind. Then they fire, then its
            // records are handled. On-time records never wait, nor does anything behind a waiting
            // message.
            let mut held_back = 0usize;
            input.for_each(|cap, data| {
                let read_at = *cap.least().expect("a message has a time");
                let behind = read_at > *seen
                    && owes(timers, read_at)
                    && data.iter().any(|e| e.time < read_at);
                if behind || timers.in_pass() || !stash.is_empty() {
                    held_back += data.len();
                    let message = Stashed {
                        caps: [cap.delayed(&read_at, 0), cap.delayed(&read_at, 1)],
                        data: std::mem::take(data),
                    };
                    if behind {
                        let i = waiting.partition_point(|w| w.time() <= read_at);
                        waiting.insert(i, message);
                    } else {
                        stash.push_back(message);
                    }
                    return;
                }
                handle!(data, read_at, &cap, &cap, &cap);
            });

            // Firing passes, within the budget, plus as much work as the records held back in this
            // activation would have cost on arrival: the budget bounds the work an activation adds to
            // what its input brings. Within the budget alone, a backlog could only grow while the
            // input brings more than the budget per activation (as a closed-loop source's does):
            // what comes during a pass waits behind it, no new pass begins before it is handled, and
            // the timers, so the frontier downstream, would wait for the end of the input.
            let mut work = budget.saturating_add(held_back);
            let mut at: Option<EventTime> = None;
            loop {
                if !timers.in_pass() {
                    // The pass is over: its results go out, then what was held back during it, within
                    // the budget too (a record costs about what a timer does).
                    flush_held(&held, &mut out, &mut late, &mut out_buf, &mut late_buf, at);
                    at = None;
                    let now = if timers.has_processing() {
                        wall_clock_ms()
                    } else {
                        0
                    };
                    // First what was held back during the pass, then the messages behind their time
                    // whose time the frontier has reached, each after the timers due before its time
                    // (and no others): a message with a later time waits for the frontier, which
                    // wakes the operator when it moves.
                    while work > 0 {
                        let message = if stash.is_empty() {
                            let Some(read_at) = waiting.front().map(Stashed::time) else {
                                break;
                            };
                            if frontier.is_some_and(|f| f < read_at) {
                                break;
                            }
                            if read_at > *seen
                                && owes(timers, read_at)
                                && timers.begin_pass(Some(read_at), now)
                            {
                                pass_watermark = read_at.saturating_sub(1);
                                break;
                            }
                            waiting.pop_front()
                        } else {
                            stash.pop_front()
                        };
                        let Some(Stashed { caps, mut data }) = message else {
                            break;
                        };
                        work = work.saturating_sub(data.len());
                        let read_at = *caps[0].time();
                        handle!(data, read_at, &caps, &caps[0], &caps[1]);
                    }
                    if !stash.is_empty() {
                        activator.activate();
                        break;
                    }
                    if !timers.in_pass() {
                        if waiting
                            .front()
                            .is_some_and(|w| frontier.is_none_or(|f| f >= w.time()))
                        {
                            activator.activate();
                            break;
                        }
                        if !timers.begin_pass(frontier, now) {
                            break;
                        }
                        pass_watermark = watermark;
                    }
                }
                if work == 0 {
                    activator.activate();
                    break;
                }
                let Some((timer, key)) = timers.next_due() else {
                    continue;
                };
                work -= 1;
                let held_at = held
                    .time()
                    .expect("a capability is held while timers are pending");
                let time = match timer {
                    Timer::EventTime(t) => t.max(held_at),
                    Timer::ProcessingTime(_) => held_at,
                };
                if at.is_some_and(|a| a != time) {
                    flush_held(&held, &mut out, &mut late, &mut out_buf, &mut late_buf, at);
                }
                at = Some(time);
                let mut ctx = Context::new(
                    states,
                    timers,
                    &mut out_buf,
                    &mut late_buf,
                    time,
                    pass_watermark,
                );
                op.on_timer(key, timer, &mut ctx);
            }
            flush_held(&held, &mut out, &mut late, &mut out_buf, &mut late_buf, at);

            // Processing-time timers wake the operator; timely keeps every activation it is asked for,
            // so ask only for one earlier than the one already asked for.
            if let Some(next) = timers.earliest_processing() {
                let now = wall_clock_ms();
                if armed.is_some_and(|a| a <= now) {
                    armed = None;
                }
                if next > now && armed.is_none_or(|a| next < a) {
                    activator.activate_after(std::time::Duration::from_millis(next - now));
                    armed = Some(next);
                } else if next <= now {
                    activator.activate();
                }
            }
            held.settle(timers, frontier);
        }
    });
    (EventStream::new(out_stream), EventStream::new(late_stream))
}

/// Whether an event-time timer due before `time` is pending: the watermark `time - 1` has not been
/// taken in.
fn owes<K: Hash + Eq + Clone>(timers: &TimerQueue<K>, time: EventTime) -> bool {
    timers.earliest_event().is_some_and(|t| t < time)
}

/// Sends the results of timers that went out at `at` with the held capabilities.
fn flush_held<O: 'static, K: 'static, V: 'static>(
    held: &Held,
    out: &mut Session<'_, O>,
    late: &mut Session<'_, LateRecord<K, V>>,
    out_buf: &mut Vec<Event<O>>,
    late_buf: &mut Vec<Event<LateRecord<K, V>>>,
    at: Option<EventTime>,
) {
    let Some(at) = at else {
        return;
    };
    if !out_buf.is_empty() {
        let cap = held.caps[0].as_ref().expect("held").delayed(&at);
        out.session(&cap).give_container(out_buf);
        out_buf.clear();
    }
    if !late_buf.is_empty() {
        let cap = held.caps[1]
            .as_ref()
            .expect(
                "timers of an operator that sends late records from timers hold the late output",
            )
            .delayed(&at);
        late.session(&cap).give_container(late_buf);
        late_buf.clear();
    }
}
