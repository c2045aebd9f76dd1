package io.quantflow.edge;

import io.quantflow.core.pipeline.events.CloudEvent;
import io.quantflow.core.pipeline.events.Stage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Redelivery on a clock of the test's own: a record is tried again in place with backoff 0.5 s,
 * 1 s, 2 s ... up to 30 s between attempts, for as long as the patience allows; a record that is no
 * event is not tried again (the dead-letter topic takes it), nor is an Error.
 */
class RedeliveryTest {
    /** The test's clock: it moves only when Redelivery sleeps. */
    private long nanos = 1_000_000_000L;
    private final List<Long> slept = new ArrayList<>();
    private final Redelivery redelivery = new Redelivery(Redelivery.PATIENCE, millis -> {
        slept.add(millis);
        nanos += millis * 1_000_000;
    }, () -> nanos);

    @AfterEach
    void clearInterrupt() {
        Thread.interrupted();
    }

    /** Work that fails {@code failures} times with a fresh exception each time, then succeeds. */
    private static final class Flaky implements Runnable {
        final int failures;
        final List<RuntimeException> thrown = new ArrayList<>();
        int runs;

        Flaky(int failures) {
            this.failures = failures;
        }

        @Override
        public void run() {
            runs++;
            if (runs <= failures) {
                RuntimeException e = new IllegalStateException("the broker is away (" + runs + ")");
                thrown.add(e);
                throw e;
            }
        }
    }

    @Test
    void workThatSucceedsRunsOnceWithoutWaiting() {
        Flaky work = new Flaky(0);
        redelivery.attempt(Stage.MERGE, work);
        assertEquals(1, work.runs);
        assertEquals(List.of(), slept);
    }

    @Test
    void failedAttemptsAreTriedAgainWithADoublingBackoff() {
        Flaky work = new Flaky(3);
        redelivery.attempt(Stage.QUANTIZE, work);
        assertEquals(4, work.runs);
        assertEquals(List.of(500L, 1_000L, 2_000L), slept);
    }

    @Test
    void theBackoffStopsGrowingAtThirtySeconds() {
        Flaky work = new Flaky(9);
        redelivery.attempt(Stage.PUBLISH, work);
        assertEquals(10, work.runs);
        assertEquals(List.of(500L, 1_000L, 2_000L, 4_000L, 8_000L, 16_000L, 30_000L, 30_000L, 30_000L), slept);
        assertEquals(Redelivery.MAX_BACKOFF.toMillis(), slept.get(slept.size() - 1));
    }

    @Test
    void itGivesUpWithTheLastFailureWhenTheNextWaitWouldOutlastItsPatience() {
        Flaky work = new Flaky(Integer.MAX_VALUE);
        RuntimeException e = assertThrows(RuntimeException.class, () -> redelivery.attempt(Stage.FETCH, work));
        assertSame(work.thrown.get(work.thrown.size() - 1), e);
        // 0.5 + 1 + 2 + 4 + 8 + 16 s, then 30 s while the next 30 s still end within 10 minutes
        long total = slept.stream().mapToLong(Long::longValue).sum();
        assertEquals(571_500, total);
        assertEquals(24, slept.size());
        assertEquals(25, work.runs);
        assertTrue(total + Redelivery.MAX_BACKOFF.toMillis() > Redelivery.PATIENCE.toMillis());
    }

    @Test
    void aShorterPatienceGivesUpSooner() {
        Redelivery impatient = new Redelivery(Duration.ofSeconds(2), millis -> {
            slept.add(millis);
            nanos += millis * 1_000_000;
        }, () -> nanos);
        Flaky work = new Flaky(Integer.MAX_VALUE);
        assertThrows(IllegalStateException.class, () -> impatient.attempt(Stage.MERGE, work));
        assertEquals(List.of(500L, 1_000L), slept);
        assertEquals(3, work.runs);
    }

    @Test
    void aRecordThatIsNoEventIsNotTriedAgain() {
        int[] runs = {0};
        CloudEvent.MalformedEvent malformed = new CloudEvent.MalformedEvent("not JSON");
        CloudEvent.MalformedEvent e = assertThrows(CloudEvent.MalformedEvent.class, () -> redelivery.attempt(Stage.FETCH, () -> {
            runs[0]++;
            throw malformed;
        }));
        assertSame(malformed, e);
        assertEquals(1, runs[0]);
        assertEquals(List.of(), slept);
    }

    @Test
    void aRecordFoundToBeNoEventOnARetryIsNotTriedAgainEither() {
        int[] runs = {0};
        assertThrows(CloudEvent.MalformedEvent.class, () -> redelivery.attempt(Stage.MERGE, () -> {
            if (++runs[0] == 1) {
                throw new IllegalStateException("the store is away");
            }
            throw new CloudEvent.MalformedEvent("an incomplete shard work item");
        }));
        assertEquals(2, runs[0]);
        assertEquals(List.of(500L), slept);
    }

    @Test
    void anErrorIsNotTriedAgain() {
        int[] runs = {0};
        assertThrows(OutOfMemoryError.class, () -> redelivery.attempt(Stage.QUANTIZE, () -> {
            runs[0]++;
            throw new OutOfMemoryError("test");
        }));
        assertEquals(1, runs[0]);
        assertEquals(List.of(), slept);
    }

    @Test
    void anInterruptWhileWaitingEndsTheAttemptsWithTheFailureAndKeepsTheInterrupt() {
        Redelivery interrupted = new Redelivery(Redelivery.PATIENCE, millis -> {
            throw new InterruptedException("shutting down");
        }, () -> nanos);
        Flaky work = new Flaky(Integer.MAX_VALUE);
        RuntimeException e = assertThrows(RuntimeException.class, () -> interrupted.attempt(Stage.PUBLISH, work));
        assertSame(work.thrown.get(0), e);
        assertEquals(1, work.runs);
        assertTrue(Thread.currentThread().isInterrupted());
    }

    @Test
    void theServicesRunWorkOnceWhenItSucceeds() {
        int[] runs = {0};
        Redelivery.run(Stage.FETCH, () -> runs[0]++);
        assertEquals(1, runs[0]);
    }

    /** The consumer must not be dropped from its group while a record is being tried again. */
    @Test
    void thePatienceEndsWithinTheConsumersPollInterval() throws IOException {
        Properties shared = new Properties();
        try (InputStream in = Redelivery.class.getResourceAsStream("/META-INF/microprofile-config.properties")) {
            shared.load(in);
        }
        long pollInterval = Long.parseLong(shared.getProperty("mp.messaging.incoming.work.max.poll.interval.ms"));
        assertTrue(Redelivery.PATIENCE.plus(Redelivery.MAX_BACKOFF).toMillis() < pollInterval,
                Redelivery.PATIENCE + " of redelivery against max.poll.interval.ms " + pollInterval);
    }
}
