package io.quantflow.fetcher;

import io.quantflow.core.pipeline.events.Stage;
import io.quantflow.core.pipeline.stage.FetchStage;
import io.quantflow.core.pipeline.stage.StageMetrics;
import io.quantflow.core.pipeline.stage.WorkStore;
import io.quantflow.core.source.HubSettings;
import io.quantflow.core.source.SourceResolver;
import io.quantflow.edge.KafkaBus;
import io.quantflow.edge.Redelivery;
import io.smallrye.common.annotation.Blocking;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.reactive.messaging.Incoming;

/**
 * conversion-requested -> core's {@link FetchStage}. A record that is not a quantflow event throws,
 * so the connector sends it to conversion-requested-dlq and goes on.
 */
@ApplicationScoped
public class RequestConsumer {

    @Inject
    WorkStore store;

    @Inject
    KafkaBus bus;

    @Inject
    StageMetrics metrics;

    private FetchStage stage;

    @PostConstruct
    void init() {
        stage = new FetchStage(store, cache -> new SourceResolver(cache, HubSettings.from(null, System.getenv(), 4), () -> store.s3().settings()),
                metrics);
    }

    @Incoming("work")
    @Blocking
    public void consume(String value) {
        Redelivery.run(Stage.FETCH, () -> stage.handle(value, bus));
    }
}
