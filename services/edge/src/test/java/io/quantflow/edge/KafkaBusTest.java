package io.quantflow.edge;

import io.quantflow.core.pipeline.events.CloudEvent;
import io.quantflow.core.pipeline.events.EventTypes;
import io.quantflow.core.pipeline.events.Stage;
import io.quantflow.core.pipeline.events.Topics;
import io.quantflow.core.pipeline.stage.Bus;
import io.smallrye.mutiny.Uni;
import io.smallrye.reactive.messaging.MutinyEmitter;
import io.smallrye.reactive.messaging.kafka.api.OutgoingKafkaRecordMetadata;
import org.apache.kafka.common.header.Header;
import org.eclipse.microprofile.reactive.messaging.Emitter;
import org.eclipse.microprofile.reactive.messaging.Message;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The records KafkaBus hands the connector, with emitters of the test's own instead of a broker: the
 * whole event as the value, keyed by the request id, for the topic named, with the CloudEvents
 * structured-mode content-type; a send the broker does not confirm is {@link Bus.Unavailable}.
 */
class KafkaBusTest {
    private final CloudEvent event = CloudEvent.of(EventTypes.PROGRESS, Stage.QUANTIZE.eventSource(), "e1", "r1", Map.of("requestId", "r1"));

    private static OutgoingKafkaRecordMetadata<?> metadata(Message<?> m) {
        return m.getMetadata(OutgoingKafkaRecordMetadata.class).orElseThrow();
    }

    private static String header(Message<?> m, String name) {
        Header h = metadata(m).getHeaders().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    @SuppressWarnings("unchecked")
    private static <T> T emitter(Class<T> type, List<Message<?>> sent, Function<Message<?>, Object> answer) {
        return (T) Proxy.newProxyInstance(KafkaBusTest.class.getClassLoader(), new Class<?>[]{type}, (proxy, method, args) -> {
            if (method.getName().startsWith("send") && args != null && args.length == 1 && args[0] instanceof Message<?> m) {
                sent.add(m);
                return answer.apply(m);
            }
            throw new UnsupportedOperationException(method.getName());
        });
    }

    @Test
    void aRecordIsTheEventKeyedByRequestForItsTopicWithTheStructuredContentType() {
        Message<String> m = KafkaBus.message(Stage.PUBLISH.topic(), "r1", event);
        assertEquals(event.toJson(), m.getPayload());
        assertEquals(Stage.PUBLISH.topic(), metadata(m).getTopic());
        assertEquals("r1", metadata(m).getKey());
        assertEquals(CloudEvent.CONTENT_TYPE, header(m, "content-type"));
        assertEquals(event, CloudEvent.parse(m.getPayload()));
    }

    @Test
    void sendReturnsOnceTheBrokerHasTheRecord() {
        List<Message<?>> sent = new ArrayList<>();
        KafkaBus bus = new KafkaBus();
        bus.events = emitter(MutinyEmitter.class, sent, m -> Uni.createFrom().voidItem());
        bus.send(Topics.COMPLETED, "r1", event);
        assertEquals(1, sent.size());
        assertEquals(Topics.COMPLETED, metadata(sent.get(0)).getTopic());
        assertEquals("r1", metadata(sent.get(0)).getKey());
    }

    @Test
    void aSendTheBrokerDoesNotTakeIsUnavailable() {
        RuntimeException refused = new IllegalStateException("no leader for the partition");
        KafkaBus bus = new KafkaBus();
        bus.events = emitter(MutinyEmitter.class, new ArrayList<>(), m -> Uni.createFrom().failure(refused));
        Bus.Unavailable e = assertThrows(Bus.Unavailable.class, () -> bus.send(Stage.QUANTIZE.topic(), "r1", event));
        assertSame(refused, e.getCause());
        assertTrue(e.getMessage().contains(EventTypes.PROGRESS) && e.getMessage().contains(Stage.QUANTIZE.topic()), e.getMessage());
    }

    @Test
    void aSendThatCannotBeQueuedIsUnavailableToo() {
        KafkaBus bus = new KafkaBus();
        bus.events = emitter(MutinyEmitter.class, new ArrayList<>(), m -> {
            throw new IllegalStateException("the channel is closed");
        });
        assertThrows(Bus.Unavailable.class, () -> bus.send(Stage.MERGE.topic(), "r1", event));
    }

    @Test
    void progressGoesToTheProgressTopicWithoutWaiting() {
        List<Message<?>> sent = new ArrayList<>();
        KafkaBus bus = new KafkaBus();
        bus.progress = emitter(Emitter.class, sent, m -> null);
        bus.progress("r1", event);
        assertEquals(1, sent.size());
        assertEquals(Topics.PROGRESS, metadata(sent.get(0)).getTopic());
        assertEquals("r1", metadata(sent.get(0)).getKey());
        assertNotNull(header(sent.get(0), "content-type"));
    }
}
