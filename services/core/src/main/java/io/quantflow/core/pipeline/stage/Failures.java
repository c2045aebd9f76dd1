package io.quantflow.core.pipeline.stage;

import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.pipeline.events.Answers;
import io.quantflow.core.pipeline.events.CloudEvent;
import io.quantflow.core.pipeline.events.EventTypes;
import io.quantflow.core.pipeline.events.Stage;
import io.quantflow.core.pipeline.events.Topics;

import java.util.logging.Level;
import java.util.logging.Logger;

/** Turns a stage's failure into the request's one {@code conversion-failed} answer. */
final class Failures {
    private static final Logger LOG = Logger.getLogger(Failures.class.getName());

    private Failures() {
    }

    /** A failure of the request as a whole, before it has outputs or shards (planning it). */
    static void answerForRequest(WorkStore store, Bus bus, String source, String requestId, ErrorCode code, String message,
                                 Stage stage) {
        answer(store, bus, source, requestId, code, message, stage, null, null);
    }

    /** A failure of one output ({@code format}) and, when one shard failed, of that {@code shard} (else null). */
    static void answer(WorkStore store, Bus bus, String source, String requestId, ErrorCode code, String message, Stage stage,
                       String format, String shard) {
        String line = oneLine(message);
        CloudEvent event = CloudEvent.of(EventTypes.FAILED, source, "failed/" + requestId, requestId,
                new Answers.Failed(requestId, code.name(), line, stage, format, shard));
        boolean mine = store.answer(requestId, Topics.FAILED, event, bus);
        LOG.info(() -> "request " + requestId + (mine ? " failed in " + stage + ": " + code + ": " + line
                : " failed in " + stage + " after it was answered; the first answer stands"));
    }

    /** An unexpected exception as a one-line INTERNAL failure (the stack trace goes to the log, not to the user). */
    static QuantflowException internal(String what, RuntimeException e) {
        LOG.log(Level.SEVERE, what + " failed unexpectedly", e);
        return QuantflowException.of(Reason.UNEXPECTED, what + " failed unexpectedly (" + e.getClass().getSimpleName()
                + "); the service log has the details", e);
    }

    static String oneLine(String m) {
        if (m == null || m.isBlank()) {
            return "no message";
        }
        String s = m.replaceAll("[\\r\\n]+", " ").trim();
        return s.length() > 2000 ? s.substring(0, 1997) + "..." : s;
    }
}
