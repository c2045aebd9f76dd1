package io.quantflow.cli;

import io.quantflow.core.quality.LayerQuality;
import io.quantflow.core.quality.TensorQuality;

import java.util.Base64;
import java.util.Locale;

/**
 * The report as one self-contained HTML file: inline CSS, the heat map embedded as a base64 PNG data
 * URI, no script and no reference to anything outside the file.
 */
final class QualityHtml {
    private QualityHtml() {
    }

    static String of(QualityView view, String title, byte[] png) {
        StringBuilder h = new StringBuilder(16_384 + png.length * 4 / 3);
        h.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>quantflow report: ")
                .append(esc(title)).append("</title>\n<style>\n")
                .append("body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;color:#222;}\n")
                .append("h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:28px 0 8px}\n")
                .append("ul.facts{padding-left:18px;line-height:1.6}\n")
                .append("img.heatmap{max-width:100%;border:1px solid #ddd}\n")
                .append("table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}\n")
                .append("th{background:#f2f2f2}td.name{text-align:left;font-family:DejaVu Sans Mono,monospace}\n")
                .append("td.kept{color:#2f6db5;font-weight:bold}p.note{font-size:12px;color:#555}\n")
                .append("</style>\n</head>\n<body>\n");
        h.append("<h1>4-bit quality report</h1>\n<p>").append(esc(title)).append(" (").append(esc(view.manifest().format()))
                .append(", ").append(esc(view.quantLabel())).append(", blocksize ").append(view.manifest().options().blocksize())
                .append(")<br>source: ").append(esc(view.manifest().source().path())).append("</p>\n<ul class=\"facts\">\n");
        h.append("<li>").append(esc(view.memoryLine())).append("</li>\n");
        h.append("<li>").append(esc(view.bitsLine())).append("</li>\n");
        h.append("<li>").append(esc(view.errorLine())).append("</li>\n");
        if (view.dynamicLine() != null) {
            h.append("<li>").append(esc(view.dynamicLine())).append("</li>\n");
        }
        h.append("</ul>\n<img class=\"heatmap\" alt=\"heat map of the relative RMS error per layer and module\" src=\"data:image/png;base64,")
                .append(Base64.getEncoder().encodeToString(png)).append("\">\n");

        h.append("<h2>Per layer</h2>\n<table>\n<tr><th>layer</th><th>4-bit weights</th><th>16-bit weights</th>"
                + "<th>mean rel. error</th><th>max rel. error</th><th>bits/param</th><th>parameters</th><th>kept in 16 bit</th></tr>\n");
        for (LayerQuality l : view.layerRows()) {
            h.append(String.format(Locale.ROOT, "<tr><td>%s</td><td>%d</td><td%s>%d</td><td>%.4f</td><td>%.4f</td><td>%.2f</td><td>%s</td>"
                            + "<td class=\"name\">%s</td></tr>%n",
                    QualityView.layerName(l.layer()), l.quantizedModules(), l.keptModules() > 0 ? " class=\"kept\"" : "",
                    l.keptModules(), l.meanRelativeRms(), l.maxRelativeRms(), l.bitsPerParameter(), Numbers.count(l.parameters()),
                    esc(String.join(", ", view.kept(l.layer())))));
        }
        h.append("</table>\n");

        h.append("<h2>Weights by 4-bit error, worst first</h2>\n<table>\n<tr><th>weight</th><th>stored as</th>"
                + "<th>rel. RMS error (4-bit)</th><th>max abs error</th><th>outlier blocks</th><th>parameters</th></tr>\n");
        for (TensorQuality t : view.worst(40)) {
            Double e = t.fourBitError();
            h.append(String.format(Locale.ROOT, "<tr><td class=\"name\">%s</td><td%s>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>%n",
                    esc(t.name()), t.quantized() ? "" : " class=\"kept\"", esc(t.storedAs()),
                    e == null ? "-" : String.format(Locale.ROOT, "%.4f", e),
                    t.quantized() ? String.format(Locale.ROOT, "%.3g", t.maxAbsError()) : "-",
                    t.quantized() ? String.format(Locale.ROOT, "%.1f%%", 100 * t.outlierBlockShare()) : "-",
                    Numbers.count(t.parameters())));
        }
        h.append("</table>\n<p class=\"note\">").append(esc(view.quality().errorDefinition()))
                .append(". An outlier block has an absmax above ").append(String.format(Locale.ROOT, "%.0f", view.quality().outlierFactor()))
                .append("x the weight's median absmax. Bits/param: output bytes x 8 / source parameters.</p>\n</body>\n</html>\n");
        return h.toString();
    }

    static String esc(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }
}
