// The Flink peer of `caudal compare --peers flink`: one lab workload as a Flink DataStream job in a
// local mini-cluster, with event-time windows.
//
// It reads the lab's records from a loopback socket (`seq,event_ms,key,user,viu`, one per line, the
// open-loop generator writing each at its intended send time) and writes each result to another
// loopback socket as `seq,key,start,end,value`, with `seq` = -1 for window results (the lab measures
// those from the record that closed the window, as it does for Caudal). Its first line on each result
// connection is `# flink VERSION java VERSION`. The job ends when the lab closes the input: Flink then
// fires the windows left open (the end of input's final watermark), as Caudal does.
//
// Built by scripts/setup-peers.sh against the jars of the apache-flink package; run by caudal.

import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.util.EnvironmentInformation;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.sink.RichSinkFunction;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.SlidingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;

public class CaudalFlinkPeer {

    /** One of the lab's posts: its position in the stream, event time, first hashtag, author. */
    public static class Post {
        public long seq;
        public long eventMs;
        public long key;
        public long user;
        public boolean viu;

        public Post() {}

        static Post parse(String line) {
            String[] f = line.split(",");
            Post p = new Post();
            p.seq = Long.parseLong(f[0]);
            p.eventMs = Long.parseLong(f[1]);
            p.key = Long.parseLong(f[2]);
            p.user = Long.parseLong(f[3]);
            p.viu = f[4].equals("1");
            return p;
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        String workload = a.get("workload");
        String[] input = a.get("input").split(":");
        String[] output = a.get("output").split(":");
        long windowMs = Long.parseLong(a.getOrDefault("window-ms", "1000"));
        long slideMs = Long.parseLong(a.getOrDefault("slide-ms", "100"));
        int parallelism = Integer.parseInt(a.getOrDefault("parallelism", "1"));
        long watermarkMs = Long.parseLong(a.getOrDefault("watermark-interval-ms", "1"));
        long outOfOrdernessMs = Long.parseLong(a.getOrDefault("out-of-orderness-ms", "0"));

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(parallelism);
        // Hand each record on at once rather than after filling a 32 KiB network buffer.
        env.setBufferTimeout(0);
        env.getConfig().setAutoWatermarkInterval(watermarkMs);

        DataStream<Post> posts =
                env.socketTextStream(input[0], Integer.parseInt(input[1]))
                        .map(Post::parse)
                        .returns(Post.class)
                        .assignTimestampsAndWatermarks(
                                WatermarkStrategy.<Post>forBoundedOutOfOrderness(
                                                Duration.ofMillis(outOfOrdernessMs))
                                        .withTimestampAssigner((p, ts) -> p.eventMs));

        DataStream<String> results;
        switch (workload) {
            case "filter":
                results = posts.filter(p -> p.viu).map(p -> p.seq + ",0,0,0," + p.user);
                break;
            case "keyed-count":
                results = posts.keyBy(p -> p.key).process(new RunningCount());
                break;
            case "tumbling":
                results =
                        byKey(posts)
                                .window(TumblingEventTimeWindows.of(Duration.ofMillis(windowMs)))
                                .aggregate(new Count(), new Emit());
                break;
            case "sliding":
                results =
                        byKey(posts)
                                .window(
                                        SlidingEventTimeWindows.of(
                                                Duration.ofMillis(windowMs),
                                                Duration.ofMillis(slideMs)))
                                .aggregate(new Count(), new Emit());
                break;
            default:
                throw new IllegalArgumentException(
                        "the Flink peer has no workload " + workload
                                + " (it has filter, keyed-count, tumbling, sliding)");
        }
        results.addSink(new ToLab(output[0], Integer.parseInt(output[1]))).name("to-lab");
        env.execute("caudal-peer-" + workload);
    }

    static KeyedStream<Post, Long> byKey(DataStream<Post> posts) {
        return posts.keyBy(p -> p.key);
    }

    /** One updated count out per post in: `seq,key,0,0,count`. */
    static class RunningCount extends KeyedProcessFunction<Long, Post, String> {
        private transient ValueState<Long> count;

        @Override
        public void open(Configuration parameters) {
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Long.class));
        }

        @Override
        public void processElement(Post p, Context ctx, Collector<String> out) throws IOException {
            Long n = count.value();
            long next = (n == null ? 0 : n) + 1;
            count.update(next);
            out.collect(p.seq + "," + p.key + ",0,0," + next);
        }
    }

    /** Counts a window's posts incrementally. */
    static class Count implements AggregateFunction<Post, Long, Long> {
        public Long createAccumulator() {
            return 0L;
        }

        public Long add(Post p, Long n) {
            return n + 1;
        }

        public Long getResult(Long n) {
            return n;
        }

        public Long merge(Long a, Long b) {
            return a + b;
        }
    }

    /** A window's count as `-1,key,start,end,count`. */
    static class Emit extends ProcessWindowFunction<Long, String, Long, TimeWindow> {
        @Override
        public void process(Long key, Context ctx, Iterable<Long> counts, Collector<String> out) {
            TimeWindow w = ctx.window();
            out.collect("-1," + key + "," + w.getStart() + "," + w.getEnd() + "," + counts.iterator().next());
        }
    }

    /** Writes each result to the lab's result socket at once (one line, flushed). */
    static class ToLab extends RichSinkFunction<String> {
        private final String host;
        private final int port;
        private transient Socket socket;
        private transient Writer writer;

        ToLab(String host, int port) {
            this.host = host;
            this.port = port;
        }

        @Override
        public void open(Configuration parameters) throws IOException {
            socket = new Socket(host, port);
            socket.setTcpNoDelay(true);
            writer = new OutputStreamWriter(socket.getOutputStream(), StandardCharsets.UTF_8);
            writer.write("# flink " + EnvironmentInformation.getVersion()
                    + " java " + System.getProperty("java.version") + "\n");
            writer.flush();
        }

        @Override
        public void invoke(String line, Context ctx) throws IOException {
            writer.write(line);
            writer.write('\n');
            writer.flush();
        }

        @Override
        public void close() throws IOException {
            if (writer != null) {
                writer.close();
            }
        }
    }
}
