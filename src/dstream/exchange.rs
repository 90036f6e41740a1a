//! Moving a batch's partitions between workers: shuffles, gathering a batch on one worker, and
//! spreading it again.
//!
//! [`redistribute`] makes a batch of `total` output partitions from a batch's [`Slice`]s: every worker
//! cuts each partition it holds into pieces, one per output partition that the partition's records go
//! to (`split`), and sends each piece to the worker that assembles that output partition ([`Owner`]).
//! Once the frontier has passed the batch, that worker puts each of its output partitions together from
//! its pieces in the order of the input partitions they came from, and applies `finish` to it. Because
//! the pieces are put together in input order, a record meets the same records in the same order as
//! when one worker does it all: results are those of one worker, partition for partition.
//!
//! Every worker that has a slice of the batch also tells every worker the output's size (a piece with
//! no records), so that every worker has a slice of the output, even with no partition in it; a batch
//! is then present on all workers or on none, which the per-batch operators downstream rely on.
//!
//! On one worker, nothing moves: the pieces are put together at once, without waiting for the frontier.

use std::collections::BTreeMap;

use caudal_operators::EventTime;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::StreamVec;

use super::context::Graph;
use super::rdd::Data;
use super::slice::Slice;

/// Which worker assembles output partition `p`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// Worker `p % workers`: the partitions spread over all workers.
    Spread,
    /// The first worker, which then holds the whole batch (for output operations and for functions of
    /// a whole batch).
    First,
}

impl Owner {
    fn of(self, partition: usize, workers: usize) -> usize {
        match self {
            Owner::Spread => partition % workers,
            Owner::First => 0,
        }
    }
}

/// A part of an output partition on its way to the worker that assembles it.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(bound = "M: serde::Serialize + serde::de::DeserializeOwned")]
struct Piece<M> {
    /// The worker it goes to.
    to: usize,
    /// How many partitions the output has.
    total: usize,
    /// The output partition it belongs to; `None` for a piece that only says `total`.
    partition: Option<usize>,
    /// The input partition it came from, which orders the pieces of an output partition.
    from: usize,
    records: Vec<M>,
}

/// The batch of `total(input partitions)` partitions into which `split(input place, records, total,
/// emit)` sends every input partition's records (`emit(output partition, records)`), each output
/// partition then being `finish(output partition, its records in input order)`, assembled by its
/// [`Owner`].
pub(crate) fn redistribute<'s, T: Data, M: Data, U: Data>(
    stream: StreamVec<'s, EventTime, Slice<T>>,
    graph: &Graph,
    name: &str,
    owner: Owner,
    total: impl Fn(usize) -> usize + 'static,
    mut split: impl FnMut(usize, Vec<T>, usize, &mut dyn FnMut(usize, Vec<M>)) + 'static,
    mut finish: impl FnMut(usize, Vec<M>) -> Vec<U> + 'static,
) -> StreamVec<'s, EventTime, Slice<U>> {
    let (me, workers) = (graph.worker, graph.workers);
    if workers == 1 {
        return stream.unary::<CapacityContainerBuilder<Vec<Slice<U>>>, _, _, _>(
            Pipeline,
            name,
            move |_cap, _info| {
                move |input, output| {
                    input.for_each(|cap, data| {
                        let mut session = output.session(&cap);
                        for slice in data.drain(..) {
                            let out = total(slice.total());
                            let mut pieces = Vec::new();
                            cut(slice, out, &mut split, |partition, from, records| {
                                pieces.push((partition, from, records))
                            });
                            session.give(assemble(out, 0..out, pieces, &mut finish));
                        }
                    });
                }
            },
        );
    }
    let pieces = stream.unary::<CapacityContainerBuilder<Vec<Piece<M>>>, _, _, _>(
        Pipeline,
        &format!("{name}Split"),
        move |_cap, _info| {
            move |input, output| {
                input.for_each(|cap, data| {
                    let mut session = output.session(&cap);
                    for slice in data.drain(..) {
                        let out = total(slice.total());
                        for to in 0..workers {
                            session.give(Piece {
                                to,
                                total: out,
                                partition: None,
                                from: 0,
                                records: Vec::new(),
                            });
                        }
                        cut(slice, out, &mut split, |partition, from, records| {
                            session.give(Piece {
                                to: owner.of(partition, workers),
                                total: out,
                                partition: Some(partition),
                                from,
                                records,
                            })
                        });
                    }
                });
            }
        },
    );
    pieces.unary_frontier::<CapacityContainerBuilder<Vec<Slice<U>>>, _, _, _>(
        Exchange::new(|piece: &Piece<M>| piece.to as u64),
        name,
        move |_cap, _info| {
            type Stash<M> = BTreeMap<EventTime, (Capability<EventTime>, usize, Vec<Piece<M>>)>;
            let mut stash: Stash<M> = BTreeMap::new();
            move |(input, frontier), output| {
                let port = output.output_index();
                input.for_each(|cap, data| {
                    let time = *cap.least().expect("a message has a time");
                    let slot = stash
                        .entry(time)
                        .or_insert_with(|| (cap.delayed(&time, port), 0, Vec::new()));
                    for piece in data.drain(..) {
                        slot.1 = piece.total;
                        if piece.partition.is_some() {
                            slot.2.push(piece);
                        }
                    }
                });
                while let Some(entry) = stash.first_entry() {
                    if frontier.less_equal(entry.key()) {
                        break;
                    }
                    let (cap, out, pieces) = entry.remove();
                    let mine = (0..out).filter(|&p| owner.of(p, workers) == me);
                    let pieces = pieces
                        .into_iter()
                        .map(|p| {
                            (
                                p.partition.expect("a piece with records"),
                                p.from,
                                p.records,
                            )
                        })
                        .collect();
                    output
                        .session(&cap)
                        .give(assemble(out, mine, pieces, &mut finish));
                }
            }
        },
    )
}

