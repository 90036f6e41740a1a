#!/usr/bin/env bash
# NEXMark on Caudal and on Flink's own NEXMark suite, on this machine, one query after the other:
#
#   scripts/nexmark-vs-flink.sh [EVENTS [REPEAT [QUERY...]]]     # defaults: 5000000 3 and every query
#
# * Caudal: `examples/nexmark.rs`, one worker, per record, closed loop (the generator in the loop);
# * Flink: the nexmark-flink suite's generator, connector and SQL (peers/flink/nexmark, installed by
#   scripts/setup-peers.sh, which this runs if needed), in a local mini-cluster at parallelism 1, into
#   a blackhole sink.
#
# Both generate EVENTS events at the suite's 10,000,000 events per second of event time. A JVM and a
# Flink job take seconds to start, so Flink's figures are marginal: each query also runs on BASE events
# (10,000), and its rate is (EVENTS - BASE) over the difference in wall time, and in CPU time (every
# thread of the JVM: the task, the generator, the JIT, GC). Caudal's are over the whole run. The queries
# run interleaved, REPEAT times; the table gives medians, and the load average before each run is
# printed. The results are not compared: the suite's generator does not make Caudal's events (its
# random fields come from an unseeded SplittableRandom: scripts/nexmark-events-vs-flink.sh), and its
# SQL differs from Caudal's queries in places (a 4 s watermark delay; q4's updating averages; q6 is
# not valid Flink SQL, as the suite says).
set -euo pipefail

EVENTS="${1:-5000000}"
REPEAT="${2:-3}"
shift $(($# > 2 ? 2 : $#))
QUERIES=("$@")
[ ${#QUERIES[@]} -eq 0 ] && QUERIES=(q0 q1 q2 q3 q4 q5 q6 q7 q8 q11 q12)
BASE=10000
TPS=10000000
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS="${CAUDAL_PEERS:-$HOME/.cache/caudal-peers}"
say() { echo "nexmark-vs-flink: $*" >&2; }

case "$EVENTS$REPEAT" in
    *[!0-9]*) say "EVENTS and REPEAT are counts, such as: scripts/nexmark-vs-flink.sh 5000000 3 q5"; exit 2 ;;
esac
[ "$EVENTS" -gt "$BASE" ] || { say "EVENTS must be more than $BASE"; exit 2; }

[ -x "$PEERS/flink/nexmark" ] || bash "$REPO/scripts/setup-peers.sh"
(cd "$REPO" && cargo build --release --example nexmark >&2)
CAUDAL="$REPO/target/release/examples/nexmark"

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
for rep in $(seq 1 "$REPEAT"); do
    for q in "${QUERIES[@]}"; do
        say "run $rep of $REPEAT, $q; load average $(cut -d' ' -f1-3 /proc/loadavg)"
        # "q5 per-record on 1 worker(s): N events in W s = ... M events/s, C CPU s = ..."
        line="$("$CAUDAL" "$q" "$EVENTS" 1 per-record "$TPS")"
        echo "$line" | sed -n "s/.* events in \([0-9.]*\) s = .*, \([0-9.]*\) CPU s = .*/caudal $q \1 \2/p" >>"$OUT/runs"
        for n in "$BASE" "$EVENTS"; do
            if json="$("$PEERS/flink/nexmark" "$q" "$n" "$TPS" 2>"$OUT/flink.err")"; then
                echo "$json" | python3 -c "import json,sys; r=json.load(sys.stdin); print('flink', r['query'], $n, r['wall_s'], r['cpu_s'], r['flink'])" >>"$OUT/runs"
            else
                say "Flink cannot run $q: $(grep -m1 -E 'Exception' "$OUT/flink.err" | cut -c1-200)"
                break
            fi
        done
    done
done

python3 - "$OUT/runs" "$EVENTS" "$BASE" "${QUERIES[@]}" <<'PYEOF'
import statistics, sys
path, events, base, queries = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
caudal, flink, version = {}, {}, "?"
rows = [l.split() for l in open(path)]
for r in rows:
    if r[0] == "caudal":
        caudal.setdefault(r[1], []).append((float(r[2]), float(r[3])))
pending = {}
for r in rows:
    if r[0] == "flink":
        version = r[5]
        q, n, wall, cpu = r[1], int(r[2]), float(r[3]), float(r[4])
        if n == base:
            pending[q] = (wall, cpu)
        elif q in pending:
            bw, bc = pending.pop(q)
            flink.setdefault(q, []).append(((events - base) / max(wall - bw, 1e-9), (events - base) / max(cpu - bc, 1e-9)))
med = statistics.median
print(f"NEXMark, {events:,} events at 10M events/s of event time, 1 worker / parallelism 1, medians of {max(len(v) for v in caudal.values())}")
print()
print(f"| query | Caudal events/s | Caudal events per CPU-s | Flink {version} events/s | Flink events per CPU-s | Caudal / Flink, per CPU-s |")
print("|---|---|---|---|---|---|")
for q in queries:
    c = caudal.get(q, [])
    cw = med([events / w for w, _ in c]) if c else None
    cc = med([events / cpu for _, cpu in c]) if c else None
    f = flink.get(q, [])
    fw = med([x for x, _ in f]) if f else None
    fc = med([y for _, y in f]) if f else None
    fmt = lambda v: f"{v / 1e6:.2f}M" if v is not None else "—"
    ratio = f"{cc / fc:.0f}×" if cc and fc else "—"
    print(f"| {q} | {fmt(cw)} | {fmt(cc)} | {fmt(fw) if f else 'not in the suite'} | {fmt(fc)} | {ratio} |")
PYEOF
