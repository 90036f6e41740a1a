#!/usr/bin/env bash
# Flink's NEXMark SQL and Caudal's NEXMark queries on the same events, results compared:
#
#   scripts/nexmark-results-vs-flink.sh [EVENTS [TPS [QUERY...]]]
#       # defaults: 20000 500 q0 q1 q2 q3 q4 q5 q7 q8 q11
#
# * Caudal: `examples/nexmark_flink_results.rs` writes the first EVENTS events of Caudal's stream (TPS
#   events per second of event time, from time 0) as a file of the suite's `datagen` table, and each
#   query's results (run per record, one worker) as Flink's rows (`caudal::nexmark::flink`);
# * Flink: `CaudalNexmark --results` (peers/flink/CaudalNexmark.java), every query in one JVM, reads
#   that file through the filesystem connector into the `datagen` table of the suite's ddl_gen.sql
#   (schema and 4 s watermark unchanged), builds the suite's views and runs each query's SELECT
#   unchanged, printing its rows.
#
# NEXMARK_OUT_OF_ORDER=N shuffles the events in groups of N, and CAUDAL_WATERMARK_DELAY_MS=4000 gives
# Caudal Flink's watermark, 4 s behind (see examples/nexmark_flink_results.rs).
#
# Results are compared as multisets. Flink's rows are its changelog applied (+I and +U add a row, -U
# and -D remove one), so an updating query (q4) is compared by its final rows: Caudal's latest result
# per category. Prints per query the rows of each and those only one side has (up to 5 each).
set -euo pipefail

EVENTS="${1:-20000}"
TPS="${2:-500}"
shift 2 2>/dev/null || shift $#
QUERIES=("$@")
[ ${#QUERIES[@]} -gt 0 ] || QUERIES=(q0 q1 q2 q3 q4 q5 q7 q8 q11)
NAME=nexmark-results-vs-flink
EXAMPLE=nexmark_flink_results
USAGE="scripts/nexmark-results-vs-flink.sh 20000 500 q7"
# shellcheck source=scripts/flink-nexmark-prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/flink-nexmark-prelude.sh"
"$CAUDAL" "$EVENTS" "$TPS" "$OUT" "${QUERIES[@]}"
LIST="$(IFS=,; echo "${QUERIES[*]}")"
"$PEERS/flink/nexmark" --results "$OUT/events.json" "$LIST" >"$OUT/flink" 2>"$OUT/flink.err" ||
    { say "Flink failed: $(grep -m1 -E 'Exception' "$OUT/flink.err" | cut -c1-200)"; exit 1; }

python3 - "$OUT" "$EVENTS" "$TPS" "${QUERIES[@]}" <<'PYEOF'
import json, sys
from collections import Counter

out, events, tps, queries = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
print(f"{events} events at {tps} events/s of event time")

flink_lines = [json.loads(line) for line in open(f"{out}/flink")]

def rows(lines, final_by_key=False):
    bag, latest = Counter(), {}
    for r in lines:
        row = tuple(json.dumps(v) for v in r["row"])
        if final_by_key:
            latest[row[0]] = row
        elif r["op"] in ("+I", "+U"):
            bag[row] += 1
        else:
            bag[row] -= 1
    if final_by_key:
        bag = Counter(latest.values())
    return +bag

for q in queries:
    caudal = rows((json.loads(l) for l in open(f"{out}/{q}.caudal")), final_by_key=(q == "q4"))
    flink = rows(r for r in flink_lines if r["query"] == q)
    only_c, only_f = caudal - flink, flink - caudal
    verdict = "same" if not only_c and not only_f else "DIFFERENT"
    print(f"{q}: Caudal {sum(caudal.values())} rows, Flink {sum(flink.values())}: {verdict}")
    for name, only in (("only Caudal", only_c), ("only Flink", only_f)):
        if only:
            sample = "; ".join("[" + ", ".join(r) + "]" for r in sorted(only)[:5])
            print(f"  {name} ({sum(only.values())}): {sample}")
PYEOF
