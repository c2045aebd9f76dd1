package io.quantflow.edge;

import io.quantflow.core.pipeline.events.CloudEvent;
import io.quantflow.core.pipeline.events.Stage;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * Runs a stage on one record the way Kafka would redeliver it: a record that is not a quantflow
 * event fails at once (the connector moves it to the dead-letter topic); anything else that
 * escapes the stage (the broker or the store unreachable while answering) is tried again in place,
 * with backoff ({@link #FIRST_BACKOFF}, doubling up to {@link #MAX_BACKOFF}), for up to
 * {@link #PATIENCE}, so that a passing outage neither loses the record nor parks it in the
 * dead-letter topic. The stages are idempotent, so running one again is safe.
 */
public final class Redelivery {
    private static final Logger LOG = Logger.getLogger(Redelivery.class);
    /** Below max.poll.interval.ms (30 minutes), so the consumer keeps its partitions meanwhile. */
    static final Duration PATIENCE = Duration.ofMinutes(10);
    static final Duration FIRST_BACKOFF = Duration.ofMillis(500);
    static final Duration MAX_BACKOFF = Duration.ofSeconds(30);

    /** Waits between attempts. */
    interface Sleeper {
        void sleep(long millis) throws InterruptedException;
    }

    private static final Redelivery SYSTEM = new Redelivery(PATIENCE, Thread::sleep, System::nanoTime);

    private final Duration patience;
    private final Sleeper sleeper;
    private final LongSupplier nanoTime;

    Redelivery(Duration patience, Sleeper sleeper, LongSupplier nanoTime) {
        this.patience = patience;
        this.sleeper = sleeper;
        this.nanoTime = nanoTime;
    }

    /** Runs {@code work}, the service of {@code stage} on one record, until it succeeds, gives up, or meets a record that is no event. */
    public static void run(Stage stage, Runnable work) {
        SYSTEM.attempt(stage, work);
    }

    void attempt(Stage stage, Runnable work) {
        String service = stage.service();
        long deadline = nanoTime.getAsLong() + patience.toNanos();
        long backoff = FIRST_BACKOFF.toMillis();
        for (int attempt = 1; ; attempt++) {
            try {
                work.run();
                return;
            } catch (CloudEvent.MalformedEvent e) {
                LOG.warnf("%s: not a quantflow event (%s): to the dead-letter topic", service, e.getMessage());
                throw e;
            } catch (RuntimeException e) {
                if (nanoTime.getAsLong() + backoff * 1_000_000 > deadline) {
                    LOG.errorf(e, "%s: gave up after %d attempts", service, attempt);
                    throw e;
                }
                LOG.warnf("%s: attempt %d failed (%s); trying again in %d ms", service, attempt, e.toString(), backoff);
                try {
                    sleeper.sleep(backoff);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
                backoff = Math.min(backoff * 2, MAX_BACKOFF.toMillis());
            }
        }
    }
}
