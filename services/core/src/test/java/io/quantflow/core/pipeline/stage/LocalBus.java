package io.quantflow.core.pipeline.stage;

import io.quantflow.core.pipeline.events.CloudEvent;
import io.quantflow.core.pipeline.events.Topics;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * The pipeline's topics as in-process queues, with the four stages subscribed: what Kafka does for
 * the services, for tests of the stages together. Records on topics nobody consumes (answers,
 * progress) are kept for the test to read. {@code deliveries} > 1 delivers every work record that
 * many times (a redelivery after a crash, a rebalance). A consumer that throws an Error has died: drain
 * throws it, and the next drain delivers that record first.
 */
final class LocalBus implements Bus {
    record Sent(String topic, String key, String value) {
    }

    private final Deque<Sent> queue = new ArrayDeque<>();
    private final Map<String, BiConsumer<String, Bus>> consumers = new HashMap<>();
    final List<Sent> kept = new ArrayList<>();
    final List<Sent> deadLetters = new ArrayList<>();
    int deliveries = 1;
    /** Sends to this topic that fail (the broker does not take them) before sends succeed again. */
    String failingTopic;
    int failures;

    /** A stage's process dying mid-record: nothing of the stage catches it, and the record comes again. */
    static final class Crash extends Error {
        Crash(String where) {
            super("simulated crash " + where);
        }
    }

    void subscribe(String topic, BiConsumer<String, Bus> consumer) {
        consumers.put(topic, consumer);
    }

    @Override
    public void send(String topic, String key, CloudEvent event) {
        if (topic.equals(failingTopic) && failures > 0) {
            failures--;
            throw new Unavailable("the broker did not take it", new RuntimeException("test"));
        }
        queue.add(new Sent(topic, key, event.toJson()));
    }

    @Override
    public void progress(String key, CloudEvent event) {
        kept.add(new Sent(Topics.PROGRESS, key, event.toJson()));
    }

    void publish(String topic, String key, String value) {
        queue.add(new Sent(topic, key, value));
    }

    /**
     * Delivers until every queue is empty. A record that is not an event goes to the topic's
     * dead-letter list; a consumer that throws anything else gets the record again (at most 5 times).
     */
    void drain() {
        while (!queue.isEmpty()) {
            Sent s = queue.poll();
            BiConsumer<String, Bus> c = consumers.get(s.topic());
            if (c == null) {
                kept.add(s);
                continue;
            }
            int redeliveries = 0;
            for (int i = 0; i < deliveries; i++) {
                try {
                    c.accept(s.value(), this);
                } catch (CloudEvent.MalformedEvent e) {
                    deadLetters.add(new Sent(Topics.deadLetter(s.topic()), s.key(), s.value()));
                    break;
                } catch (RuntimeException | Crash e) {
                    if (++redeliveries > 5) {
                        throw e;
                    }
                    i--;
                } catch (Error e) {
                    // the consumer died (a crash): its record was never committed, and the next drain delivers it again
                    queue.addFirst(s);
                    throw e;
                }
            }
        }
    }

    List<CloudEvent> on(String topic, String key) {
        return kept.stream().filter(s -> s.topic().equals(topic) && s.key().equals(key)).map(s -> CloudEvent.parse(s.value())).toList();
    }
}
