package io.quantflow.cli;

import io.quantflow.core.util.Sizes;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A progress bar on stderr, drawn only on a terminal and only once the work has run for a second,
 * at most five times a second. The launcher tells the JVM that stderr is a terminal
 * (QUANTFLOW_STDERR_TTY=1), which the JVM cannot see for itself.
 */
final class ProgressBar {
    private final PrintStream out;
    private final String label;
    private final boolean enabled;
    private final long startNanos = System.nanoTime();
    private volatile long total = 1;
    private long lastDraw;
    private boolean drawn;

    ProgressBar(PrintStream out, String label) {
        this.out = out;
        this.label = label;
        this.enabled = "1".equals(System.getenv("QUANTFLOW_STDERR_TTY"));
    }

    void total(long bytes) {
        total = Math.max(1, bytes);
    }

    synchronized void update(long done) {
        if (!enabled) {
            return;
        }
        long now = System.nanoTime();
        if (now - startNanos < 1_000_000_000L || now - lastDraw < 200_000_000L) {
            return;
        }
        lastDraw = now;
        drawn = true;
        double f = Math.min(1.0, (double) done / total);
        int width = 30;
        int filled = (int) Math.round(f * width);
        double secs = (now - startNanos) / 1e9;
        out.print(String.format(Locale.ROOT, "\r%s [%s%s] %3.0f%% %s/%s %s/s ETA %s ", label, "#".repeat(filled),
                ".".repeat(width - filled), f * 100, Sizes.human(done), Sizes.human(total), Sizes.human((long) (done / secs)),
                eta(done, total, secs)));
        out.flush();
    }

    /** The time left at the rate so far, as m:ss (h:mm:ss from an hour), or --:-- before anything moved. */
    static String eta(long done, long total, double secs) {
        if (done <= 0 || secs <= 0) {
            return "--:--";
        }
        long left = Math.max(0, Math.round((total - done) / (done / secs)));
        return left >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", left / 3600, left / 60 % 60, left % 60)
                : String.format(Locale.ROOT, "%d:%02d", left / 60, left % 60);
    }

    synchronized void done() {
        if (drawn) {
            out.print("\r" + " ".repeat(100) + "\r");
            out.flush();
        }
    }
}
