package io.quantflow.cli;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The HTML report opened in a real browser: headless Chromium takes a screenshot, and the
 * screenshot must show the page (not blank) with the heat map's colours. Chromium comes from Debian
 * (.ci/run installs it through scripts/install-chromium.sh); where it is missing this test says so
 * and is skipped, and {@link ReportTest} still checks the page and the picture without a browser.
 * {@code QUANTFLOW_CHROMIUM} names the browser to use (one that is not an executable file: none).
 */
class ReportBrowserTest {
    @TempDir
    Path tmp;

    static Path chromium() {
        String env = System.getenv("QUANTFLOW_CHROMIUM");
        if (env != null && !env.isBlank()) {
            return Files.isExecutable(Path.of(env)) ? Path.of(env) : null;
        }
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator)) {
            for (String name : List.of("chromium", "chromium-browser", "google-chrome")) {
                Path p = Path.of(dir, name);
                if (Files.isExecutable(p)) {
                    return p;
                }
            }
        }
        return null;
    }

    @Test
    void headlessChromiumShowsTheReportWithItsHeatMap() throws Exception {
        Path browser = chromium();
        Assumptions.assumeTrue(browser != null, "chromium is not installed (install it with scripts/install-chromium.sh,"
                + " as .ci/run does): SKIPPING the browser check of the HTML report; ReportTest checks the page without a browser");
        Path out = ReportTest.dynamicOutput(tmp);
        Path html = tmp.resolve("report.html");
        CliTest.Run r = CliTest.run("report", out.toString(), "--html", html.toString(), "--png", tmp.resolve("report.png").toString());
        assertEquals(0, r.exit(), r.err());

        Path shot = tmp.resolve("screenshot.png");
        List<String> cmd = new ArrayList<>(List.of(browser.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir=" + tmp.resolve("profile"),
                "--window-size=1280,1400", "--screenshot=" + shot, html.toUri().toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("chromium.log").toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("chromium did not finish in 120 s; log: " + Files.readString(tmp.resolve("chromium.log")));
        }
        assertTrue(Files.isRegularFile(shot), "no screenshot; chromium exited " + p.exitValue() + ": "
                + Files.readString(tmp.resolve("chromium.log")));
        BufferedImage image = ImageIO.read(shot.toFile());
        assertNotNull(image, "the screenshot decodes");
        assertEquals(1280, image.getWidth());

        // not blank: many colours and a good share of non-white pixels
        Set<Integer> colours = new HashSet<>();
        int nonWhite = 0;
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                int rgb = image.getRGB(x, y) & 0xFFFFFF;
                colours.add(rgb);
                if (rgb != 0xFFFFFF) {
                    nonWhite++;
                }
            }
        }
        assertTrue(colours.size() > 50, colours.size() + " colours");
        assertTrue(nonWhite > image.getWidth() * image.getHeight() / 10, nonWhite + " non-white pixels");
        // the heat map as the browser drew it: blue cells of the kept weights, light cells of the others
        assertTrue(ReportTest.countNear(image, QualityChart.KEPT, 16) > 3 * 800, "the 16-bit cells' blue");
        assertTrue(ReportTest.countNear(image, ReportTest.typical(out), 24) > 20 * 800, "the colour of typical 4-bit weights' cells");
    }
}
