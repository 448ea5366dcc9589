package org.openfactory.bench.kafkastreams;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Properties;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.WindowedSerdes;

/**
 * The three benchmark queries written with the Kafka Streams DSL, the way ksqlDB would plan them: the value
 * deserialized once at the source, then the operators, then serialized at the sink. Keys are the asset uuid
 * (UTF-8 string); values JSON. Field names are the lowercase ones the benchmark data uses.
 */
final class Topologies {
  private Topologies() {}

  static final Duration WINDOW_SIZE = Duration.ofMinutes(1);
  static final Duration WINDOW_GRACE = Duration.ofMinutes(1);

  private static final Serde<String> KEYS = Serdes.String();
  private static final Serde<JsonNode> JSON = new JsonNodeSerde();
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  static Topology build(Options o, String output, Properties props) {
    StreamsBuilder builder = new StreamsBuilder();
    KStream<String, JsonNode> s = builder.stream(o.input, Consumed.with(KEYS, JSON));
    switch (o.mode) {
      case "filter-project" -> filterProject(s, o.threshold, output);
      case "tumbling-aggregate" -> tumblingAggregate(s, output);
      case "stream-table-join" -> streamTableJoin(builder, s, o.table, output);
      default -> throw new IllegalArgumentException("unknown mode " + o.mode);
    }
    // `props` carries topology.optimization: the builder applies it (ksqlDB builds its topologies this way).
    return builder.build(props);
  }

  /** SELECT id, value FROM s WHERE type = 'Samples' AND value > threshold. */
  private static void filterProject(KStream<String, JsonNode> s, double threshold, String output) {
    s.filter((k, v) -> v != null
            && "Samples".equals(v.path("type").asText(null))
            && v.path("value").isNumber()
            && v.path("value").doubleValue() > threshold)
        .mapValues(v -> {
          ObjectNode out = NODES.objectNode();
          out.set("id", v.get("id"));
          out.set("value", v.get("value"));
          return (JsonNode) out;
        })
        .to(output, Produced.with(KEYS, JSON));
  }

  /**
   * SELECT uuid, COUNT(*), AVG(value) FROM s WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY uuid, on the records'
   * timestamps, emitting changes (the record cache, statestore.cache.max.bytes, coalesces updates of one window
   * between commits, as in ksqlDB). Output key: the uuid with the window start (Kafka Streams' time-windowed key
   * format, as ksqlDB writes windowed keys); value {"uuid", "window_start", "window_end", "count", "avg"}.
   */
  private static void tumblingAggregate(KStream<String, JsonNode> s, String output) {
    s.groupByKey(Grouped.with(KEYS, JSON))
        .windowedBy(TimeWindows.ofSizeAndGrace(WINDOW_SIZE, WINDOW_GRACE))
        .aggregate(
            CountSum::new,
            (key, v, agg) -> agg.add(v == null ? null : v.get("value")),
            Materialized.with(KEYS, new CountSumSerde()))
        .toStream()
        .map((wk, agg) -> {
          ObjectNode out = NODES.objectNode();
          out.put("uuid", wk.key());
          out.put("window_start", wk.window().start());
          out.put("window_end", wk.window().end());
          out.put("count", agg.count);
          if (agg.valueCount > 0) out.put("avg", agg.sum / agg.valueCount);
          else out.putNull("avg");
          return KeyValue.pair(wk, (JsonNode) out);
        })
        .to(output, Produced.with(
            WindowedSerdes.timeWindowedSerdeFrom(String.class, WINDOW_SIZE.toMillis()), JSON));
  }

  /** SELECT s.id, s.value, t.uns_id FROM s LEFT JOIN t ON s.uuid = t.uuid (t: a table on a compacted topic). */
  private static void streamTableJoin(StreamsBuilder builder, KStream<String, JsonNode> s, String table,
      String output) {
    KTable<String, JsonNode> t = builder.table(table, Consumed.with(KEYS, JSON));
    s.leftJoin(t, (sv, tv) -> {
          ObjectNode out = NODES.objectNode();
          out.set("id", sv == null ? null : sv.get("id"));
          out.set("value", sv == null ? null : sv.get("value"));
          out.set("uns_id", tv == null ? null : tv.get("uns_id"));
          return (JsonNode) out;
        })
        .to(output, Produced.with(KEYS, JSON));
  }

  /** The aggregate's state: COUNT(*), and the sum and count of numeric values for AVG. Mutated in place. */
  static final class CountSum {
    long count;
    long valueCount;
    double sum;

    CountSum add(JsonNode value) {
      count++;
      if (value != null && value.isNumber()) {
        valueCount++;
        sum += value.doubleValue();
      }
      return this;
    }
  }

  /** CountSum as 24 bytes: count, valueCount (int64), sum (float64), big-endian. */
  static final class CountSumSerde implements Serde<CountSum> {
    @Override
    public Serializer<CountSum> serializer() {
      return (topic, c) -> c == null
          ? null
          : ByteBuffer.allocate(24).putLong(c.count).putLong(c.valueCount).putDouble(c.sum).array();
    }

    @Override
    public Deserializer<CountSum> deserializer() {
      return (topic, bytes) -> {
        if (bytes == null) return null;
        ByteBuffer b = ByteBuffer.wrap(bytes);
        CountSum c = new CountSum();
        c.count = b.getLong();
        c.valueCount = b.getLong();
        c.sum = b.getDouble();
        return c;
      };
    }
  }
}
