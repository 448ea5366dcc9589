package org.openfactory.bench.kafkastreams;

import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerInterceptor;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * On the application's main consumer ({@code main.consumer.interceptor.classes}; the stream thread runs it):
 * marks the start of the measured interval at the first poll that returns records, and, under at_least_once,
 * reports each successful offset commit (see {@link Progress}).
 */
public final class FirstReadInterceptor implements ConsumerInterceptor<byte[], byte[]> {
  @Override
  public ConsumerRecords<byte[], byte[]> onConsume(ConsumerRecords<byte[], byte[]> records) {
    Progress p = Progress.current;
    if (p != null && !p.started && !records.isEmpty()) p.firstRead();
    return records;
  }

  @Override
  public void onCommit(Map<TopicPartition, OffsetAndMetadata> offsets) {
    Progress p = Progress.current;
    if (p != null) p.committed(offsets);
  }

  @Override
  public void close() {}

  @Override
  public void configure(Map<String, ?> configs) {}
}
