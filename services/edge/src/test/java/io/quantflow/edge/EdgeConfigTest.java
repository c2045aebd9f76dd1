package io.quantflow.edge;

import io.smallrye.config.EnvConfigSource;
import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfig;
import io.smallrye.config.SmallRyeConfigBuilder;
import org.eclipse.microprofile.config.spi.ConfigSource;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The settings every service reads, as SmallRye Config maps them: their defaults, the environment
 * variables docs/deploy.md, k8s/ and docker-compose.yml name (QUANTFLOW_WORK_*), and the conversion
 * threads they make.
 */
class EdgeConfigTest {

    /** The mapping over {@code sources}, on a machine whose temporary directory is /tmp/x. */
    private static EdgeConfig config(ConfigSource... sources) {
        SmallRyeConfig c = new SmallRyeConfigBuilder().addDefaultInterceptors().withMapping(EdgeConfig.class).withSources(sources)
                .withSources(new PropertiesConfigSource(Map.of("java.io.tmpdir", "/tmp/x"), "system", 400)).build();
        return c.getConfigMapping(EdgeConfig.class);
    }

    @Test
    void withNothingSetTheWorkBucketIsQuantflowWorkInTheTemporaryDirectoryWithOneThreadPerProcessor() {
        EdgeConfig c = config();
        assertEquals("quantflow-work", c.bucket());
        assertEquals("/tmp/x/quantflow-work", c.dir());
        assertEquals(0, c.threads());
    }

    @Test
    void theEnvironmentSetsEachOfThem() {
        EdgeConfig c = config(new EnvConfigSource(Map.of("QUANTFLOW_WORK_BUCKET", "work", "QUANTFLOW_WORK_DIR", "/scratch",
                "QUANTFLOW_WORK_THREADS", "3"), 300));
        assertEquals("work", c.bucket());
        assertEquals("/scratch", c.dir());
        assertEquals(3, c.threads());
    }

    @Test
    void theThreadsAreQuantflowWorkThreadsNotQuantflowThreads() {
        assertEquals(0, config(new EnvConfigSource(Map.of("QUANTFLOW_THREADS", "3"), 300)).threads());
        assertEquals(5, config(new PropertiesConfigSource(Map.of("quantflow.work.threads", "5"), "application.properties", 250)).threads());
    }

    @Test
    void theConfiguredThreadsElseOnePerProcessor() {
        assertEquals(3, ConversionThreads.count(3, 16));
        assertEquals(16, ConversionThreads.count(0, 16));
        assertEquals(16, ConversionThreads.count(-1, 16));
    }

    @Test
    void conversionThreadsAreDaemonWorkers() throws Exception {
        ConversionThreads threads = ConversionThreads.start(2);
        try {
            Future<Thread> t = threads.pool().submit(Thread::currentThread);
            Thread worker = t.get(10, TimeUnit.SECONDS);
            assertEquals("quantflow-worker", worker.getName());
            assertTrue(worker.isDaemon());
        } finally {
            threads.pool().shutdownNow();
        }
    }
}
