/*
 * The entrypoint of the Kafka broker image (`ofa image build --kafka`, see ../build-kafka-image.ts). The image has
 * no shell, so this class does what a start script would, in the broker's own JVM:
 *
 *   KafkaEntrypoint          writes the node's server.properties (the image's settings plus the listeners from the
 *                            environment) into the data volume, formats the storage on the first start (a KRaft
 *                            cluster of one node, broker and controller), then runs the broker (kafka.Kafka), which
 *                            shuts down cleanly on SIGTERM;
 *   KafkaEntrypoint health   the healthcheck: exit 0 when the broker answers a Metadata request listing itself.
 *
 * The environment (the service's, so the healthcheck sees it too):
 *   KAFKA_HOST               the address it listens on and advertises to clients (default 127.0.0.1);
 *   KAFKA_PORT               the PLAINTEXT port of the clients (default 9092);
 *   KAFKA_CONTROLLER_PORT    the port of its KRaft controller (default KAFKA_PORT + 1).
 * The JVM's system properties name the image's files: ofa.kafka.settings (the settings file of the image) and
 * ofa.kafka.home (the data volume: server.properties, and the logs in data/).
 *
 * Kept to one file of the JDK's classes plus two calls into Kafka (the storage tool's `execute`, `kafka.Kafka.main`),
 * compiled at image build time against the broker's jars, so that a changed Kafka API fails the build, not a start.
 */
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Map;

public final class KafkaEntrypoint {
  /** The node id of the single node: broker and controller. */
  private static final int NODE_ID = 1;

  private KafkaEntrypoint() {}

  /** The listeners, from the environment. */
  private static final class Listeners {
    final String host;
    final int port;
    final int controllerPort;

    Listeners(Map<String, String> env) {
      host = env.getOrDefault("KAFKA_HOST", "127.0.0.1");
      port = port(env, "KAFKA_PORT", 9092);
      controllerPort = port(env, "KAFKA_CONTROLLER_PORT", port + 1);
      if (host.isEmpty() || host.equals("0.0.0.0") || host.equals("::")) {
        throw new IllegalArgumentException("KAFKA_HOST=" + host + ": the address clients reach, not a wildcard");
      }
      if (controllerPort == port) {
        throw new IllegalArgumentException("KAFKA_CONTROLLER_PORT and KAFKA_PORT are both " + port);
      }
    }

    private static int port(Map<String, String> env, String name, int fallback) {
      String value = env.get(name);
      if (value == null || value.isEmpty()) return fallback;
      try {
        int p = Integer.parseInt(value);
        if (p >= 1 && p <= 65535) return p;
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new IllegalArgumentException(name + "=" + value + ": not a port (1 to 65535)");
    }
  }

  public static void main(String[] args) throws Exception {
    Listeners listeners;
    try {
      listeners = new Listeners(System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println("kafka entrypoint: " + e.getMessage());
      System.exit(2);
      return;
    }
    if (args.length == 1 && args[0].equals("health")) {
      System.exit(health(listeners) ? 0 : 1);
    }
    if (args.length != 0) {
      System.err.println("usage: KafkaEntrypoint [health]");
      System.exit(2);
    }
    Path settings = Paths.get(System.getProperty("ofa.kafka.settings", "/opt/kafka/config/server.properties"));
    Path home = Paths.get(System.getProperty("ofa.kafka.home", "/var/lib/kafka"));
    Path data = home.resolve("data");
    Path config = home.resolve("server.properties");
    // Written at each start: a changed port applies at the next one (a single static voter keeps no address).
    String hostPort = listeners.host + ":" + listeners.port;
    String controller = listeners.host + ":" + listeners.controllerPort;
    String text =
        Files.readString(settings)
            + "# from the environment of this start\n"
            + "node.id=" + NODE_ID + "\n"
            + "log.dirs=" + data + "\n"
            + "listeners=PLAINTEXT://" + hostPort + ",CONTROLLER://" + controller + "\n"
            + "advertised.listeners=PLAINTEXT://" + hostPort + "\n"
            + "controller.quorum.voters=" + NODE_ID + "@" + controller + "\n";
    Files.createDirectories(data);
    Files.writeString(config, text);
    if (!Files.exists(data.resolve("meta.properties"))) {
      String clusterId = org.apache.kafka.common.Uuid.randomUuid().toString();
      System.out.println("kafka entrypoint: formatting " + data + " for a new cluster " + clusterId);
      int code =
          kafka.tools.StorageTool.execute(
              new String[] {"format", "--config", config.toString(), "--cluster-id", clusterId, "--ignore-formatted"},
              System.out);
      if (code != 0) {
        System.err.println("kafka entrypoint: formatting " + data + " failed (exit " + code + ")");
        System.exit(code);
      }
    }
    kafka.Kafka.main(new String[] {config.toString()});
  }

  /**
   * Kafka's Metadata request, version 4 (the protocol guide, "Metadata API"; the oldest version Kafka 4 answers):
   * an INT32 size, then the request header v1 — api_key INT16 = 3, api_version INT16 = 4, correlation_id INT32,
   * client_id STRING (INT16 length, UTF-8 bytes) — and the body: topics ARRAY (INT32 count 0: no topic, only the
   * brokers), allow_auto_topic_creation BOOLEAN (one byte). The response: INT32 size, correlation_id INT32,
   * throttle_time_ms INT32, brokers ARRAY of node_id INT32, host STRING, port INT32, rack NULLABLE_STRING (length
   * -1 for null); the rest is not read. A broker answers only once it serves clients, and lists the live brokers.
   */
  private static boolean health(Listeners listeners) {
    byte[] clientId = "ofa-kafka-health".getBytes(StandardCharsets.UTF_8);
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(listeners.host, listeners.port), 2000);
      socket.setSoTimeout(3000);
      DataOutputStream out = new DataOutputStream(socket.getOutputStream());
      out.writeInt(2 + 2 + 4 + 2 + clientId.length + 4 + 1);
      out.writeShort(3);
      out.writeShort(4);
      out.writeInt(7);
      out.writeShort(clientId.length);
      out.write(clientId);
      out.writeInt(0);
      out.writeByte(0);
      out.flush();
      DataInputStream in = new DataInputStream(socket.getInputStream());
      int size = in.readInt();
      if (size < 12 || in.readInt() != 7) return false;
      in.readInt(); // throttle_time_ms
      int brokers = in.readInt();
      for (int i = 0; i < brokers; i++) {
        int nodeId = in.readInt();
        in.skipNBytes(in.readShort()); // host
        in.readInt(); // port
        short rack = in.readShort();
        if (rack > 0) in.skipNBytes(rack);
        if (nodeId == NODE_ID) return true;
      }
      System.err.println("kafka health: the broker answers but does not list itself yet");
      return false;
    } catch (IOException e) {
      System.err.println("kafka health: " + listeners.host + ":" + listeners.port + ": " + e);
      return false;
    }
  }
}
