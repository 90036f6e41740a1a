// Flink's own NEXMark benchmark, one query at a time, for `scripts/nexmark-vs-flink.sh`.
//
//   java ... CaudalNexmark QUERIES_DIR QUERY EVENTS TPS
//
// Runs the nexmark-flink suite's SQL (kept in peers/flink/nexmark/queries: its `datagen` table over the
// suite's `nexmark` connector, the person/auction/bid views, and the query's INSERT into a blackhole
// table) in a local mini-cluster at parallelism 1, on EVENTS events generated at TPS events per second
// of event time (the generator runs as fast as Flink takes its events when TPS is above that). Prints
// one JSON line: the query, the events, the job's wall time and the JVM's CPU time over it (every
// thread: the task, the generator, timers, the JIT and GC), and Flink's version.
//
//   java ... CaudalNexmark QUERIES_DIR --events EVENTS TPS
//
// Prints instead the suite's events themselves: `SELECT * FROM datagen` (the same table and connector
// options as the queries read), collected to the driver, one JSON line per event with the fields of
// its kind and its time as ms since the epoch (`scripts/nexmark-events-vs-flink.sh` compares them with
// the Rust generator's).
//
//   java ... CaudalNexmark QUERIES_DIR --results EVENTS_FILE QUERY[,QUERY...]
//
// Runs queries, one after the other, on given events instead of the suite's generator: the `datagen`
// table of ddl_gen.sql, its schema, computed `dateTime` and watermark unchanged, over the filesystem
// connector reading EVENTS_FILE as JSON (one event a line, in the table's shape: `event_type` and the
// `person`, `auction` and `bid` rows, times as `yyyy-MM-dd HH:mm:ss.SSS` in UTC, the JSON format's
// default for TIMESTAMP(3)), the suite's views, and each query file's statements, its INSERT run
// without its blackhole table: the INSERT's SELECT, collected to the driver. Prints one JSON line per
// result row, `{"query": "q7", "op": "+I", "row": [...]}`, the row in the SELECT's column order (times
// as ms since the epoch, decimals as strings), `op` the row's kind in Flink's changelog notation (+I,
// -U, +U, -D). The file source is bounded: at the end of the input the watermark goes to its maximum
// and every window closes.

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.util.EnvironmentInformation;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;

