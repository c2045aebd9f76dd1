package io.quantflow.cli;

import io.quantflow.core.convert.Converter;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.job.ConversionJob;
import io.quantflow.core.job.JobRunner;
import io.quantflow.core.util.Sizes;

import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/** Conversions run with their progress shown on stderr ({@link ProgressBar}), for the commands that convert. */
final class ShowingProgress {
    private ShowingProgress() {
    }

    /** Runs a conversion job with a bar for the conversion and one for each download on {@code err}, and notes as they come. */
    static JobRunner.Outcome run(JobRunner runner, ConversionJob job, PrintStream err) {
        ProgressBar bar = new ProgressBar(err, "converting");
        AtomicReference<ProgressBar> download = new AtomicReference<>();
        AtomicLong downloaded = new AtomicLong();
        AtomicReference<ProgressBar> upload = new AtomicReference<>();
        AtomicLong uploadedBytes = new AtomicLong();
        JobRunner.Listener listener = new JobRunner.Listener() {
            @Override
            public void started(long totalBytes) {
                bar.total(totalBytes);
            }

            @Override
            public void progress(long doneBytes) {
                bar.update(doneBytes);
            }

            @Override
            public void note(String line) {
                synchronized (err) {
                    err.println("note: " + line);
                }
            }

            @Override
            public void downloadStarted(String what, long bytes) {
                synchronized (err) {
                    err.println("downloading " + what + " (" + Sizes.human(bytes) + ")");
                }
                ProgressBar b = new ProgressBar(err, "downloading");
                b.total(bytes);
                downloaded.set(0);
                download.set(b);
            }

            @Override
            public void downloaded(long bytes) {
                ProgressBar b = download.get();
                long done = downloaded.addAndGet(bytes);
                if (b != null) {
                    b.update(done);
                }
            }

            @Override
            public void uploadStarted(String what, long bytes) {
                synchronized (err) {
                    err.println("uploading to " + what + " (" + Sizes.human(bytes) + ")");
                }
                ProgressBar b = new ProgressBar(err, "uploading");
                b.total(bytes);
                uploadedBytes.set(0);
                upload.set(b);
            }

            @Override
            public void uploaded(long bytes) {
                ProgressBar b = upload.get();
                long done = uploadedBytes.addAndGet(bytes);
                if (b != null) {
                    b.update(done);
                }
            }

            @Override
            public void uploadFinished() {
                ProgressBar b = upload.getAndSet(null);
                if (b != null) {
                    b.done();
                }
            }

            @Override
            public void downloadFinished() {
                ProgressBar b = download.getAndSet(null);
                if (b != null) {
                    b.done();
                }
            }
        };
        try {
            return runner.run(job, listener);
        } finally {
            bar.done();
            ProgressBar b = download.getAndSet(null);
            if (b != null) {
                b.done();
            }
            ProgressBar u = upload.getAndSet(null);
            if (u != null) {
                u.done();
            }
        }
    }

    /** Converts local files with a bar on {@code err}; the manifest of each output. */
    static List<Manifest> convert(Converter.Request request, PrintStream err) {
        ProgressBar bar = new ProgressBar(err, "converting");
        Converter.Listener listener = new Converter.Listener() {
            @Override
            public void started(long totalBytes) {
                bar.total(totalBytes);
            }

            @Override
            public void progress(long doneBytes) {
                bar.update(doneBytes);
            }
        };
        try {
            return new Converter().convert(request, listener).manifests();
        } finally {
            bar.done();
        }
    }
}
