package io.quantflow.core.pipeline.events;

/** Where the artifact goes ({@code s3://bucket/prefix}) and what to do when it already holds one. */
public record TargetRef(String uri, String ifExists) {
}
