package io.quantflow.core.pipeline.events;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/**
 * The pipeline's stages: the name events give each ({@code stage} of progress and failed answers, a
 * work item's itinerary and keys, the manifest's timings; schemas/common.schema.json#/$defs/stage),
 * the service that runs it, and the topic that service consumes: the work topics quantflow-merge,
 * quantflow-quantize and quantflow-publish are the stages' own.
 */
public enum Stage {
    /** Checks the request, stages the source, plans the work items. */
    FETCH("fetch", "fetcher", Topics.REQUESTED),
    MERGE("merge", "merger", "quantflow-merge"),
    QUANTIZE("quantize", "quantizer", "quantflow-quantize"),
    /** Assembles the artifact at the target and answers. */
    PUBLISH("publish", "publisher", "quantflow-publish");

    private final String wire;
    private final String service;
    private final String topic;

    Stage(String wire, String service, String topic) {
        this.wire = wire;
        this.service = service;
        this.topic = topic;
    }

    /** The stage's name in events and object keys: fetch, merge, quantize, publish. */
    @JsonValue
    public String wire() {
        return wire;
    }

    /** The service that runs the stage: fetcher, merger, quantizer, publisher. */
    public String service() {
        return service;
    }

    /** The topic the stage's service consumes: conversion-requested for fetch, the stage's work topic for the others. */
    public String topic() {
        return topic;
    }

    /** The CloudEvents {@code source} of the events the stage sends. */
    public String eventSource() {
        return "/quantflow/" + service;
    }

    /** The stage of a wire name. */
    @JsonCreator
    public static Stage of(String wire) {
        for (Stage s : values()) {
            if (s.wire.equals(wire)) {
                return s;
            }
        }
        throw new IllegalArgumentException("no stage " + wire + " (fetch, merge, quantize or publish)");
    }

    /** The wire name, so that logs and messages read as the events do. */
    @Override
    public String toString() {
        return wire;
    }
}
