package io.quantflow.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quantflow.core.convert.Manifest;
import io.quantflow.core.quality.DynamicSelection;
import io.quantflow.core.quality.TensorQuality;
import io.quantflow.core.synth.ModelShape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

import static io.quantflow.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code convert --dynamic} and {@code report} as a user runs them: on a synthetic byte-level Llama
 * with outlier columns planted in three weights, a 4.5 bits/param budget keeps exactly those three in
 * 16 bit; the report prints its table and writes a PNG heat map and a self-contained HTML page.
 */
class ReportTest {
    @TempDir
    Path tmp;

    /** Converts the planted model with --dynamic --max-bits-per-param 4.5 and checks the choice; returns the output. */
    static Path dynamicOutput(Path tmp) throws IOException {
        Path src = tmp.resolve("byte-llama");
        CliTest.Run s = run("synth", "--shape", "byte-llama", "--plant-outliers", "3", "--out", src.toString());
        assertEquals(0, s.exit(), s.err());
        List<String> planted = ModelShape.named("byte-llama").outlierTensors(3);
        for (String p : planted) {
            assertTrue(s.out().contains("outlier columns planted in " + p), s.out());
        }
        Path out = tmp.resolve("dyn");
        CliTest.Run c = run("convert", src.toString(), "--out", out.toString(), "--dynamic", "--max-bits-per-param", "4.5");
        assertEquals(0, c.exit(), c.err());
        assertTrue(c.out().contains("dynamic (budget 4.5 bits/param): 3 weights kept in 16 bit:"), c.out());

        Manifest m = Manifest.read(out.resolve(Manifest.FILE_NAME));
        DynamicSelection d = m.quality().dynamic();
        Set<String> modules = Set.copyOf(planted.stream().map(p -> p.substring(0, p.length() - ".weight".length())).toList());
        assertEquals(modules, Set.copyOf(d.keptModules()), "exactly the planted weights stay in 16 bit");
        for (String module : modules) {
            assertTrue(c.out().contains("    " + module + "  (4-bit error "), c.out());
        }
        long weightBytes = 0;
        try (Stream<Path> files = Files.list(out)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".safetensors")).toList()) {
                weightBytes += Files.size(f);
            }
        }
        assertEquals(weightBytes, m.output().weightBytes());
        assertTrue(weightBytes * 8.0 / m.source().parameters() <= 4.5, "within the budget: " + weightBytes * 8.0 / m.source().parameters());
        // the error of every linear weight is recorded: measured for the 4-bit ones, measured-before-keeping for the others
        assertEquals(84, m.quality().tensors().size());
        for (TensorQuality t : m.quality().tensors()) {
            assertNotNull(t.fourBitError(), t.name());
            assertTrue(t.fourBitError() > 0.05, t.toString());
            assertEquals(!modules.contains(t.name().replace(".weight", "")), t.quantized(), t.name());
        }
        JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        List<String> skip = new ArrayList<>();
        config.get("quantization_config").get("llm_int8_skip_modules").forEach(n -> skip.add(n.asText()));
        assertEquals(Set.copyOf(concat(modules, "lm_head")), Set.copyOf(skip));
        return out;
    }

    private static List<String> concat(Set<String> a, String b) {
        List<String> l = new ArrayList<>(a);
        l.add(b);
        return l;
    }

    @Test
    void dynamicKeepsThePlantedWeightsAndTheReportShowsIt() throws IOException {
        Path out = dynamicOutput(tmp);
        Path html = tmp.resolve("views/report.html");
        Path png = tmp.resolve("views/report.png");
        CliTest.Run r = run("report", out.toString(), "--html", html.toString(), "--png", png.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("75.9M params: 304 MB fp32 / 152 MB bf16 -> "), r.out());
        assertTrue(r.out().contains("per extra bit/param"), r.out());
        assertTrue(Pattern.compile("(?m)^2 +6 / 1 +0\\.\\d{4} +0\\.\\d{4} +5\\.\\d\\d  self_attn\\.o_proj$").matcher(r.out()).find(), r.out());
        assertTrue(Pattern.compile("(?m)^other +0 / 0 +0\\.0000 +0\\.0000 +16\\.00").matcher(r.out()).find(), r.out());

        BufferedImage image = ImageIO.read(png.toFile());
        assertNotNull(image, "the PNG decodes");
        assertTrue(image.getWidth() >= 700 && image.getHeight() >= 450, image.getWidth() + "x" + image.getHeight());
        assertTrue(countNear(image, QualityChart.KEPT, 8) > 3 * 1000, "three blue cells of 16-bit weights");
        assertTrue(countNear(image, typical(out), 12) > 20 * 1000, "the cells of typical 4-bit weights");

        String page = Files.readString(html, StandardCharsets.UTF_8);
        assertSelfContained(page);
        Matcher data = Pattern.compile("src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"").matcher(page);
        assertTrue(data.find());
        assertArrayEquals(Files.readAllBytes(png), Base64.getDecoder().decode(data.group(1)), "the page embeds the same PNG");
        assertTrue(page.contains("model.layers.6.self_attn.o_proj.weight"));
    }

    @Test
    void theDefaultViewsGoToTheWorkingDirectoryNamedAfterTheOutput() throws IOException {
        Path out = tmp.resolve("fixture-nf4");
        assertEquals(0, run("convert", CliTest.fixture("tiny-llama/base-bf16").toString(), "--out", out.toString()).exit());
        String cwd = System.getProperty("user.dir");
        Path html = Path.of(cwd, "fixture-nf4-report.html");
        Path png = Path.of(cwd, "fixture-nf4-report.png");
        try {
            CliTest.Run r = run("report", out.toString());
            assertEquals(0, r.exit(), r.err());
            assertTrue(r.out().contains("wrote fixture-nf4-report.png (heat map) and fixture-nf4-report.html"), r.out());
            assertNotNull(ImageIO.read(png.toFile()));
            assertSelfContained(Files.readString(html));
        } finally {
            Files.deleteIfExists(html);
            Files.deleteIfExists(png);
        }
    }

    @Test
    void reportRefusesWhatIsNotA4BitOutput() throws IOException {
        CliTest.Run none = run("report", tmp.toString());
        assertEquals(3, none.exit());
        assertTrue(none.err().startsWith("error: SOURCE_NOT_FOUND: "), none.err());
        Path merged = tmp.resolve("merged");
        assertEquals(0, run("convert", CliTest.fixture("tiny-llama/base-bf16").toString(), "--adapter",
                CliTest.fixture("tiny-llama/lora-adapter").toString(), "--format", "merged-16bit", "--out", merged.toString()).exit());
        CliTest.Run r = run("report", merged.toString());
        assertEquals(3, r.exit());
        assertTrue(r.err().startsWith("error: INVALID_REQUEST: ") && r.err().contains("4-bit outputs"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test
    void dynamicUsageAndBudgetErrors() {
        Path src = CliTest.fixture("tiny-llama/base-bf16");
        String out = tmp.resolve("x").toString();
        CliTest.Run noBudget = run("convert", src.toString(), "--out", out, "--dynamic");
        assertEquals(2, noBudget.exit());
        assertTrue(noBudget.err().contains("--dynamic needs one budget"), noBudget.err());
        CliTest.Run both = run("convert", src.toString(), "--out", out, "--dynamic", "--max-size", "100", "--max-bits-per-param", "5");
        assertEquals(2, both.exit());
        CliTest.Run noDynamic = run("convert", src.toString(), "--out", out, "--max-size", "100");
        assertEquals(2, noDynamic.exit());
        assertTrue(noDynamic.err().contains("add --dynamic"), noDynamic.err());
        CliTest.Run negative = run("convert", src.toString(), "--out", out, "--dynamic", "--max-bits-per-param", "-1");
        assertEquals(2, negative.exit());
        CliTest.Run tooSmall = run("convert", src.toString(), "--out", out, "--dynamic", "--max-bits-per-param", "4.5");
        assertEquals(3, tooSmall.exit());
        assertTrue(tooSmall.err().startsWith("error: INVALID_REQUEST: the budget 4.5 bits/param"), tooSmall.err());
        assertTrue(tooSmall.err().contains("smallest possible output") && tooSmall.err().contains("7.3"), tooSmall.err());
        assertFalse(Files.exists(tmp.resolve("x")));
    }

    static void assertSelfContained(String page) {
        assertTrue(page.startsWith("<!DOCTYPE html>"));
        assertTrue(page.contains("<style>"), "inline CSS");
        for (String ref : List.of("http:", "https:", "<script", "<link", "@import", "url(", "//")) {
            String rest = page.replaceAll("data:image/png;base64,[A-Za-z0-9+/=]+", "");
            assertFalse(rest.contains(ref), "the page refers to something outside it: " + ref);
        }
        Matcher src = Pattern.compile("src=\"([^\"]*)\"").matcher(page);
        while (src.find()) {
            assertTrue(src.group(1).startsWith("data:image/png;base64,"), src.group(1));
        }
    }

    /** The heat map colour of the median 4-bit weight of an output. */
    static Color typical(Path out) throws IOException {
        QualityView view = QualityView.of(Manifest.read(out.resolve(Manifest.FILE_NAME)));
        double[] e = view.quality().tensors().stream().filter(TensorQuality::quantized).mapToDouble(TensorQuality::relativeRms)
                .sorted().toArray();
        return (Color) QualityChart.scale(view).getPaint(e[(e.length - 1) / 2]);
    }

    /** Pixels within {@code tolerance} of {@code c} in every channel. */
    static int countNear(BufferedImage image, Color c, int tolerance) {
        int n = 0;
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                int rgb = image.getRGB(x, y);
                if (Math.abs((rgb >> 16 & 0xFF) - c.getRed()) <= tolerance && Math.abs((rgb >> 8 & 0xFF) - c.getGreen()) <= tolerance
                        && Math.abs((rgb & 0xFF) - c.getBlue()) <= tolerance) {
                    n++;
                }
            }
        }
        return n;
    }
}
