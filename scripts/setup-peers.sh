#!/usr/bin/env bash
# Installs the real peers of `caudal compare --peers spark,flink`:
#
#   scripts/setup-peers.sh          # installs (or refreshes) both; about 1.1 GB, a few minutes
#
# * Apache Spark from the `pyspark` package on PyPI (it ships Spark's JVM libraries) and Apache Flink
#   from the `apache-flink` package (it ships Flink's), pinned below, in one Python virtual
#   environment;
# * a Java runtime and compiler from the system's packages (openjdk-17-jdk-headless), if `java` and
#   `javac` are missing;
# * the peers' jobs, kept in this repository under peers/: the Spark one (a DStream program in Java)
#   compiled against Spark's jars, its PySpark twin copied, the Flink one (a Java DataStream job)
#   compiled against Flink's jars;
# * a launcher per peer, `spark/run`, `pyspark/run` and `flink/run`, which `caudal compare` starts;
# * Flink's own NEXMark suite (its generator, connector and SQL, kept under peers/flink/nexmark) and
#   `flink/nexmark`, which runs one of its queries, for scripts/nexmark-vs-flink.sh.
#
# Everything goes under $CAUDAL_PEERS (default ~/.cache/caudal-peers), which `caudal compare` reads
# too. Running it again re-copies and recompiles the jobs, and installs the packages only if their
# versions changed.
set -euo pipefail

SPARK_VERSION="3.5.9"
FLINK_VERSION="1.20.5"
DIR="${CAUDAL_PEERS:-$HOME/.cache/caudal-peers}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { echo "setup-peers: $*" >&2; }

if ! command -v java >/dev/null || ! command -v javac >/dev/null; then
    if ! command -v apt-get >/dev/null; then
        say "no java and javac, and no apt-get to install them: install a JDK 11 or 17 and run this again"
        exit 1
    fi
    say "installing a Java runtime and compiler (openjdk-17-jdk-headless)"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openjdk-17-jdk-headless >/dev/null
fi
JAVA_MAJOR="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/.*java.specification.version = //p')"
case "$JAVA_MAJOR" in
    11 | 17) ;;
    *) say "warning: Java $JAVA_MAJOR; Spark $SPARK_VERSION and Flink $FLINK_VERSION support Java 11 and 17" ;;
esac

mkdir -p "$DIR"
STAMP="$DIR/venv/.caudal-spark-$SPARK_VERSION-flink-$FLINK_VERSION"
if [ ! -f "$STAMP" ]; then
    say "installing pyspark $SPARK_VERSION and apache-flink $FLINK_VERSION into $DIR/venv"
    rm -rf "$DIR/venv"
    python3 -m venv "$DIR/venv"
    "$DIR/venv/bin/pip" install -q --disable-pip-version-check \
        "pyspark==$SPARK_VERSION" "apache-flink==$FLINK_VERSION"
    touch "$STAMP"
fi
SITE="$("$DIR/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
FLINK_LIB="$SITE/pyflink/lib"

SPARK_HOME="$SITE/pyspark"

# Each launcher gives its run a temporary directory of its own (Spark's checkpoints, block manager
# and shuffle files, PySpark's, Flink's mini-cluster), removed when the run ends: at the end of its
# input, or when the lab stops it (SIGTERM to its process group). Without it, every run would leave
# a megabyte or so in /tmp.
SCRATCH_SETUP="$(
    cat <<'EOS'
SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/caudal-peer-XXXXXX")"
trap 'rm -rf "$SCRATCH"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
export TMPDIR="$SCRATCH" JAVA_TOOL_OPTIONS="-Djava.io.tmpdir=$SCRATCH${JAVA_TOOL_OPTIONS:+ $JAVA_TOOL_OPTIONS}"
EOS
)"

# Spark: the Java DStream job, compiled against Spark's jars and started by spark-submit (which gives
# the JVM the options Spark needs on Java 17).
rm -rf "$DIR/spark"
mkdir -p "$DIR/spark/classes"
javac -nowarn -d "$DIR/spark/classes" -cp "$SPARK_HOME/jars/*" "$REPO/peers/spark/CaudalSparkPeer.java" 2>&1 |
    grep -v '^Note:' >&2 || true
