#!/usr/bin/env bash
# How close Spark's windowed model (`micro-batch:I:spark`) comes to real Spark on this machine, and
# how close real Spark comes to itself:
#
#   scripts/spark-model-agreement.sh run OUT SETS DURATION [SEED]   # SETS sets, then the summary
#   scripts/spark-model-agreement.sh summary SET_DIR...             # the summary of sets already run
#
# A set is one `caudal compare --workload sliding --window 2s --slide I --modes micro-batch:I:spark
# --peers spark --warmup 10s --repeat 3` at each point of the validation (500 ms and 1 s batches at
# 10,000 and 100,000 records/s, and 100 ms at 10,000/s for the stable / unstable verdict), with
# --duration DURATION; set N draws the model's seeds from SEED + 3N (default SEED 0). A set with
# 30 s measured takes about 22 minutes, with 10 s about 12. Run it on the machine alone: real Spark
# takes both cores. It needs the peers (scripts/setup-peers.sh) and python3.
#
# The summary prints, for each set, the model's medians of 3 runs against Spark's at each point
# (p50 / p99), and counts how many of them are more than 20% apart; then the same count for real
# Spark's sets against each other (every two sets of the same --duration), which is the agreement a
# rerun of Spark itself gives. Runs of each --duration are compared among themselves.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage() {
    sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

summary() {
    python3 - "$@" <<'EOF'
import itertools, json, os, statistics, sys

POINTS = [("s500-10k", "500 ms, 10k/s"), ("s1000-10k", "1 s, 10k/s"),
          ("s500-100k", "500 ms, 100k/s"), ("s1000-100k", "1 s, 100k/s")]

def load(set_dir, point):
    path = os.path.join(set_dir, point, "results.json")
    if not os.path.exists(path):
        return None
    report = json.load(open(path))
    runs = {"model": [], "spark": []}
    for run in report["runs"]:
        side = "spark" if run["mode"] == "spark" else "model"
        runs[side].append((run["latency_us"]["p50"] / 1e3, run["latency_us"]["p99"] / 1e3))
    return report["config"]["duration"], runs

def median(runs, q):
    return statistics.median(r[q] for r in runs)

by_length = {}
for set_dir in sys.argv[1:]:
    for point, _ in POINTS:
        loaded = load(set_dir, point)
        if loaded:
            by_length.setdefault(loaded[0], {}).setdefault(set_dir, {})[point] = loaded[1]

for length, sets in sorted(by_length.items()):
    print(f"{length:g} s measured, {len(sets)} sets: the model against Spark in each set, "
          "medians of its runs, p50 / p99 (* more than 20% apart)")
    print("  " + " | ".join(label for _, label in POINTS))
    apart = compared = 0
    for set_dir, points in sets.items():
        cells = []
        for point, _ in POINTS:
            runs = points.get(point)
            if not runs or not runs["model"] or not runs["spark"]:
                cells.append("--")
                continue
            cell = []
            for q in (0, 1):
                d = median(runs["model"], q) / median(runs["spark"], q) - 1
                compared += 1
                apart += abs(d) > 0.2
                cell.append(f"{d * 100:+.0f}%{'*' if abs(d) > 0.2 else ''}")
            cells.append(" / ".join(cell))
        print(f"  {os.path.basename(os.path.normpath(set_dir))}: " + " | ".join(cells))
    verdicts = {"model": [0, 0], "spark": [0, 0]}
    for set_dir in sets:
        path = os.path.join(set_dir, "s100-10k", "results.json")
        for run in json.load(open(path))["runs"] if os.path.exists(path) else []:
            side = verdicts["spark" if run["mode"] == "spark" else "model"]
            side[0] += 1
            side[1] += bool((run.get("trend") or {}).get("unstable"))
    if verdicts["model"][0]:
        print("  100 ms, 10k/s: unstable in {1} of {0} runs of the model, {3} of {2} of Spark".format(
            *verdicts["model"], *verdicts["spark"]))
    pairs = pairs_apart = 0
    for point, _ in POINTS:
        spark = [p[point]["spark"] for p in sets.values() if point in p and p[point]["spark"]]
        for a, b in itertools.combinations(spark, 2):
            for q in (0, 1):
                pairs += 1
                pairs_apart += abs(median(a, q) / median(b, q) - 1) > 0.2
    print(f"  the model against Spark: {apart} of {compared} more than 20% apart")
    print(f"  Spark against Spark (every two sets): {pairs_apart} of {pairs} more than 20% apart")
EOF
}

case "${1:-}" in
    run)
        [ $# -ge 4 ] || usage
        OUT="$2" SETS="$3" DURATION="$4" SEED="${5:-0}"
        [[ "$SETS" =~ ^[1-9][0-9]*$ ]] || { echo "spark-model-agreement: SETS is a number of sets (1 or more), not '$SETS'" >&2; exit 2; }
        [[ "$SEED" =~ ^[0-9]+$ ]] || { echo "spark-model-agreement: SEED is a number, not '$SEED'" >&2; exit 2; }
        command -v python3 >/dev/null || { echo "spark-model-agreement: needs python3" >&2; exit 1; }
        cargo build --release --bin caudal --manifest-path "$REPO/Cargo.toml"
        CAUDAL="$REPO/target/release/caudal"
        dirs=()
        for ((n = 0; n < SETS; n++)); do
            dir="$OUT/set-$n"
            dirs+=("$dir")
            for point in 500:10000 1000:10000 500:100000 1000:100000 100:10000; do
                interval="${point%%:*}" rate="${point##*:}"
                name="s$interval-$((rate / 1000))k"
                echo "set $n, $name: $(date +%T), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
                "$CAUDAL" compare --workload sliding --window 2s --slide "${interval}ms" \
                    --modes "micro-batch:${interval}ms:spark" --peers spark --rate "$rate" \
                    --duration "$DURATION" --warmup 10s --repeat 3 \
                    --spark-seed "$((SEED + 3 * n))" --out "$dir/$name" >/dev/null
            done
        done
        summary "${dirs[@]}"
        ;;
    summary)
        [ $# -ge 2 ] || usage
        shift
        summary "$@"
        ;;
    *) usage ;;
esac
