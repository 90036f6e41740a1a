//! Windowed joins and cogroup of two keyed streams.
//!
//! Both sides are tagged ([`Side`]), merged, and windowed by the fixed-window operator with a cogroup
//! aggregation: a window's result is the pair of its left and right values. The merged stream's frontier
//! is the lesser of the two inputs', so a window closes only when both sides have passed it, and
//! lateness, re-firing and cleanup are those of every window (a record from either side that is too late
//! goes to the late output, tagged with its side). Joins expand each window's cogroup:
//!
//! * inner: every left value with every right value of the same key and window;
//! * left outer: as inner, and each left value with `None` where the window has no right value;
//! * right outer: the mirror image; full outer: both.

use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use timely::ExchangeData;

use super::aggregate::Aggregate;
use super::assign::{TimeWindows, Window};
use super::{LateRecord, WindowResult, Windowed};
use crate::stream::EventStream;

/// A value from the left or the right input of a join.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Side<A, B> {
    /// From the left input.
    Left(A),
    /// From the right input.
    Right(B),
}

/// Collects a window's values by side.
pub struct CoGroup<A, B>(std::marker::PhantomData<fn(A, B)>);

impl<A, B> Default for CoGroup<A, B> {
    fn default() -> Self {
        CoGroup(std::marker::PhantomData)
    }
}

impl<
        A: Clone + Serialize + DeserializeOwned + 'static,
        B: Clone + Serialize + DeserializeOwned + 'static,
    > Aggregate<Side<A, B>> for CoGroup<A, B>
{
    type Acc = (Vec<A>, Vec<B>);
    type Out = (Vec<A>, Vec<B>);
    fn create(&self) -> Self::Acc {
        (Vec::new(), Vec::new())
    }
    fn add(&self, acc: &mut Self::Acc, value: Side<A, B>) {
        match value {
            Side::Left(a) => acc.0.push(a),
            Side::Right(b) => acc.1.push(b),
        }
    }
    fn merge(&self, acc: &mut Self::Acc, other: &Self::Acc) {
        acc.0.extend_from_slice(&other.0);
        acc.1.extend_from_slice(&other.1);
    }
    fn result(&self, acc: &Self::Acc) -> Self::Out {
        acc.clone()
    }
}

/// What [`EventStream::window_cogroup`] fires: per key and window, the left and the right values.
pub type CoGroupResult<K, A, B> = WindowResult<K, (Vec<A>, Vec<B>)>;

/// What [`EventStream::window_cogroup`] returns: the cogroups and the late records of either side.
pub type CoGrouped<'scope, K, A, B> = Windowed<'scope, K, Side<A, B>, (Vec<A>, Vec<B>)>;

/// Which pairs a windowed join emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinKind {
    /// Pairs with both sides.
    Inner,
    /// Also left values without a partner.
    LeftOuter,
    /// Also right values without a partner.
    RightOuter,
    /// Also unpartnered values of both sides.
    FullOuter,
}

/// One row of a windowed join.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Joined<K, A, B> {
    /// The key.
    pub key: K,
    /// The window both values fell in.
    pub window: Window,
    /// The left value (`None` only in right and full outer joins).
    pub left: Option<A>,
    /// The right value (`None` only in left and full outer joins).
    pub right: Option<B>,
    /// Which firing of the window this row belongs to (re-firings repeat the window's rows, updated).
    pub firing: u32,
}

/// The rows of `kind` join of one window's cogroup.
pub fn join_rows<A: Clone, B: Clone>(
    kind: JoinKind,
    left: &[A],
    right: &[B],
) -> Vec<(Option<A>, Option<B>)> {
    let mut rows: Vec<(Option<A>, Option<B>)> = Vec::with_capacity(left.len() * right.len().max(1));
    for a in left {
        for b in right {
            rows.push((Some(a.clone()), Some(b.clone())));
        }
    }
    if right.is_empty() && matches!(kind, JoinKind::LeftOuter | JoinKind::FullOuter) {
        rows.extend(left.iter().map(|a| (Some(a.clone()), None)));
    }
    if left.is_empty() && matches!(kind, JoinKind::RightOuter | JoinKind::FullOuter) {
        rows.extend(right.iter().map(|b| (None, Some(b.clone()))));
    }
    rows
}

impl<'scope, K, A> EventStream<'scope, (K, A)>
where
    K: ExchangeData + Hash + Eq + Clone,
    A: ExchangeData + Clone,
{
    /// Groups both streams' values by key and fixed window: one result per key and window, with the
    /// left and right values (either may be empty), and the records of either side that came too late.
    pub fn window_cogroup<B: ExchangeData + Clone>(
        self,
        other: EventStream<'scope, (K, B)>,
        windows: TimeWindows,
        allowed_lateness_ms: u64,
    ) -> CoGrouped<'scope, K, A, B> {
        let left = self.map(|(k, a)| (k, Side::Left(a)));
        let right = other.map(|(k, b)| (k, Side::Right(b)));
        left.union([right])
            .window(windows, allowed_lateness_ms, CoGroup::default())
    }

    /// Joins both streams by key within fixed windows; returns the joined rows and the late records.
    #[allow(clippy::type_complexity)]
    pub fn window_join<B: ExchangeData + Clone>(
        self,
        other: EventStream<'scope, (K, B)>,
        windows: TimeWindows,
        allowed_lateness_ms: u64,
        kind: JoinKind,
    ) -> (
        EventStream<'scope, Joined<K, A, B>>,
        EventStream<'scope, LateRecord<K, Side<A, B>>>,
    ) {
        let (groups, late) = self.window_cogroup(other, windows, allowed_lateness_ms);
        let rows = groups.flat_map(move |r| {
            let (key, window, firing) = (r.key, r.window, r.firing);
            join_rows(kind, &r.value.0, &r.value.1)
                .into_iter()
                .map(move |(left, right)| Joined {
                    key: key.clone(),
                    window,
                    left,
                    right,
                    firing,
                })
        });
        (rows, late)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_rows_follow_the_join_kind() {
        let (l, r) = (["a1", "a2"], ["b1"]);
        assert_eq!(
            join_rows(JoinKind::Inner, &l, &r),
            vec![(Some("a1"), Some("b1")), (Some("a2"), Some("b1"))]
        );
        assert!(join_rows::<&str, &str>(JoinKind::Inner, &l, &[]).is_empty());
        assert_eq!(
            join_rows::<&str, &str>(JoinKind::LeftOuter, &l, &[]),
            vec![(Some("a1"), None), (Some("a2"), None)]
        );
        assert!(join_rows::<&str, &str>(JoinKind::LeftOuter, &[], &r).is_empty());
        assert_eq!(
            join_rows::<&str, &str>(JoinKind::RightOuter, &[], &r),
            vec![(None, Some("b1"))]
        );
        assert_eq!(
            join_rows::<&str, &str>(JoinKind::FullOuter, &[], &r),
            vec![(None, Some("b1"))]
        );
        assert_eq!(
            join_rows::<&str, &str>(JoinKind::FullOuter, &l, &[]).len(),
            2
        );
    }
}