[ -f "$DIR/spark/classes/CaudalSparkPeer.class" ] || { say "the Spark job did not compile"; exit 1; }
jar cf "$DIR/spark/caudal-spark-peer.jar" -C "$DIR/spark/classes" .
cat >"$DIR/spark/run" <<EOF
#!/usr/bin/env bash
# Written by scripts/setup-peers.sh: Spark $SPARK_VERSION (Java DStream API) running the lab's job.
export SPARK_HOME="$SPARK_HOME"
export SPARK_LOCAL_IP="\${SPARK_LOCAL_IP:-127.0.0.1}"
$SCRATCH_SETUP
"$SPARK_HOME/bin/spark-submit" --driver-memory 2g --class CaudalSparkPeer "$DIR/spark/caudal-spark-peer.jar" "\$@"
EOF

# PySpark: the same program in Python, run with the environment's Python (its workers too).
mkdir -p "$DIR/pyspark"
cp "$REPO/peers/spark/caudal_spark_peer.py" "$DIR/pyspark/"
cat >"$DIR/pyspark/run" <<EOF
#!/usr/bin/env bash
# Written by scripts/setup-peers.sh: Spark $SPARK_VERSION (PySpark DStream API) running the lab's job.
export PYSPARK_PYTHON="$DIR/venv/bin/python"
export SPARK_LOCAL_IP="\${SPARK_LOCAL_IP:-127.0.0.1}"
$SCRATCH_SETUP
"$DIR/venv/bin/python" "$DIR/pyspark/caudal_spark_peer.py" "\$@"
EOF

# Flink: the Java job, compiled against Flink's jars, run in a local mini-cluster. The --add-opens
# are those Flink's own configuration gives Java 17.
rm -rf "$DIR/flink/classes"
mkdir -p "$DIR/flink/classes"
javac -nowarn -d "$DIR/flink/classes" -cp "$FLINK_LIB/*" "$REPO/peers/flink/CaudalFlinkPeer.java" 2>&1 |
    grep -v '^Note:' >&2 || true
[ -f "$DIR/flink/classes/CaudalFlinkPeer.class" ] || { say "the Flink job did not compile"; exit 1; }
OPENS=""
for p in java.lang java.net java.io java.nio sun.nio.ch java.lang.reflect java.text java.time java.util \
    java.util.concurrent java.util.concurrent.atomic java.util.concurrent.locks; do
    OPENS="$OPENS --add-opens=java.base/$p=ALL-UNNAMED"
done
cat >"$DIR/flink/run" <<EOF
#!/usr/bin/env bash
# Written by scripts/setup-peers.sh: Flink $FLINK_VERSION running the lab's job in a local mini-cluster.
$SCRATCH_SETUP
java -Xmx2g$OPENS -cp "$DIR/flink/classes:$FLINK_LIB/*" CaudalFlinkPeer "\$@"
EOF

# Flink's own NEXMark benchmark (for scripts/nexmark-vs-flink.sh): the nexmark-flink suite's generator,
# table connector and SQL, kept in peers/flink/nexmark, with a driver that runs one query and reports
# its wall and CPU time.
rm -rf "$DIR/flink/nexmark-classes" "$DIR/flink/nexmark-queries"
mkdir -p "$DIR/flink/nexmark-classes"
javac -nowarn -d "$DIR/flink/nexmark-classes" -cp "$FLINK_LIB/*" \
    $(find "$REPO/peers/flink/nexmark/java" -name '*.java') "$REPO/peers/flink/CaudalNexmark.java" 2>&1 |
    grep -v '^Note:' >&2 || true
[ -f "$DIR/flink/nexmark-classes/CaudalNexmark.class" ] || { say "Flink's NEXMark did not compile"; exit 1; }
cp -r "$REPO/peers/flink/nexmark/META-INF" "$DIR/flink/nexmark-classes/"
cp -r "$REPO/peers/flink/nexmark/queries" "$DIR/flink/nexmark-queries"
cat >"$DIR/flink/nexmark" <<EOF
#!/usr/bin/env bash
# Written by scripts/setup-peers.sh: Flink $FLINK_VERSION running one query of its NEXMark suite:
#   nexmark QUERY EVENTS TPS         (one query, into the blackhole table; its time as JSON)
#   nexmark --events EVENTS TPS      (the datagen table's events as JSON lines)
$SCRATCH_SETUP
java -Xmx2g$OPENS -cp "$DIR/flink/nexmark-classes:$FLINK_LIB/*" CaudalNexmark "$DIR/flink/nexmark-queries" "\$@"
EOF
chmod +x "$DIR/spark/run" "$DIR/pyspark/run" "$DIR/flink/run" "$DIR/flink/nexmark"
say "ready in $DIR: caudal compare --peers spark,pyspark,flink"
