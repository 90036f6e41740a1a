//! `StateRegistry::footprint`: what each keyed operator of a worker holds, counted while it runs.

use caudal_operators::shell::StateRegistry;
use caudal_operators::stream::EventInput;
use caudal_operators::{Event, EventStream, EventTime};
use timely::dataflow::operators::{Input, Probe};
use timely::dataflow::ProbeHandle;

#[test]
fn footprint_counts_each_operators_keys_and_bytes() {
    timely::execute_directly(|worker| {
        let registry = StateRegistry::current();
        let mut input: EventInput<(u64, u64)> = EventInput::new();
        let probe = ProbeHandle::new();
        worker.dataflow::<EventTime, _, _>(|scope| {
            let records = EventStream::new(scope.input_from(&mut input));
            let sums = records.clone().map_with_state(
                "Sums",
                || 0u64,
                |_, sum, v| {
                    *sum += v;
                    None::<u64>
                },
            );
            // A second operator, on a tenth of the keys, whose state has a heap part.
            let lists = records.filter(|(key, _)| key % 10 == 0).map_with_state(
                "Lists",
                Vec::<u64>::new,
                |_, list, v| {
                    list.push(v);
                    None::<u64>
                },
            );
            sums.inner.probe_with(&probe);
            lists.inner.probe_with(&probe);
        });
        assert!(registry.footprint().iter().all(|(_, f)| f.keys == 0));
        for key in 0..1000u64 {
            input.send(Event::new(1, (key, 1)));
            input.send(Event::new(1, (key, 2)));
        }
        input.advance_to(2);
        worker.step_while(|| probe.less_than(input.time()));
        let footprint = registry.footprint();
        let (_, sums) = footprint
            .iter()
            .find(|(id, _)| id.name == "Sums")
            .expect("the operator is registered");
        assert_eq!(sums.keys, 1000);
        // bincode: the map's length, then each key and its sum, 8 bytes each.
        assert_eq!(sums.serialized_bytes, 8 + 1000 * 16);
        assert_eq!(sums.serialized_per_key(), 16.008);
        // The table has room for at least every key, each slot a (u64, u64) and a control byte.
        assert!(sums.table_bytes >= 1000 * 17, "{sums:?}");
        // Each list: its key, its length and its two values.
        let (_, lists) = footprint.iter().find(|(id, _)| id.name == "Lists").unwrap();
        assert_eq!(lists.keys, 100);
        assert_eq!(lists.serialized_bytes, 8 + 100 * (8 + 8 + 2 * 8));
    });
}
