package io.quantflow.core.pipeline.events;

/** One object in the store. */
public record ObjectRef(String bucket, String key) {
    public String uri() {
        return "s3://" + bucket + "/" + key;
    }
}
