# Sourced by the scripts that run Caudal's NEXMark beside Flink's (nexmark-events-vs-flink.sh,
# nexmark-results-vs-flink.sh): checks the counts EVENTS and TPS, makes sure the installed Flink
# driver (peers/flink/CaudalNexmark.java) is this checkout's, builds Caudal's side, and makes a
# scratch directory that goes away on exit. Before sourcing, set
#   NAME     the script's name, for messages;
#   EXAMPLE  the Cargo example that is Caudal's side;
#   USAGE    an example command line, shown when a count is not one;
#   EVENTS, TPS.
# After it: REPO, PEERS, CAUDAL (the example's binary), OUT (the scratch directory), say.

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS="${CAUDAL_PEERS:-$HOME/.cache/caudal-peers}"
say() { echo "$NAME: $*" >&2; }

case "$EVENTS$TPS" in
    *[!0-9]*) say "EVENTS and TPS are counts, such as: $USAGE"; exit 2 ;;
esac

# The installed driver must be this checkout's (setup-peers.sh compiles it).
[ "$PEERS/flink/nexmark-classes/CaudalNexmark.class" -nt "$REPO/peers/flink/CaudalNexmark.java" ] ||
    bash "$REPO/scripts/setup-peers.sh"
(cd "$REPO" && cargo build --example "$EXAMPLE" >&2)
CAUDAL="${CARGO_TARGET_DIR:-$REPO/target}/debug/examples/$EXAMPLE"

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
