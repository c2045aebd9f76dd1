package io.quantflow.quantizer;

import io.quantflow.core.pipeline.events.Stage;
import io.quantflow.core.pipeline.stage.ShardStage;
import io.quantflow.core.pipeline.stage.StageMetrics;
import io.quantflow.core.pipeline.stage.WorkStore;
import io.quantflow.edge.ConversionThreads;
import io.quantflow.edge.KafkaBus;
import io.quantflow.edge.Redelivery;
import io.smallrye.common.annotation.Blocking;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.reactive.messaging.Incoming;

/** The quantize work topic -> core's {@link ShardStage}, one shard at a time on a worker thread. */
@ApplicationScoped
public class WorkConsumer {

    @Inject
    WorkStore store;

    @Inject
    KafkaBus bus;

    @Inject
    StageMetrics metrics;

    @Inject
    ConversionThreads threads;

    private ShardStage stage;

    @PostConstruct
    void init() {
        stage = new ShardStage(Stage.QUANTIZE, store, threads.pool(), metrics);
    }

    @Incoming("work")
    @Blocking
    public void consume(String value) {
        Redelivery.run(Stage.QUANTIZE, () -> stage.handle(value, bus));
    }
}
