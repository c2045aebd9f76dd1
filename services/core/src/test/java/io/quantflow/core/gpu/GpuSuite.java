package io.quantflow.core.gpu;

import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TagFilter;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

import java.io.PrintWriter;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectPackage;

/**
 * Runs the {@code @Tag("gpu")} tests on a machine with a GPU and no Maven, from the test jar:
 * {@code java -cp quantflow.jar:quantflow-core-tests.jar:lib/* io.quantflow.core.gpu.GpuSuite}.
 * Exits 0 only when tests ran and none failed.
 */
public final class GpuSuite {
    private GpuSuite() {
    }

    public static void main(String[] args) {
        GpuProbe probe = GpuBackend.probe();
        System.out.println("gpu probe: " + (probe.usable() ? probe.device() : "unusable: " + probe.reason()));
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
                .selectors(selectPackage("io.quantflow.core"))
                .filters(TagFilter.includeTags("gpu"))
                .build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener listener = new SummaryGeneratingListener();
        launcher.execute(request, listener);
        TestExecutionSummary s = listener.getSummary();
        PrintWriter out = new PrintWriter(System.out, true);
        s.printFailuresTo(out, 30);
        s.printTo(out);
        out.printf("%d passed, %d failed, %d skipped%n", s.getTestsSucceededCount(),
                s.getTestsFailedCount() + s.getContainersFailedCount(), s.getTestsSkippedCount() + s.getTestsAbortedCount());
        System.exit(s.getTestsFoundCount() > 0 && s.getTotalFailureCount() == 0 ? 0 : 1);
    }
}
