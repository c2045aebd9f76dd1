package io.quantflow.core.testing;

import io.quantflow.core.source.HubSettings;
import io.quantflow.core.source.ModelLocation;
import io.quantflow.core.target.HubPublishOptions;
import io.quantflow.core.target.HubTarget;
import io.quantflow.core.target.IfExists;
import io.quantflow.core.target.Targets;
import io.quantflow.core.target.UploadListener;

import java.nio.file.Path;
import java.util.Locale;

/**
 * Publishes a directory to a Hub with {@link HubTarget}, as {@code convert --out hf://...} does after converting,
 * and prints the commit and the seconds it took (whoami, repo creation, hashing, uploads, the commit): the quantflow
 * side of bench/hub-publish. {@code HubPublishMain DIR hf://org/name [FILES_AT_ONCE [PARTS_AT_ONCE]]}; HF_ENDPOINT and HF_TOKEN from the
 * environment.
 */
public final class HubPublishMain {
    private HubPublishMain() {
    }

    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        int parallel = args.length > 2 ? Integer.parseInt(args[2]) : 4;
        int partsAtOnce = args.length > 3 ? Integer.parseInt(args[3]) : 1;
        HubSettings settings = HubSettings.from(null, System.getenv(), parallel);
        long t0 = System.nanoTime();
        try (HubTarget t = new HubTarget(settings, (ModelLocation.Hub) ModelLocation.parse(args[1]), IfExists.FAIL,
                HubPublishOptions.DEFAULTS.withPartsAtOnce(partsAtOnce), UploadListener.NONE)) {
            t.check();
            t.stage();
            Targets.publish(t, dir, java.util.Map.of(), parallel);
            System.out.println(t.published().commit());
        }
        System.err.printf(Locale.ROOT, "seconds %.3f%n", (System.nanoTime() - t0) / 1e9);
    }
}
