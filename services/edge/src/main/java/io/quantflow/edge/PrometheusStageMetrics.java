package io.quantflow.edge;

import io.micrometer.core.instrument.MeterRegistry;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.pipeline.events.Stage;
import io.quantflow.core.pipeline.stage.StageMetrics;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.util.concurrent.TimeUnit;

/**
 * The stages' counters as Prometheus meters ({@code /q/metrics}): items and bytes per stage, time
 * per item, answers by outcome and code, duplicates, reused ids and items skipped because their
 * request was already answered. Kafka consumer lag comes from the Kafka client's own meters.
 */
@ApplicationScoped
public class PrometheusStageMetrics implements StageMetrics {

    @Inject
    MeterRegistry registry;

    @Override
    public void planned(int items) {
        registry.counter("quantflow.requests.planned").increment();
        registry.counter("quantflow.items.planned").increment(items);
    }

    @Override
    public void item(Stage stage, long bytesIn, long bytesOut, long millis) {
        registry.counter("quantflow.items", "stage", stage.wire()).increment();
        registry.counter("quantflow.item.bytes.in", "stage", stage.wire()).increment(bytesIn);
        registry.counter("quantflow.item.bytes.out", "stage", stage.wire()).increment(bytesOut);
        registry.timer("quantflow.item.duration", "stage", stage.wire()).record(millis, TimeUnit.MILLISECONDS);
    }

    @Override
    public void completed(long millis) {
        registry.counter("quantflow.answers", "outcome", "completed", "code", "").increment();
        registry.timer("quantflow.conversion.duration").record(millis, TimeUnit.MILLISECONDS);
    }

    @Override
    public void failed(Stage stage, ErrorCode code) {
        registry.counter("quantflow.answers", "outcome", "failed", "code", code.name()).increment();
        registry.counter("quantflow.failures", "stage", stage.wire(), "code", code.name()).increment();
    }

    @Override
    public void duplicate() {
        registry.counter("quantflow.duplicates").increment();
    }

    @Override
    public void reusedId() {
        registry.counter("quantflow.reused.request.ids").increment();
    }

    @Override
    public void skipped(Stage stage) {
        registry.counter("quantflow.items.skipped", "stage", stage.wire()).increment();
    }
}
