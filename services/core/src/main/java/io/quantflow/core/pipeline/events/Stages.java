package io.quantflow.core.pipeline.events;

/** The pipeline's stages, as the events name them. */
public final class Stages {
    public static final String FETCH = "fetch";
    public static final String MERGE = "merge";
    public static final String QUANTIZE = "quantize";
    public static final String PUBLISH = "publish";

    private Stages() {
    }
}
