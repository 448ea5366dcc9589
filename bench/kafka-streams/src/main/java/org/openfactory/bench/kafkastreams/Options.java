package org.openfactory.bench.kafkastreams;

import java.util.List;

/** The command line: {@code --name value} pairs, checked once. */
final class Options {
  static final String USAGE = String.join("\n",
      "usage: java -cp <jar>:<lib>/* org.openfactory.bench.kafkastreams.Main",
      "  --bootstrap HOST:PORT --mode filter-project|tumbling-aggregate|stream-table-join",
      "  --input TOPIC [--table TOPIC (stream-table-join)] --output TOPIC (created when missing)",
      "  [--guarantee exactly_once_v2|at_least_once] (default exactly_once_v2)",
      "  [--expect-records N] (fail unless the input holds exactly N records)",
      "  [--threshold 10] [--commit-interval-ms 100] [--cache-max-bytes 10485760] [--timeout-ms 600000]",
      "  [--warmup N] (default 0: runs over the same input in this JVM first, each with its own application.id",
      "  and a scratch output topic; the last run is the measured one)",
      "  [--application-id ID] (default: a fresh one) [--keep] (keep internal topics and the group)",
      "Prints one JSON line of results on stdout; Kafka's warnings go to stderr.");

  static final List<String> MODES = List.of("filter-project", "tumbling-aggregate", "stream-table-join");
  static final List<String> GUARANTEES = List.of("exactly_once_v2", "at_least_once");

  String bootstrap;
  String mode;
  String input;
  String table;
  String output;
  String guarantee = "exactly_once_v2";
  long expectRecords = -1;
  double threshold = 10;
  long commitIntervalMs = 100;
  long cacheMaxBytes = 10 * 1024 * 1024;
  long timeoutMs = 600_000;
  int warmup = 0;
  String applicationId;
  boolean keep;

  static Options parse(String[] args) {
    Options o = new Options();
    for (int i = 0; i < args.length; i++) {
      String name = args[i];
      if (name.equals("--keep")) {
        o.keep = true;
        continue;
      }
      if (!name.startsWith("--") || i + 1 >= args.length) throw new IllegalArgumentException("bad argument " + name);
      String v = args[++i];
      switch (name) {
        case "--bootstrap" -> o.bootstrap = v;
        case "--mode" -> o.mode = v;
        case "--input" -> o.input = v;
        case "--table" -> o.table = v;
        case "--output" -> o.output = v;
        case "--guarantee" -> o.guarantee = v;
        case "--expect-records" -> o.expectRecords = number(name, v, 0);
        case "--threshold" -> o.threshold = Double.parseDouble(v);
        case "--commit-interval-ms" -> o.commitIntervalMs = number(name, v, 1);
        case "--cache-max-bytes" -> o.cacheMaxBytes = number(name, v, 0);
        case "--timeout-ms" -> o.timeoutMs = number(name, v, 1);
        case "--warmup" -> o.warmup = (int) number(name, v, 0);
        case "--application-id" -> o.applicationId = v;
        default -> throw new IllegalArgumentException("unknown option " + name);
      }
    }
    if (o.bootstrap == null || o.mode == null || o.input == null || o.output == null) {
      throw new IllegalArgumentException("--bootstrap, --mode, --input and --output are required");
    }
    if (!MODES.contains(o.mode)) throw new IllegalArgumentException("--mode must be one of " + MODES);
    if (!GUARANTEES.contains(o.guarantee)) throw new IllegalArgumentException("--guarantee must be one of " + GUARANTEES);
    if (o.mode.equals("stream-table-join") != (o.table != null)) {
      throw new IllegalArgumentException("--table is needed by stream-table-join, and only by it");
    }
    return o;
  }

  private static long number(String name, String v, long min) {
    long n;
    try {
      n = Long.parseLong(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be an integer");
    }
    if (n < min) throw new IllegalArgumentException(name + " must be at least " + min);
    return n;
  }
}
