package io.quantflow.edge;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/**
 * The settings every service reads, from the environment (docs/deploy.md): QUANTFLOW_WORK_BUCKET,
 * QUANTFLOW_WORK_DIR and QUANTFLOW_WORK_THREADS, or the properties quantflow.work.bucket, .dir and .threads.
 */
@ConfigMapping(prefix = "quantflow.work")
public interface EdgeConfig {
    /** The bucket that holds every request's intermediate objects and records. */
    @WithDefault("quantflow-work")
    String bucket();

    /** Local scratch space: a stage downloads the shard it works on here (size it for the largest shard, twice). */
    @WithDefault("${java.io.tmpdir}/quantflow-work")
    String dir();

    /** Conversion threads of a merge or quantize stage ({@link ConversionThreads}); 0 means one per available processor. */
    @WithDefault("0")
    int threads();
}
