package io.quantflow.edge;

import io.quantflow.core.pipeline.events.CloudEvent;
import io.quantflow.core.pipeline.events.Topics;
import io.quantflow.core.pipeline.stage.Bus;
import io.smallrye.reactive.messaging.MutinyEmitter;
import io.smallrye.reactive.messaging.kafka.api.OutgoingKafkaRecordMetadata;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.eclipse.microprofile.reactive.messaging.Channel;
import org.eclipse.microprofile.reactive.messaging.Emitter;
import org.eclipse.microprofile.reactive.messaging.Message;
import org.eclipse.microprofile.reactive.messaging.OnOverflow;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The stages' {@link Bus} on Kafka: one outgoing channel whose records name their topic
 * (work items and answers, each sent and confirmed by the broker before the incoming record is
 * acknowledged), and one for progress events that never waits. Every record is keyed by its
 * request id and carries {@code content-type: application/cloudevents+json}.
 */
@ApplicationScoped
public class KafkaBus implements Bus {

    @Inject
    @Channel("events")
    MutinyEmitter<String> events;

    @Inject
    @Channel("progress")
    @OnOverflow(OnOverflow.Strategy.DROP)
    Emitter<String> progress;

    @Override
    public void send(String topic, String key, CloudEvent event) {
        try {
            events.sendMessage(message(topic, key, event)).await().atMost(Duration.ofMinutes(2));
        } catch (RuntimeException e) {
            throw new Unavailable("Kafka did not take the " + event.type() + " event for " + topic + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void progress(String key, CloudEvent event) {
        progress.send(message(Topics.PROGRESS, key, event));
    }

    /** A record for {@code topic}: the whole event as its value, keyed by {@code key}, with the structured-mode content-type. */
    static Message<String> message(String topic, String key, CloudEvent event) {
        RecordHeaders headers = new RecordHeaders();
        headers.add("content-type", CloudEvent.CONTENT_TYPE.getBytes(StandardCharsets.UTF_8));
        return Message.of(event.toJson()).addMetadata(OutgoingKafkaRecordMetadata.<String>builder()
                .withTopic(topic).withKey(key).withHeaders(headers).build());
    }
}
