package io.quantflow.cli;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.pipeline.events.Answers;
import io.quantflow.core.pipeline.events.CloudEvent;
import io.quantflow.core.pipeline.events.EventTypes;
import io.quantflow.core.pipeline.events.Topics;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * The Kafka side of {@code submit}: publishes one conversion-requested event and waits for the
 * answer keyed by its request id, passing progress events on. Reads the answer topics from their
 * end as of just before the request is sent, so every answer to it is seen.
 */
final class KafkaRequests {
    private KafkaRequests() {
    }

    static CloudEvent exchange(String bootstrap, String rid, CloudEvent event, Duration timeout, Runnable sent,
                               Consumer<Answers.Progress> progress) {
        Properties common = new Properties();
        common.put("bootstrap.servers", bootstrap);
        common.put("client.id", "quantflow-submit");
        Properties pc = new Properties();
        pc.putAll(common);
        pc.put(ProducerConfig.ACKS_CONFIG, "all");
        pc.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        pc.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        pc.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "60000");
        Properties cc = new Properties();
        cc.putAll(common);
        cc.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        cc.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cc, new StringDeserializer(), new StringDeserializer());
             KafkaProducer<String, String> producer = new KafkaProducer<>(pc, new StringSerializer(), new StringSerializer())) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : List.of(Topics.COMPLETED, Topics.FAILED, Topics.PROGRESS)) {
                consumer.partitionsFor(topic, Duration.ofSeconds(30)).forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
            }
            consumer.assign(partitions);
            consumer.seekToEnd(partitions);
            partitions.forEach(consumer::position); // the end as of now: answers from here on are ours
            ProducerRecord<String, String> record = new ProducerRecord<>(Topics.REQUESTED, rid, event.toJson());
            record.headers().add("content-type", CloudEvent.CONTENT_TYPE.getBytes(StandardCharsets.UTF_8));
            producer.send(record).get(60, TimeUnit.SECONDS);
            sent.run();
            long deadline = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    if (!rid.equals(r.key())) {
                        continue;
                    }
                    CloudEvent e;
                    try {
                        e = CloudEvent.parse(r.value());
                    } catch (CloudEvent.MalformedEvent x) {
                        continue;
                    }
                    if (EventTypes.PROGRESS.equals(e.type())) {
                        progress.accept(e.data(Answers.Progress.class));
                    } else if (EventTypes.COMPLETED.equals(e.type()) || EventTypes.FAILED.equals(e.type())) {
                        return e;
                    }
                }
            }
            throw QuantflowException.of(Reason.NO_ANSWER, "no answer to request " + rid + " within " + timeout.toSeconds()
                    + " s; it may still finish (scripts/stack status shows whether the services run; --timeout waits longer)");
        } catch (KafkaException | ExecutionException | TimeoutException e) {
            throw QuantflowException.of(Reason.KAFKA_UNREACHABLE, "cannot reach Kafka at " + bootstrap + ": " + e.getMessage()
                    + "; is the pipeline up? (scripts/stack status)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw QuantflowException.of(Reason.INTERRUPTED, "interrupted while waiting for request " + rid);
        }
    }
}
