package io.quantflow.edge;

import io.quantflow.core.pipeline.stage.WorkStore;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Ready only while the work bucket answers (Kafka's own readiness check comes with the messaging extension). */
@Readiness
@ApplicationScoped
public class WorkStoreReadiness implements HealthCheck {

    @Inject
    WorkStore store;

    @Override
    public HealthCheckResponse call() {
        try {
            store.objects().listTop("work/.ready");
            return HealthCheckResponse.named("work-bucket").up().withData("bucket", store.bucket()).build();
        } catch (RuntimeException e) {
            return HealthCheckResponse.named("work-bucket").down().withData("bucket", store.bucket())
                    .withData("error", String.valueOf(e.getMessage())).build();
        }
    }
}
