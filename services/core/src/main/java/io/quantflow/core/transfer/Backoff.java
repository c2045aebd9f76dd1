package io.quantflow.core.transfer;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * How often and how patiently a transfer is retried: {@code attempts} tries in all, waiting
 * {@code initial}, then twice as long each time up to {@code max}, with up to a quarter more at
 * random so that parallel downloads do not retry in step.
 */
public record Backoff(int attempts, Duration initial, Duration max) {

    public Backoff {
        if (attempts < 1) {
            throw new IllegalArgumentException("attempts must be at least 1");
        }
        if (initial.isNegative() || max.compareTo(initial) < 0) {
            throw new IllegalArgumentException("backoff delays must satisfy 0 <= initial <= max");
        }
    }

    public static Backoff defaults() {
        return new Backoff(6, Duration.ofMillis(500), Duration.ofSeconds(30));
    }

    /** The wait before try number {@code attempt} (2 for the first retry). */
    public Duration delayBefore(int attempt) {
        long base = initial.toMillis() << Math.min(20, Math.max(0, attempt - 2));
        long capped = Math.min(base, max.toMillis());
        long jitter = capped <= 0 ? 0 : ThreadLocalRandom.current().nextLong(capped / 4 + 1);
        return Duration.ofMillis(capped + jitter);
    }

    /** Sleeps before try number {@code attempt}; an interrupt ends the wait and is kept. */
    public void sleepBefore(int attempt) throws InterruptedException {
        Thread.sleep(delayBefore(attempt));
    }
}
