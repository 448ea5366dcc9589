package org.openfactory.bench.kafkastreams;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RemoveMembersFromConsumerGroupOptions;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.utils.AppInfoParser;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;

/**
 * Kafka Streams over an input topic filled before the run: one query ({@link Topologies}), one stream thread, a
 * fresh application.id. Optional warm-up runs over the same input come first in the same JVM (so the measured run
 * finds the JIT warm), each with its own application.id and a scratch output topic. The measured interval runs
 * from the first record read to the commit that takes the input's offsets to its end ({@link Progress} says why
 * that marks the last output written under both guarantees); afterwards the committed offsets are checked with an
 * Admin client and the outputs counted with a read_committed consumer. Prints one JSON line on stdout.
 */
public final class Main {
  private final Options o;
  private final Admin admin;
  /**
   * What SIGTERM (the wrapper stopping a run) must undo for the application running now: close it (so that its
   * transaction is aborted rather than left open), then delete what it made. Run by the shutdown hook.
   */
  private static volatile Runnable onTerm;
  private static volatile boolean terminating;

  private Main(Options o, Admin admin) {
    this.o = o;
    this.admin = admin;
  }

  public static void main(String[] args) {
    Options o;
    try {
      o = Options.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("kafka-streams-bench: " + e.getMessage() + "\n" + Options.USAGE);
      System.exit(2);
      return;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      terminating = true;
      Runnable r = onTerm;
      if (r != null) r.run();
    }));
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, o.bootstrap))) {
      System.out.println(new Main(o, admin).run());
      System.out.flush();
    } catch (Throwable e) {
      if (terminating) return; // stopped by a signal: the shutdown hook cleans up
      System.err.println("kafka-streams-bench: failed: " + e);
      e.printStackTrace(System.err);
      System.exit(1);
    }
    System.exit(0);
  }

  private String run() throws Exception {
    String appId = o.applicationId != null
        ? o.applicationId
        : "ofa-bench-ks-" + o.mode + "-" + UUID.randomUUID().toString().substring(0, 8);
    // What a run must consume: every partition's [earliest, latest) of the input (and table) topics.
    int partitions = describe(o.input).partitions().size();
    Map<TopicPartition, Long> inputStart = offsets(o.input, OffsetSpec.earliest(), IsolationLevel.READ_UNCOMMITTED);
    Map<TopicPartition, Long> inputEnd = offsets(o.input, OffsetSpec.latest(), IsolationLevel.READ_UNCOMMITTED);
    long records = count(inputStart, inputEnd);
    if (o.expectRecords >= 0 && records != o.expectRecords) {
      throw new IllegalStateException(o.input + " holds " + records + " records, not the " + o.expectRecords
          + " expected");
    }
    Map<TopicPartition, Long> targets = new HashMap<>(nonEmpty(inputStart, inputEnd));
    long tableRecords = 0;
    if (o.table != null) {
      int tablePartitions = describe(o.table).partitions().size();
      if (tablePartitions != partitions) {
        throw new IllegalStateException(o.table + " has " + tablePartitions + " partitions, " + o.input + " has "
            + partitions + ": a stream-table join needs co-partitioned topics");
      }
      Map<TopicPartition, Long> tableStart = offsets(o.table, OffsetSpec.earliest(), IsolationLevel.READ_UNCOMMITTED);
      Map<TopicPartition, Long> tableEnd = offsets(o.table, OffsetSpec.latest(), IsolationLevel.READ_UNCOMMITTED);
      tableRecords = count(tableStart, tableEnd);
      targets.putAll(nonEmpty(tableStart, tableEnd));
    }

    ArrayNode warmups = JsonNodeSerde.MAPPER.createArrayNode();
    for (int i = 1; i <= o.warmup; i++) {
      String scratch = o.output + "-warmup-" + UUID.randomUUID().toString().substring(0, 8);
      ensureTopic(scratch, partitions);
      try {
        Run w = runOnce(appId + "-warmup-" + i, scratch, true, targets);
        warmups.addObject().put("seconds", w.seconds()).put("rowsPerSecond", records / w.seconds())
            .put("processCpuSeconds", w.processCpuSeconds()).put("outputs", w.outputs)
            .put("startupSeconds", (w.p.startEpochMs - w.launchedEpochMs) / 1e3)
            .put("firstReadEpochMs", w.p.startEpochMs);
      } finally {
        if (!o.keep) deleteTopics(admin, Set.of(scratch));
      }
    }
    ensureTopic(o.output, partitions);
    Run r = runOnce(appId, o.output, false, targets);

    ObjectNode j = JsonNodeSerde.MAPPER.createObjectNode();
    j.put("engine", "kafka-streams");
    j.put("kafkaStreamsVersion", AppInfoParser.getVersion());
    j.put("java", System.getProperty("java.version"));
    j.put("mode", o.mode);
    j.put("guarantee", o.guarantee);
    j.put("threads", 1);
    j.put("threadsNote", "num.stream.threads=1: one processing thread; the clients' network threads, the JIT"
        + " compilers and the GC run beside it (processCpuSeconds counts them all)");
    j.put("records", records);
    j.put("tableRecords", tableRecords);
    j.put("partitions", partitions);
    j.put("outputs", r.outputs);
    j.put("seconds", r.seconds());
    j.put("rowsPerSecond", records / r.seconds());
    j.put("processCpuSeconds", r.processCpuSeconds());
    j.put("streamThreadCpuSeconds", (r.p.endThreadCpuNanos - r.p.startThreadCpuNanos) / 1e9);
    j.put("commits", r.p.commits);
    j.put("startupSeconds", (r.p.startEpochMs - r.launchedEpochMs) / 1e3);
    j.put("firstReadEpochMs", r.p.startEpochMs);
    j.put("warmupRuns", o.warmup);
    j.set("warmups", warmups);
    j.put("applicationId", appId);
    j.put("commitIntervalMs", o.commitIntervalMs);
    j.put("cacheMaxBytes", o.cacheMaxBytes);
    j.put("topologyOptimization", StreamsConfig.OPTIMIZE);
    j.put("measured", "first record read by the main consumer -> return of the offset commit (the transaction"
        + " commit under exactly_once_v2) that takes every input partition to its end");
    return JsonNodeSerde.MAPPER.writeValueAsString(j);
  }

  /** One application run's marks and output count. */
  private record Run(Progress p, long launchedEpochMs, long outputs) {
    double seconds() {
      return (p.endNanos - p.startNanos) / 1e9;
    }

    double processCpuSeconds() {
      return (p.endProcessCpuNanos - p.startProcessCpuNanos) / 1e9;
    }
  }

  /** One application run; `scratch`: the output topic is a warm-up's, deleted if the run is stopped. */
  private Run runOnce(String appId, String output, boolean scratch, Map<TopicPartition, Long> targets)
      throws Exception {
    Map<TopicPartition, Long> outputBefore = committedEnds(output);
    Path stateDir = Files.createTempDirectory("ofa-kafka-streams-bench-");
    Progress p = new Progress(targets);
    Progress.current = p;
    try {
      Properties props = streamsProps(appId, stateDir);
      KafkaStreams streams = new KafkaStreams(Topologies.build(o, output, props), props,
          new CommitWatchingProducer.Supplier());
      AtomicReference<Throwable> failure = new AtomicReference<>();
      streams.setUncaughtExceptionHandler(e -> {
        failure.compareAndSet(null, e);
        return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
      });
      onTerm = () -> {
        streams.close(Duration.ofSeconds(5));
        streams.cleanUp();
        if (!o.keep) {
          // An Admin of its own: the main thread may be closing the shared one meanwhile.
          try (Admin a = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, o.bootstrap))) {
            removeApplication(a, appId);
            if (scratch) deleteTopics(a, Set.of(output));
          }
        }
        deleteTree(stateDir);
      };
      long launched = System.currentTimeMillis();
      streams.start();
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(o.timeoutMs);
      while (!p.done.await(100, TimeUnit.MILLISECONDS)) {
        if (failure.get() != null) throw new IllegalStateException("Kafka Streams failed", failure.get());
        KafkaStreams.State state = streams.state();
        if (state == KafkaStreams.State.ERROR || state == KafkaStreams.State.NOT_RUNNING
            || state == KafkaStreams.State.PENDING_ERROR) {
          throw new IllegalStateException("Kafka Streams stopped (" + state + ") before the input's end");
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("timed out after " + o.timeoutMs + " ms: committed "
              + p.committedSoFar() + ", to reach " + targets);
        }
      }
      streams.close(Duration.ofSeconds(60));
      onTerm = null;
      streams.cleanUp();
      checkCommitted(appId, targets);
      long outputs = countOutputs(output, outputBefore, committedEnds(output));
      if (!o.keep) removeApplication(admin, appId);
      return new Run(p, launched, outputs);
    } finally {
      Progress.current = null;
      deleteTree(stateDir);
    }
  }

  /**
   * The application's configuration. Everything not named here is Kafka Streams' default (RocksDB stores, record
   * cache 10 MiB, max.poll.records 1000, the producer's linger.ms 5...). topology.optimization=all is ksqlDB's
   * default: a table read from a compacted topic uses that topic as its changelog instead of writing a copy.
   */
  private Properties streamsProps(String appId, Path stateDir) {
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, o.bootstrap);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, o.guarantee);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, o.commitIntervalMs);
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, o.cacheMaxBytes);
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    p.put(StreamsConfig.TOPOLOGY_OPTIMIZATION_CONFIG, StreamsConfig.OPTIMIZE);
    p.put(StreamsConfig.mainConsumerPrefix(ConsumerConfig.INTERCEPTOR_CLASSES_CONFIG),
        FirstReadInterceptor.class.getName());
    return p;
  }

  /** After the run, the group's committed offsets as the broker has them (exactly-once: once the markers land). */
  private void checkCommitted(String appId, Map<TopicPartition, Long> targets) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    for (;;) {
      Map<TopicPartition, OffsetAndMetadata> c =
          admin.listConsumerGroupOffsets(appId).partitionsToOffsetAndMetadata().get();
      boolean ok = targets.entrySet().stream()
          .allMatch(t -> c.get(t.getKey()) != null && c.get(t.getKey()).offset() >= t.getValue());
      if (ok) return;
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the group " + appId + " committed " + c + ", not " + targets);
      }
      Thread.sleep(50);
    }
  }

  private TopicDescription describe(String topic) throws Exception {
    return admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
  }

  private Map<TopicPartition, Long> offsets(String topic, OffsetSpec spec, IsolationLevel isolation)
      throws Exception {
    Map<TopicPartition, OffsetSpec> request = new HashMap<>();
    for (var p : describe(topic).partitions()) request.put(new TopicPartition(topic, p.partition()), spec);
    return admin.listOffsets(request, new ListOffsetsOptions(isolation)).all().get().entrySet().stream()
        .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
  }

  /** The last stable offsets: where a read_committed reader stops. */
  private Map<TopicPartition, Long> committedEnds(String topic) throws Exception {
    return offsets(topic, OffsetSpec.latest(), IsolationLevel.READ_COMMITTED);
  }

  private static long count(Map<TopicPartition, Long> start, Map<TopicPartition, Long> end) {
    long n = 0;
    for (var e : end.entrySet()) n += e.getValue() - start.get(e.getKey());
    return n;
  }

  private static Map<TopicPartition, Long> nonEmpty(Map<TopicPartition, Long> start, Map<TopicPartition, Long> end) {
    return end.entrySet().stream()
        .filter(e -> e.getValue() > start.get(e.getKey()))
        .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue));
  }

  private void ensureTopic(String topic, int partitions) throws Exception {
    if (admin.listTopics().names().get().contains(topic)) return;
    admin.createTopics(List.of(new NewTopic(topic, Optional.of(partitions), Optional.empty()))).all().get();
  }

  /** Records a read_committed consumer finds in the output between `from` and `to` (skipping transaction markers). */
  private long countOutputs(String topic, Map<TopicPartition, Long> from, Map<TopicPartition, Long> to) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, o.bootstrap);
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 10_000);
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
      List<TopicPartition> parts = new ArrayList<>(to.keySet());
      c.assign(parts);
      for (TopicPartition tp : parts) c.seek(tp, from.getOrDefault(tp, 0L));
      long n = 0;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (parts.stream().anyMatch(tp -> c.position(tp) < to.get(tp))) {
        if (System.nanoTime() > deadline) throw new IllegalStateException("counting the outputs timed out");
        ConsumerRecords<byte[], byte[]> batch = c.poll(Duration.ofMillis(200));
        for (var rec : batch) if (rec.offset() < to.get(new TopicPartition(rec.topic(), rec.partition()))) n++;
      }
      return n;
    }
  }

  /** Deletes what a run left on the broker: the application's internal topics and its consumer group. */
  private static void removeApplication(Admin admin, String appId) {
    try {
      deleteTopics(admin, admin.listTopics().names().get(10, TimeUnit.SECONDS).stream()
          .filter(t -> t.startsWith(appId + "-"))
          .collect(Collectors.toSet()));
      // Kafka Streams does not leave the group on close (dynamic members): remove them, then the group.
      try {
        admin.removeMembersFromConsumerGroup(appId, new RemoveMembersFromConsumerGroupOptions()).all()
            .get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        // no members left
      }
      admin.deleteConsumerGroups(List.of(appId)).all().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      System.err.println("kafka-streams-bench: could not remove " + appId + "'s topics or group: " + e);
    }
  }

  private static void deleteTopics(Admin admin, Set<String> topics) {
    if (topics.isEmpty()) return;
    try {
      admin.deleteTopics(topics).all().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      if (e.getCause() instanceof UnknownTopicOrPartitionException) return; // deleted already
      System.err.println("kafka-streams-bench: could not delete " + topics + ": " + e);
    }
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // already gone
    }
  }
}
