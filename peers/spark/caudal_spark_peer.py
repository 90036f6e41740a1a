"""The Spark peer of `caudal compare --peers spark`: one lab workload as a Spark Streaming (DStream)
program in local mode, as the lecture writes them in PySpark.

It reads the lab's records with a socket receiver (`seq,event_ms,key,user,viu`, one per line, the
open-loop generator writing each at its intended send time) and writes each result to the lab's result
socket as `seq,key,start,end,value`:

* filter and keyed-count give one result per record, with that record's `seq`;
* tumbling and sliding are Spark's windows, which are of processing time: `seq` is -1, `end` is the
  batch time in ms since the epoch and `start` is `end` minus the window (the lab measures such a
  result from the first record sent at or after the batch time, the record that could not be in it).

The first line is `# spark VERSION java VERSION`. After each batch, a line
`# batch TIME_MS RECORDS SCHEDULING_MS PROCESSING_MS` gives what Spark's own listener measured (for
`caudal compare --calibrate spark`). The program runs until the lab stops it.
"""

import argparse
import socket
import tempfile
import threading

from pyspark import SparkConf, SparkContext
from pyspark.streaming import StreamingContext
from pyspark.streaming.listener import StreamingListener


def main():
    args = parse_args()
    conf = (
        SparkConf()
        .setMaster("local[%d]" % args.cores)
        .setAppName("caudal-peer-" + args.workload)
        .set("spark.ui.enabled", "false")
        .set("spark.ui.showConsoleProgress", "false")
        .set("spark.streaming.blockInterval", "%dms" % args.block_ms)
    )
    sc = SparkContext(conf=conf)
    sc.setLogLevel("ERROR")
    ssc = StreamingContext(sc, args.batch_ms / 1000.0)
    ssc.checkpoint(tempfile.mkdtemp(prefix="caudal-spark-peer-"))

    java = sc._jvm.java.lang.System.getProperty("java.version")
    out = ResultSocket(args.output, "# spark %s java %s" % (sc.version, java))
    out.connect()
    send = out.send
    ssc.addStreamingListener(BatchReporter(out))

    host, port = args.input.rsplit(":", 1)
    posts = ssc.socketTextStream(host, int(port)).map(parse)

    if args.workload == "filter":
        posts.filter(lambda p: p[4]).map(
            lambda p: "%d,0,0,0,%d" % (p[0], p[3])
        ).foreachRDD(lambda rdd: send(rdd.collect()))
    elif args.workload == "keyed-count":
        # One updated count out per post in: the state keeps the count and this batch's counts.
        states = posts.map(lambda p: (p[2], p[0])).updateStateByKey(running_count)
        states.flatMap(
            lambda kv: ["%d,%d,0,0,%d" % (seq, kv[0], n) for seq, n in kv[1][1]]
        ).foreachRDD(lambda rdd: send(rdd.collect()))
    elif args.workload in ("tumbling", "sliding"):
        slide = args.window_ms if args.workload == "tumbling" else args.slide_ms
        counts = posts.map(lambda p: (p[2], 1)).reduceByKeyAndWindow(
            lambda a, b: a + b, None, args.window_ms / 1000.0, slide / 1000.0
        )
        window = args.window_ms

        def emit(time, rdd):
            end = int(round(time.timestamp() * 1000))
            send(["-1,%d,%d,%d,%d" % (k, end - window, end, n) for k, n in rdd.collect()])

        counts.foreachRDD(emit)
    else:
        raise SystemExit(
            "the Spark peer has no workload %s (it has filter, keyed-count, tumbling, sliding)"
            % args.workload
        )

    ssc.start()
    ssc.awaitTermination()


class BatchReporter(StreamingListener):
    """Hands the lab Spark's own figures for each batch: its records, scheduling and processing delay."""

    def __init__(self, out):
        super().__init__()
        self.out = out

    def onBatchCompleted(self, batchCompleted):
        info = batchCompleted.batchInfo()
        self.out.send(
            [
                "# batch %d %d %d %d"
                % (
                    info.batchTime().milliseconds(),
                    info.numRecords(),
                    info.schedulingDelay(),
                    info.processingDelay(),
                )
            ]
        )


class ResultSocket:
    """The connection to the lab's result socket. Spark pickles the output functions into its
    checkpoints: a pickled copy keeps only the address."""

    def __init__(self, address, header):
        self.address = address
        self.header = header
        self.sock = None
        self.lock = threading.Lock()

    def __getstate__(self):
        return {"address": self.address, "header": self.header}

    def __setstate__(self, state):
        self.__init__(state["address"], state["header"])

    def connect(self):
        host, port = self.address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall((self.header + "\n").encode())

    def send(self, lines):
        if lines:
            with self.lock:
                if self.sock is None:
                    self.connect()
                self.sock.sendall(("\n".join(lines) + "\n").encode())


def parse(line):
    f = line.split(",")
    return (int(f[0]), int(f[1]), int(f[2]), int(f[3]), f[4] == "1")


def running_count(seqs, state):
    count = state[0] if state else 0
    counted = []
    for seq in sorted(seqs):
        count += 1
        counted.append((seq, count))
    return (count, counted)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--workload", required=True)
    p.add_argument("--input", required=True, help="HOST:PORT the records come from")
    p.add_argument("--output", required=True, help="HOST:PORT the results go to")
    p.add_argument("--batch-ms", type=int, default=1000)
    p.add_argument("--block-ms", type=int, default=200)
    p.add_argument("--window-ms", type=int, default=1000)
    p.add_argument("--slide-ms", type=int, default=100)
    p.add_argument("--cores", type=int, default=2)
    return p.parse_args()


if __name__ == "__main__":
    main()
