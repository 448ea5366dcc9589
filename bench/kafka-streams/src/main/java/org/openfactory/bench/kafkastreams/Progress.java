package org.openfactory.bench.kafkastreams;

import com.sun.management.OperatingSystemMXBean;
import java.lang.management.ManagementFactory;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * The measured interval of one application run, marked from inside the application's own clients:
 *
 * <ul>
 *   <li>start: the main consumer's first poll that returns records ({@link FirstReadInterceptor#onConsume});
 *   <li>end: the return of the first offset commit that takes every input partition (and table partition) to the
 *       end offset it had before the run. Under exactly_once_v2 that is {@code Producer.commitTransaction()}
 *       returning after {@code sendOffsetsToTransaction} ({@link CommitWatchingProducer}): the outputs, the store
 *       changelogs and the input offsets are one committed transaction. Under at_least_once it is the main
 *       consumer's {@code commitSync} ({@link FirstReadInterceptor#onCommit}), which Kafka Streams calls only after
 *       flushing its producer, so every output is acknowledged by then.
 * </ul>
 *
 * One run at a time per JVM ({@link #current}); the clients reach it through that static field because Kafka
 * instantiates interceptors itself.
 */
final class Progress {
  static volatile Progress current;

  private final Map<TopicPartition, Long> targets;
  private final Map<TopicPartition, Long> committed = new ConcurrentHashMap<>();
  final CountDownLatch done = new CountDownLatch(1);

  volatile boolean started;
  volatile long startNanos;
  volatile long startEpochMs;
  volatile long startProcessCpuNanos;
  volatile long streamThreadId = -1;
  volatile long startThreadCpuNanos;

  volatile long endNanos;
  volatile long endProcessCpuNanos;
  volatile long endThreadCpuNanos;
  volatile int commits;

  Progress(Map<TopicPartition, Long> targets) {
    this.targets = Map.copyOf(targets);
    if (targets.isEmpty()) throw new IllegalArgumentException("the input topic is empty");
  }

  /** On the stream thread, from the main consumer's poll. */
  void firstRead() {
    if (started) return;
    startNanos = System.nanoTime();
    startEpochMs = System.currentTimeMillis();
    startProcessCpuNanos = processCpuNanos();
    streamThreadId = Thread.currentThread().getId();
    startThreadCpuNanos = ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    started = true;
  }

  /** On the stream thread, once a commit of these offsets has succeeded. */
  void committed(Map<TopicPartition, OffsetAndMetadata> offsets) {
    long now = System.nanoTime();
    commits++;
    offsets.forEach((tp, om) -> committed.merge(tp, om.offset(), Math::max));
    if (done.getCount() == 0) return;
    for (var t : targets.entrySet()) {
      Long c = committed.get(t.getKey());
      if (c == null || c < t.getValue()) return;
    }
    endNanos = now;
    endProcessCpuNanos = processCpuNanos();
    endThreadCpuNanos = ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    done.countDown();
  }

  Map<TopicPartition, Long> committedSoFar() {
    return Map.copyOf(committed);
  }

  static long processCpuNanos() {
    return ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }
}
