package io.quantflow.cli;

import io.quantflow.core.convert.Manifest;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.quality.LayerQuality;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

@Command(name = "report", mixinStandardHelpOptions = true, versionProvider = QuantflowCommand.Version.class, description = {"Shows what quantization cost a converted model, layer by layer.",
        "A table here, and a heat map of the error per layer and module as a PNG and a self-contained HTML page."})
final class ReportCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "OUTPUT_DIR", description = "A 4-bit output of quantflow convert (it holds quantflow-manifest.json).")
    Path dir;

    @Option(names = "--html", paramLabel = "FILE", description = "Where to write the HTML page (default: <OUTPUT_DIR name>-report.html here).")
    Path html;

    @Option(names = "--png", paramLabel = "FILE", description = "Where to write the heat map (default: <OUTPUT_DIR name>-report.png here).")
    Path png;

    @Mixin
    CommonOptions common;

    @Override
    public Integer call() throws IOException {
        Manifest m = read(dir);
        QualityView view = QualityView.of(m);
        String name = dir.toAbsolutePath().normalize().getFileName().toString();
        Path htmlFile = html != null ? html : Path.of(name + "-report.html");
        Path pngFile = png != null ? png : Path.of(name + "-report.png");
        PrintStream out = System.out;
        printTable(out, view);
        byte[] image = QualityChart.png(view);
        write(pngFile, image);
        write(htmlFile, QualityHtml.of(view, name, image).getBytes(StandardCharsets.UTF_8));
        out.printf(Locale.ROOT, "%nwrote %s (heat map) and %s%n", pngFile, htmlFile);
        return 0;
    }

    static Manifest read(Path dir) {
        Path file = dir.resolve(Manifest.FILE_NAME);
        if (!Files.isRegularFile(file)) {
            String hint = "";
            try (Stream<Path> s = Files.isDirectory(dir) ? Files.list(dir) : Stream.empty()) {
                hint = s.filter(p -> Files.isRegularFile(p.resolve(Manifest.FILE_NAME))).map(p -> p.getFileName().toString())
                        .sorted().reduce((a, b) -> a + ", " + b).map(x -> " (the outputs are in its subdirectories: " + x + ")").orElse("");
            } catch (IOException ignored) {
                // the hint is optional
            }
            throw QuantflowException.of(Reason.NOT_AN_OUTPUT, dir + " holds no " + Manifest.FILE_NAME
                    + ": not an output of quantflow convert" + hint);
        }
        Manifest m;
        try {
            m = Manifest.read(file);
        } catch (IOException e) {
            throw QuantflowException.of(Reason.MANIFEST_UNREADABLE, "cannot read " + file + ": " + e.getMessage(), e);
        }
        if (m.quality() == null || m.quality().tensors().isEmpty()) {
            throw QuantflowException.of(Reason.NO_QUALITY_RECORD, file + " records no quantization error: the report is for 4-bit outputs"
                    + " (bnb-4bit, merged-4bit) converted by this version");
        }
        return m;
    }

    static void printTable(PrintStream out, QualityView view) {
        out.println(view.memoryLine() + ", " + view.bitsLine());
        out.println(view.errorLine());
        if (view.dynamicLine() != null) {
            out.println(view.dynamicLine());
        }
        out.println();
        out.println("layer   modules 4-bit/16-bit  mean rel.err  max rel.err  bits/param  kept in 16 bit");
        for (LayerQuality l : view.layerRows()) {
            out.printf(Locale.ROOT, "%-6s  %7d / %-6d  %12.4f  %11.4f  %10.2f  %s%n", QualityView.layerName(l.layer()),
                    l.quantizedModules(), l.keptModules(), l.meanRelativeRms(), l.maxRelativeRms(), l.bitsPerParameter(),
                    String.join(", ", view.kept(l.layer())));
        }
    }

    private static void write(Path file, byte[] bytes) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.write(file, bytes);
    }
}
