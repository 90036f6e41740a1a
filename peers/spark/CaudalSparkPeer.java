// The Spark peer of `caudal compare --peers spark`: one lab workload as a Spark Streaming program in
// the DStream API, on the JVM (Spark's Java API), in local mode with a socket receiver.
// (`--peers pyspark` runs the same program in PySpark: peers/spark/caudal_spark_peer.py.)
//
// It reads the lab's records (`seq,event_ms,key,user,viu`, one per line, the open-loop generator
// writing each at its intended send time) and writes each result to the lab's result socket as
// `seq,key,start,end,value`:
// * filter and keyed-count give one result per record, with that record's `seq`;
// * tumbling and sliding are Spark's windows, which are of processing time: `seq` is -1, `end` is the
//   batch time in ms since the epoch and `start` is `end` minus the window.
// The first line is `# spark VERSION java VERSION`; after each batch, `# batch TIME_MS RECORDS
// SCHEDULING_MS PROCESSING_MS` gives what Spark's own listener measured. It runs until the lab stops it.
//
// Built by scripts/setup-peers.sh against the jars of the pyspark package; run by caudal.

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.spark.SparkConf;
import org.apache.spark.api.java.Optional;
import org.apache.spark.streaming.Durations;
import org.apache.spark.streaming.api.java.JavaBatchInfo;
import org.apache.spark.streaming.api.java.JavaDStream;
import org.apache.spark.streaming.api.java.JavaPairDStream;
import org.apache.spark.streaming.api.java.JavaStreamingContext;
import org.apache.spark.streaming.api.java.JavaStreamingListener;
import org.apache.spark.streaming.api.java.JavaStreamingListenerBatchCompleted;
import org.apache.spark.streaming.api.java.JavaStreamingListenerWrapper;
import scala.Tuple2;

public class CaudalSparkPeer {

    /** The lab's result socket, on the driver only (never serialized into a checkpoint). */
    static final class ToLab {
        private static Socket socket;
        private static OutputStream out;

        static synchronized void connect(String address, String header) throws IOException {
            String[] hp = address.split(":");
            socket = new Socket(hp[0], Integer.parseInt(hp[1]));
            socket.setTcpNoDelay(true);
            out = socket.getOutputStream();
            send(Collections.singletonList(header));
        }

        static synchronized void send(List<String> lines) throws IOException {
            if (lines.isEmpty()) {
                return;
            }
            StringBuilder text = new StringBuilder();
            for (String line : lines) {
                text.append(line).append('\n');
            }
            out.write(text.toString().getBytes(StandardCharsets.UTF_8));
            out.flush();
        }
    }

    /** Hands the lab Spark's own figures for each batch. */
    static final class BatchReporter extends JavaStreamingListener {
        @Override
        public void onBatchCompleted(JavaStreamingListenerBatchCompleted completed) {
            JavaBatchInfo info = completed.batchInfo();
            try {
                ToLab.send(Collections.singletonList("# batch " + info.batchTime().milliseconds() + " "
                        + info.numRecords() + " " + info.schedulingDelay() + " " + info.processingDelay()));
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        String workload = a.get("workload");
        String[] input = a.get("input").split(":");
        long batchMs = Long.parseLong(a.getOrDefault("batch-ms", "1000"));
        long blockMs = Long.parseLong(a.getOrDefault("block-ms", "200"));
        long windowMs = Long.parseLong(a.getOrDefault("window-ms", "1000"));
        long slideMs = Long.parseLong(a.getOrDefault("slide-ms", "100"));
        int cores = Integer.parseInt(a.getOrDefault("cores", "2"));

        SparkConf conf = new SparkConf()
                .setMaster("local[" + cores + "]")
                .setAppName("caudal-peer-" + workload)
                .set("spark.ui.enabled", "false")
                .set("spark.ui.showConsoleProgress", "false")
                .set("spark.streaming.blockInterval", blockMs + "ms");
        JavaStreamingContext ssc = new JavaStreamingContext(conf, Durations.milliseconds(batchMs));
        ssc.sparkContext().setLogLevel("ERROR");
        ssc.checkpoint(Files.createTempDirectory("caudal-spark-peer-").toString());
        ToLab.connect(a.get("output"), "# spark " + ssc.sparkContext().version()
                + " java " + System.getProperty("java.version"));
        ssc.ssc().addStreamingListener(new JavaStreamingListenerWrapper(new BatchReporter()));

        // seq, key, user, viu
        JavaDStream<long[]> posts = ssc.socketTextStream(input[0], Integer.parseInt(input[1]))
                .map(CaudalSparkPeer::parse);
        switch (workload) {
            case "filter":
                posts.filter(p -> p[3] == 1)
                        .map(p -> p[0] + ",0,0,0," + p[2])
                        .foreachRDD(rdd -> ToLab.send(rdd.collect()));
                break;
            case "keyed-count":
                // One updated count out per post in: the state keeps the count and this batch's counts.
                JavaPairDStream<Long, List<long[]>> states = posts
                        .mapToPair(p -> new Tuple2<>(p[1], p[0]))
                        .updateStateByKey(CaudalSparkPeer::runningCount);
                states.flatMap(kv -> {
                    List<String> out = new ArrayList<>();
                    for (long[] counted : kv._2()) {
                        if (counted[0] >= 0) {
                            out.add(counted[0] + "," + kv._1() + ",0,0," + counted[1]);
                        }
                    }
                    return out.iterator();
                }).foreachRDD(rdd -> ToLab.send(rdd.collect()));
                break;
            case "tumbling":
            case "sliding":
                long slide = workload.equals("tumbling") ? windowMs : slideMs;
                posts.mapToPair(p -> new Tuple2<>(p[1], 1L))
                        .reduceByKeyAndWindow(Long::sum, Durations.milliseconds(windowMs),
                                Durations.milliseconds(slide))
                        .foreachRDD((rdd, time) -> {
                            long end = time.milliseconds();
                            List<String> out = new ArrayList<>();
                            for (Tuple2<Long, Long> kv : rdd.collect()) {
                                out.add("-1," + kv._1() + "," + (end - windowMs) + "," + end + "," + kv._2());
                            }
                            ToLab.send(out);
                        });
                break;
            default:
                throw new IllegalArgumentException("the Spark peer has no workload " + workload
                        + " (it has filter, keyed-count, tumbling, sliding)");
        }
        ssc.start();
        ssc.awaitTermination();
    }

    static long[] parse(String line) {
        String[] f = line.split(",");
        return new long[] {
            Long.parseLong(f[0]), Long.parseLong(f[2]), Long.parseLong(f[3]), f[4].equals("1") ? 1 : 0
        };
    }

    /**
     * The state of a key: its first element is `{-1, count}`, the rest `{seq, count}` for each of
     * this batch's posts, in order.
     */
    static Optional<List<long[]>> runningCount(List<Long> seqs, Optional<List<long[]>> state) {
        long count = state.isPresent() ? state.get().get(0)[1] : 0;
        List<Long> sorted = new ArrayList<>(seqs);
        Collections.sort(sorted);
        List<long[]> next = new ArrayList<>(sorted.size() + 1);
        next.add(null);
        for (long seq : sorted) {
            count += 1;
            next.add(new long[] {seq, count});
        }
        next.set(0, new long[] {-1, count});
        return Optional.of(next);
    }
}
