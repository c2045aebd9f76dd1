package io.quantflow.publisher;

import io.quantflow.core.pipeline.events.Stage;
import io.quantflow.core.pipeline.stage.PublishStage;
import io.quantflow.core.pipeline.stage.StageMetrics;
import io.quantflow.core.pipeline.stage.WorkStore;
import io.quantflow.edge.KafkaBus;
import io.quantflow.edge.Redelivery;
import io.smallrye.common.annotation.Blocking;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.reactive.messaging.Incoming;

/**
 * quantflow-publish -> core's {@link PublishStage}. Items are keyed by request id, so every shard of
 * a request reaches the same instance, in order.
 */
@ApplicationScoped
public class WorkConsumer {

    @Inject
    WorkStore store;

    @Inject
    KafkaBus bus;

    @Inject
    StageMetrics metrics;

    private PublishStage stage;

    @PostConstruct
    void init() {
        stage = new PublishStage(store, metrics);
    }

    @Incoming("work")
    @Blocking
    public void consume(String value) {
        Redelivery.run(Stage.PUBLISH, () -> stage.handle(value, bus));
    }
}
