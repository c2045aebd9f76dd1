package io.quantflow.edge;

import io.quantflow.core.pipeline.events.CloudEvent;
import org.jboss.logging.Logger;

import java.time.Duration;

/**
 * Runs a stage on one record the way Kafka would redeliver it: a record that is not a quantflow
 * event fails at once (the connector moves it to the dead-letter topic); anything else that
 * escapes the stage (the broker or the store unreachable while answering) is tried again in place,
 * with backoff, for up to {@link #PATIENCE}, so that a passing outage neither loses the record nor
 * parks it in the dead-letter topic. The stages are idempotent, so running one again is safe.
 */
public final class Redelivery {
    private static final Logger LOG = Logger.getLogger(Redelivery.class);
    /** Below max.poll.interval.ms (30 minutes), so the consumer keeps its partitions meanwhile. */
    static final Duration PATIENCE = Duration.ofMinutes(10);

    private Redelivery() {
    }

    public static void run(String stage, Runnable work) {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        long backoff = 500;
        for (int attempt = 1; ; attempt++) {
            try {
                work.run();
                return;
            } catch (CloudEvent.MalformedEvent e) {
                LOG.warnf("%s: not a quantflow event (%s): to the dead-letter topic", stage, e.getMessage());
                throw e;
            } catch (RuntimeException e) {
                if (System.nanoTime() + backoff * 1_000_000 > deadline) {
                    LOG.errorf(e, "%s: gave up after %d attempts", stage, attempt);
                    throw e;
                }
                LOG.warnf("%s: attempt %d failed (%s); trying again in %d ms", stage, attempt, e.toString(), backoff);
                try {
                    Thread.sleep(backoff);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
                backoff = Math.min(backoff * 2, 30_000);
            }
        }
    }
}
