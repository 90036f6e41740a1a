#!/usr/bin/env bash
# Throughput of a pipeline of `caudal run` (by default the keyed tumbling count, posts per hashtag
# per second) on 1 worker, on 2 workers in one process, and on 2 processes of 1 worker on loopback
# (timely's cluster mode), closed loop (the generator as fast as the pipeline takes it): the median
# of REPEAT runs of each, the results checked identical across the three, and the progress traffic
# of the 2-process runs (`--count-progress`).
#
#   scripts/scale-out.sh [RECORDS [REPEAT [PIPELINE]]]   (defaults: 50000000 records, 3 runs, tumbling)
#   scripts/scale-out.sh 10000000 3 nexmark:q5           # a NEXMark query, on generator:nexmark
#
# Measure on a quiet machine: the 2 processes and their exchange share its cores. A run's time is
# from its start to its end as its report gives it, which for 2 processes includes finding each
# other on loopback (up to a second: timely retries a connection once a second).
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${1:-50000000}
REPEAT=${2:-3}
cargo build --release --quiet
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
B=$PWD/target/release/caudal
DIR=$(mktemp -d /tmp/caudal-scale-out.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
PIPELINE=${3:-tumbling}
case "$PIPELINE" in
  nexmark:*) SOURCE="generator:nexmark?limit=$RECORDS"; WHAT="$PIPELINE (NEXMark), $RECORDS events" ;;
  *) SOURCE="generator:posts?limit=$RECORDS"; WHAT="$PIPELINE, $RECORDS records" ;;
esac
PORT=$((24000 + RANDOM % 2000))
printf '127.0.0.1:%d\n127.0.0.1:%d\n' "$PORT" "$((PORT + 1))" > "$DIR/hosts.txt"

# The seconds a report says the run took.
took() { sed -n 's/.* took \([0-9.]*\) s$/\1/p' "$1" | head -1; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
digest() { cat "$1"/o*/part-* | sort | md5sum | cut -d' ' -f1; }

for run in $(seq "$REPEAT"); do
  for workers in 1 2; do
    out="$DIR/w$workers/$run"
    mkdir -p "$out"
    "$B" run "$PIPELINE" --source "$SOURCE" --workers "$workers" --out "$out/o" 2> "$out/log"
    took "$out/log" >> "$DIR/w$workers.s"
  done
  out="$DIR/p2/$run"
  mkdir -p "$out"
  for p in 0 1; do
    "$B" run "$PIPELINE" --source "$SOURCE" --processes 2 --process "$p" --hostfile "$DIR/hosts.txt" \
      --out "$out/o$p" --count-progress > /dev/null 2> "$out/$p.log" &
  done
  wait
  # The run took as long as its slower process.
  for p in 0 1; do took "$out/$p.log"; done | sort -g | tail -1 >> "$DIR/p2.s"
  sed -n 's/.*progress: \([0-9]*\) broadcasts of \([0-9]*\) updates.*(\([0-9]*\)\/s; about \([0-9.]*\) KB\/s.*/\3 \4/p' \
    "$out/0.log" >> "$DIR/progress"
done

echo "$WHAT, median of $REPEAT runs; load average before: $LOAD"
echo "| layout | seconds | records/s | vs 1 worker |"
echo "|---|---|---|---|"
base=$(median < "$DIR/w1.s")
for layout in w1 w2 p2; do
  s=$(median < "$DIR/$layout.s")
  name=$(case $layout in w1) echo "1 worker";; w2) echo "2 workers, 1 process";; p2) echo "2 processes of 1 worker, loopback";; esac)
  awk -v n="$name" -v s="$s" -v r="$RECORDS" -v b="$base" \
    'BEGIN {printf "| %s | %.3f | %.2fM | %.2fx |\n", n, s, r / s / 1e6, b / s}'
done
echo "progress traffic of process 0 (2 processes): $(cut -d' ' -f1 "$DIR/progress" | median) broadcasts/s, about $(cut -d' ' -f2 "$DIR/progress" | median) KB/s to the other process (median)"

# Every layout gives the same windows.
reference=$(digest "$DIR/w1/1")
for layout in w2/1 p2/1; do
  got=$(digest "$DIR/$layout")
  if [ "$got" != "$reference" ]; then
    echo "results differ: $layout gave $got, 1 worker $reference" >&2
    exit 1
  fi
done
echo "results identical on the three layouts ($reference)"
