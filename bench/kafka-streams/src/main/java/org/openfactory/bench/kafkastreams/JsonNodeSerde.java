package org.openfactory.bench.kafkastreams;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * JSON values as Jackson trees, one shared ObjectMapper (thread-safe once configured). A value that is not JSON
 * becomes null (the topologies drop or pass it as absent) rather than stopping the application, the way ksqlDB
 * skips a record it cannot deserialize; the benchmark data is always JSON.
 */
public final class JsonNodeSerde implements Serde<JsonNode> {
  static final ObjectMapper MAPPER = new ObjectMapper();

  private static final Serializer<JsonNode> SERIALIZER = (topic, node) -> {
    if (node == null) return null;
    try {
      return MAPPER.writeValueAsBytes(node);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  };

  private static final Deserializer<JsonNode> DESERIALIZER = (topic, bytes) -> {
    if (bytes == null) return null;
    try {
      return MAPPER.readTree(bytes);
    } catch (IOException e) {
      return null;
    }
  };

  @Override
  public Serializer<JsonNode> serializer() {
    return SERIALIZER;
  }

  @Override
  public Deserializer<JsonNode> deserializer() {
    return DESERIALIZER;
  }
}