public class CaudalNexmark {
    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println(
                    "usage: CaudalNexmark QUERIES_DIR (QUERY | --events) EVENTS TPS\n"
                            + "       CaudalNexmark QUERIES_DIR --results EVENTS_FILE QUERY[,QUERY...]");
            System.exit(2);
        }
        Path dir = Paths.get(args[0]);
        String query = args[1];
        boolean results = query.equals("--results");
        long events = results ? 0 : Long.parseLong(args[2]);
        long tps = results ? 0 : Long.parseLong(args[3]);

        Configuration conf = new Configuration();
        conf.setString("parallelism.default", "1");
        conf.setString("table.exec.source.idle-timeout", "0");
        TableEnvironment env = TableEnvironment.create(
                EnvironmentSettings.newInstance().inStreamingMode().withConfiguration(conf).build());

        if (results) {
            printResults(env, dir, Paths.get(args[2]), args[3]);
            System.exit(0);
        }
        if (query.equals("--events")) {
            printEvents(env, dir, events, tps);
            System.exit(0);
        }

        List<String> statements = new ArrayList<>();
        statements.addAll(statements(dir.resolve("ddl_gen.sql"), tps, events));
        statements.addAll(statements(dir.resolve("ddl_views.sql"), tps, events));
        statements.addAll(statements(dir.resolve(query + ".sql"), tps, events));

        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long cpuBefore = 0;
        long wallBefore = 0;
        TableResult insert = null;
        for (String statement : statements) {
            if (statement.toUpperCase().startsWith("INSERT")) {
                cpuBefore = os.getProcessCpuTime();
                wallBefore = System.nanoTime();
                insert = env.executeSql(statement);
            } else {
                env.executeSql(statement);
            }
        }
        if (insert == null) {
            System.err.println(query + ".sql has no INSERT statement");
            System.exit(1);
        }
        insert.await();
        double wall = (System.nanoTime() - wallBefore) / 1e9;
        double cpu = (os.getProcessCpuTime() - cpuBefore) / 1e9;
        System.out.printf(
                "{\"query\":\"%s\",\"events\":%d,\"wall_s\":%.3f,\"cpu_s\":%.3f,\"flink\":\"%s\"}%n",
                query, events, wall, cpu, EnvironmentInformation.getVersion());
        System.exit(0);
    }

    /// The datagen table's events, in the order the connector makes them, as JSON lines.
    static void printEvents(TableEnvironment env, Path dir, long events, long tps) throws Exception {
        for (String statement : statements(dir.resolve("ddl_gen.sql"), tps, events)) {
            env.executeSql(statement);
        }
        StringBuilder out = new StringBuilder();
        try (CloseableIterator<Row> rows =
                env.executeSql("SELECT event_type, person, auction, bid, `dateTime` FROM datagen").collect()) {
            while (rows.hasNext()) {
                Row row = rows.next();
                int type = (Integer) row.getField(0);
                Row e = (Row) row.getField(1 + type);
                out.setLength(0);
                if (type == 0) {
                    out.append("{\"person\":{\"id\":").append(e.getField(0))
                            .append(",\"name\":").append(json(e.getField(1)))
                            .append(",\"email\":").append(json(e.getField(2)))
                            .append(",\"credit_card\":").append(json(e.getField(3)))
                            .append(",\"city\":").append(json(e.getField(4)))
                            .append(",\"state\":").append(json(e.getField(5)))
                            .append(",\"date_time\":").append(ms(e.getField(6)));
                } else if (type == 1) {
                    out.append("{\"auction\":{\"id\":").append(e.getField(0))
                            .append(",\"item_name\":").append(json(e.getField(1)))
                            .append(",\"initial_bid\":").append(e.getField(3))
                            .append(",\"reserve\":").append(e.getField(4))
                            .append(",\"date_time\":").append(ms(e.getField(5)))
                            .append(",\"expires\":").append(ms(e.getField(6)))
                            .append(",\"seller\":").append(e.getField(7))
                            .append(",\"category\":").append(e.getField(8));
                } else {
                    out.append("{\"bid\":{\"auction\":").append(e.getField(0))
                            .append(",\"bidder\":").append(e.getField(1))
                            .append(",\"price\":").append(e.getField(2))
                            .append(",\"channel\":").append(json(e.getField(3)))
                            .append(",\"date_time\":").append(ms(e.getField(5)));
                }
                out.append("}}");
                System.out.println(out);
            }
        }
    }

    /// Queries' results on the events of a file, as JSON lines.
    static void printResults(TableEnvironment env, Path dir, Path file, String queries) throws Exception {
        for (String statement : statements(dir.resolve("ddl_gen.sql"), 0, 0)) {
            // The table as the suite declares it, read from the file instead of generated.
            int with = statement.lastIndexOf("WITH (");
            if (statement.startsWith("CREATE TABLE datagen") && with >= 0) {
                statement = statement.substring(0, with)
                        + "WITH ('connector' = 'filesystem', 'path' = '"
                        + file.toAbsolutePath().toString().replace("'", "''")
                        + "', 'format' = 'json', 'json.fail-on-missing-field' = 'false')";
            }
            env.executeSql(statement);
        }
        for (String statement : statements(dir.resolve("ddl_views.sql"), 0, 0)) {
            env.executeSql(statement);
        }
        java.util.regex.Pattern insertInto =
                java.util.regex.Pattern.compile("(?is)^INSERT\\s+INTO\\s+\\S+\\s+(.*)$");
        StringBuilder out = new StringBuilder();
        for (String query : queries.split(",")) {
            String select = null;
            for (String statement : statements(dir.resolve(query + ".sql"), 0, 0)) {
                java.util.regex.Matcher insert = insertInto.matcher(statement);
                if (insert.matches()) {
                    select = insert.group(1);
                } else {
                    env.executeSql(statement);
                }
            }
            if (select == null) {
                System.err.println(query + ".sql has no INSERT statement");
                System.exit(1);
            }
            try (CloseableIterator<Row> rows = env.executeSql(select).collect()) {
                while (rows.hasNext()) {
                    Row row = rows.next();
                    out.setLength(0);
                    out.append("{\"query\":\"").append(query)
                            .append("\",\"op\":\"").append(row.getKind().shortString())
                            .append("\",\"row\":[");
                    for (int i = 0; i < row.getArity(); i++) {
                        if (i > 0) {
                            out.append(',');
                        }
                        Object v = row.getField(i);
                        if (v == null) {
                            out.append("null");
                        } else if (v instanceof LocalDateTime) {
                            out.append(ms(v));
                        } else if (v instanceof java.math.BigDecimal) {
                            out.append(json(((java.math.BigDecimal) v).toPlainString()));
                        } else if (v instanceof Number) {
                            out.append(v);
                        } else {
                            out.append(json(v));
                        }
                    }
                    out.append("]}");
                    System.out.println(out);
                }
            }
        }
    }

    static long ms(Object time) {
        return ((LocalDateTime) time).toInstant(ZoneOffset.UTC).toEpochMilli();
    }

    static String json(Object text) {
        return "\"" + String.valueOf(text).replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    /// The statements of a suite file, its placeholders filled in, comments dropped.
    static List<String> statements(Path file, long tps, long events) throws Exception {
        StringBuilder text = new StringBuilder();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (!line.trim().startsWith("--")) {
                text.append(line).append('\n');
            }
        }
        String filled = text.toString()
                .replace("${TPS}", Long.toString(tps))
                .replace("${EVENTS_NUM}", Long.toString(events))
                .replace("${PERSON_PROPORTION}", "1")
                .replace("${AUCTION_PROPORTION}", "3")
                .replace("${BID_PROPORTION}", "46")
                .replace("${NEXMARK_TABLE}", "datagen");
        List<String> out = new ArrayList<>();
        for (String s : filled.split(";")) {
            if (!s.trim().isEmpty()) {
                out.add(s.trim());
            }
        }
        return out;
    }
}
