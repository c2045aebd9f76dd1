package io.quantflow.core.pipeline.events;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;

import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * A CloudEvents 1.0 event in structured JSON mode: the whole Kafka record value
 * (schemas/cloudevent.schema.json, docs/adr/0009). {@code subject} is the request id, {@code data}
 * the payload.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CloudEvent(String specversion, String id, String source, String type, String datacontenttype,
                         String subject, String time, JsonNode data) {

    public static final String SPEC_VERSION = "1.0";
    /** The Kafka record header {@code content-type} of a structured-mode event. */
    public static final String CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8";

    /** An event of one of quantflow's types, stamped now. */
    public static CloudEvent of(String type, String source, String id, String subject, Object data) {
        return new CloudEvent(SPEC_VERSION, id, source, type, "application/json", subject,
                Instant.now().truncatedTo(ChronoUnit.MILLIS).toString(), Json.MAPPER.valueToTree(data));
    }

    /**
     * Reads a record value. Anything that is not a CloudEvent of a quantflow type (not JSON, no id,
     * source or type, another spec version, data that is not an object) is a {@link MalformedEvent}:
     * there is nobody to answer, so it goes to the dead-letter topic.
     */
    public static CloudEvent parse(String json) {
        if (json == null) {
            throw new MalformedEvent("the record has no value");
        }
        CloudEvent e;
        try {
            e = Json.MAPPER.readValue(json, CloudEvent.class);
        } catch (JsonProcessingException x) {
            throw new MalformedEvent("not a CloudEvent in structured JSON mode: " + x.getOriginalMessage());
        }
        if (e == null) {
            throw new MalformedEvent("the record value is JSON null");
        }
        if (!SPEC_VERSION.equals(e.specversion())) {
            throw new MalformedEvent("specversion must be 1.0, not " + e.specversion());
        }
        if (blank(e.id()) || blank(e.source()) || blank(e.type())) {
            throw new MalformedEvent("a CloudEvent needs id, source and type");
        }
        if (!EventTypes.ALL.contains(e.type())) {
            throw new MalformedEvent("unknown event type " + e.type());
        }
        if (e.data() == null || !e.data().isObject()) {
            throw new MalformedEvent("data must be a JSON object");
        }
        return e;
    }

    /** The payload as a record; a payload that does not fit is an {@link InvalidPayload}. */
    public <T> T data(Class<T> type) {
        try {
            return Json.STRICT.treeToValue(data, type);
        } catch (JsonProcessingException | IllegalArgumentException x) {
            String m = x instanceof JsonProcessingException j ? j.getOriginalMessage() : x.getMessage();
            throw new InvalidPayload(type.getSimpleName() + ": " + (m == null ? x.toString() : m.lines().findFirst().orElse(m)));
        }
    }

    public String toJson() {
        try {
            return Json.MAPPER.writeValueAsString(this);
        } catch (JsonProcessingException x) {
            throw new IllegalStateException(x);
        }
    }

    private static boolean blank(String s) {
        return s == null || s.isBlank();
    }

    /** A record that is not a quantflow CloudEvent at all: for the dead-letter topic. */
    public static final class MalformedEvent extends RuntimeException {
        public MalformedEvent(String message) {
            super(message);
        }
    }

    /** A CloudEvent whose data does not fit its type: answered with INVALID_REQUEST where there is a request to answer. */
    public static final class InvalidPayload extends RuntimeException {
        public InvalidPayload(String message) {
            super(message);
        }
    }
}