/// Each partition of `slice` cut by `split` into pieces of the `out` output partitions:
/// `piece(output partition, input partition, records)`.
fn cut<T: Data, M>(
    slice: Slice<T>,
    out: usize,
    split: &mut impl FnMut(usize, Vec<T>, usize, &mut dyn FnMut(usize, Vec<M>)),
    mut piece: impl FnMut(usize, usize, Vec<M>),
) {
    for (place, records) in slice.into_placed() {
        split(place, records, out, &mut |partition, records| {
            piece(partition, place, records)
        });
    }
}

/// The slice of output partitions `mine` of a batch of `total`, each `finish` of its pieces' records
/// in the order of the input partitions they came from.
fn assemble<M, U>(
    total: usize,
    mine: impl Iterator<Item = usize>,
    mut pieces: Vec<(usize, usize, Vec<M>)>,
    finish: &mut impl FnMut(usize, Vec<M>) -> Vec<U>,
) -> Slice<U> {
    // Stable: the pieces one input partition cut for one output partition keep their order.
    pieces.sort_by_key(|&(partition, from, _)| (partition, from));
    let mut pieces = pieces.into_iter().peekable();
    let mut parts = Vec::new();
    for partition in mine {
        let mut records = Vec::new();
        while let Some((_, _, mut more)) = pieces.next_if(|(p, _, _)| *p == partition) {
            if records.is_empty() {
                records = more;
            } else {
                records.append(&mut more);
            }
        }
        parts.push((partition, finish(partition, records)));
    }
    Slice::from_parts(total, parts)
}

/// Each input partition whole to output partition `place` of a batch of as many: the same batch,
/// its partitions placed by `owner`.
pub(crate) fn place<'s, T: Data>(
    stream: StreamVec<'s, EventTime, Slice<T>>,
    graph: &Graph,
    name: &str,
    owner: Owner,
) -> StreamVec<'s, EventTime, Slice<T>> {
    redistribute(
        stream,
        graph,
        name,
        owner,
        |n| n,
        |place, records, _, emit| emit(place, records),
        |_, records| records,
    )
}

/// `f` of every epoch's data on this worker, in epoch order, once the frontier has passed the epoch,
/// with state kept from one epoch to the next and checkpointed with the worker's other operators.
pub(crate) fn per_epoch<'s, D, S, O>(
    stream: StreamVec<'s, EventTime, D>,
    graph: &Graph,
    name: &str,
    init: S,
    f: impl FnMut(&mut S, EventTime, Vec<D>) -> Option<O> + 'static,
) -> StreamVec<'s, EventTime, O>
where
    D: timely::ExchangeData,
    S: serde::Serialize + serde::de::DeserializeOwned + 'static,
    O: Clone + 'static,
{
    use caudal_operators::epoch::EpochOps;
    if graph.workers == 1 {
        stream.per_epoch(name, init, f)
    } else {
        stream.per_epoch_here(name, init, f)
    }
}
