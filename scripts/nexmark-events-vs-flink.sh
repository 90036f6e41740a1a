#!/usr/bin/env bash
# Caudal's NEXMark events beside those of Flink's own NEXMark suite, field by field:
#
#   scripts/nexmark-events-vs-flink.sh [EVENTS [TPS]]     # defaults: 20000 10000000
#
# * Flink: `CaudalNexmark --events` (peers/flink/CaudalNexmark.java), `SELECT * FROM datagen` over
#   the suite's `nexmark` connector, twice (two runs of the same configuration);
# * Caudal: `examples/nexmark_events.rs`, its generator (the `nexmark` crate's, ported) with the
#   connector's numbering: the connector's first event has id 2 and number 1; Caudal's kind of event
#   follows the number and Flink's the id, so Caudal starts at id 0 and number 2, which puts the same
#   kinds and ids at the same places (its times are then one event later: below 1 ms).
#
# Times are compared relative to the first event's (Flink's base time is the wall clock when the job
# is planned; Caudal's is 0), strings case-insensitively. It prints, for every field both keep, how
# many events differ, with an example. What it shows (see README, "NEXMark beside Flink"): the kinds,
# the person and auction ids and the event times agree, up to Flink's rounding of times down where
# Caudal rounds to the nearest millisecond; every field the generators draw at random differs, and
# differs between two runs of Flink too: the suite's generator draws from an unseeded
# `SplittableRandom`, so its events cannot be reproduced, by Caudal or by Flink.
set -euo pipefail

EVENTS="${1:-20000}"
TPS="${2:-10000000}"
NAME=nexmark-events-vs-flink
EXAMPLE=nexmark_events
USAGE="scripts/nexmark-events-vs-flink.sh 20000 10000000"
# shellcheck source=scripts/flink-nexmark-prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/flink-nexmark-prelude.sh"
"$CAUDAL" "$EVENTS" "$TPS" 0 2 0 >"$OUT/caudal"
for run in 1 2; do
    "$PEERS/flink/nexmark" --events "$EVENTS" "$TPS" >"$OUT/flink$run" 2>"$OUT/flink.err" ||
        { say "Flink failed: $(grep -m1 -E 'Exception' "$OUT/flink.err" | cut -c1-200)"; exit 1; }
done

python3 - "$OUT/caudal" "$OUT/flink1" "$OUT/flink2" <<'PYEOF'
import json, sys
from collections import Counter

def load(path):
    return [json.loads(line) for line in open(path)]

def kind(event):
    return next(iter(event))

def compare(name, xs, ys):
    bx, by = (s[0][kind(s[0])]["date_time"] for s in (xs, ys))
    kinds = sum(kind(x) != kind(y) for x, y in zip(xs, ys))
    print(f"{name}: {len(xs)} and {len(ys)} events, {kinds} of different kinds")
    differ, total, example = Counter(), Counter(), {}
    for i, (x, y) in enumerate(zip(xs, ys)):
        k = kind(x)
        if kind(y) != k:
            continue
        for field, a in x[k].items():
            if field not in y[k]:
                continue
            b = y[k][field]
            if field in ("date_time", "expires"):
                a, b = a - bx, b - by
            if isinstance(a, str):
                a, b = a.lower(), b.lower()
            total[k, field] += 1
            if a != b:
                differ[k, field] += 1
                example.setdefault((k, field), f"event {i}: {a!r} vs {b!r}")
    for key in sorted(total):
        print(f"  {key[0]}.{key[1]}: {differ[key]} of {total[key]} differ  {example.get(key, '')}")

caudal, flink1, flink2 = (load(p) for p in sys.argv[1:])
compare("Caudal vs Flink", caudal, flink1)
compare("Flink vs Flink (a second run)", flink1, flink2)
PYEOF
