package io.quantflow.cli;

import io.quantflow.core.quality.TensorQuality;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.AxisLocation;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.axis.SymbolAxis;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.PaintScale;
import org.jfree.chart.renderer.xy.XYBlockRenderer;
import org.jfree.chart.title.PaintScaleLegend;
import org.jfree.chart.title.TextTitle;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.chart.ui.RectangleInsets;
import org.jfree.data.xy.DefaultXYZDataset;

import java.awt.Color;
import java.awt.Font;
import java.awt.Paint;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.util.List;
import java.util.Locale;

/**
 * The heat map of a 4-bit output: one cell per layer and module, coloured by the weight's relative
 * RMS error (light yellow to dark red, see {@link #scale}), weights kept in 16 bit in blue; the sizes and bits per parameter as subtitles. Drawn with JFreeChart, headless.
 */
final class QualityChart {
    /** Cells of weights kept in 16 bit. */
    static final Color KEPT = new Color(0x2F, 0x6D, 0xB5);
    /** The error scale, least to most. */
    static final Color[] SCALE = {new Color(0xFF, 0xF3, 0xB0), new Color(0xF4, 0x9A, 0x2C), new Color(0xB0, 0x10, 0x26)};

    private QualityChart() {
    }

    static byte[] png(QualityView view) throws IOException {
        System.setProperty("java.awt.headless", "true");
        JFreeChart chart = chart(view);
        int width = Math.max(760, 200 + 110 * view.modules().size());
        int height = Math.min(2400, Math.max(480, 260 + 26 * view.layers().size()));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ChartUtils.writeChartAsPNG(out, chart, width, height);
        return out.toByteArray();
    }

    static JFreeChart chart(QualityView view) {
        List<String> modules = view.modules();
        List<Integer> layers = view.layers();
        int cells = modules.size() * layers.size();
        double[] xs = new double[cells];
        double[] ys = new double[cells];
        double[] zs = new double[cells];
        int k = 0;
        for (int li = 0; li < layers.size(); li++) {
            for (int mi = 0; mi < modules.size(); mi++) {
                TensorQuality t = view.cell(layers.get(li), modules.get(mi));
                xs[k] = mi;
                ys[k] = li;
                zs[k] = t == null ? Double.NaN : t.quantized() ? t.relativeRms() : -1;
                k++;
            }
        }
        ErrorScale scale = scale(view);
        double min = scale.lower();
        double max = scale.upper();
        DefaultXYZDataset data = new DefaultXYZDataset();
        data.addSeries("relative RMS error", new double[][] {xs, ys, zs});

        SymbolAxis x = new SymbolAxis("module", modules.toArray(String[]::new));
        x.setTickLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        x.setGridBandsVisible(false);
        String[] layerNames = layers.stream().map(l -> l < 0 ? "other" : "layer " + l).toArray(String[]::new);
        SymbolAxis y = new SymbolAxis("layer", layerNames);
        y.setInverted(true);
        y.setGridBandsVisible(false);
        XYBlockRenderer renderer = new XYBlockRenderer();
        renderer.setPaintScale(scale);
        renderer.setBlockWidth(0.94);
        renderer.setBlockHeight(0.9);
        XYPlot plot = new XYPlot(data, x, y, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinesVisible(false);
        plot.setRangeGridlinesVisible(false);
        plot.setAxisOffset(new RectangleInsets(4, 4, 4, 4));

        JFreeChart chart = new JFreeChart("4-bit error per layer and module", new Font(Font.SANS_SERIF, Font.BOLD, 18), plot, false);
        chart.setBackgroundPaint(Color.WHITE);
        Font sub = new Font(Font.SANS_SERIF, Font.PLAIN, 13);
        chart.addSubtitle(new TextTitle(view.memoryLine() + ",  " + view.bitsLine(), sub));
        chart.addSubtitle(new TextTitle(view.errorLine()
                + (view.quality().tensors().stream().anyMatch(t -> !t.quantized()) ? ";  blue: kept in 16 bit" : ""), sub));
        NumberAxis legendAxis = new NumberAxis("relative RMS error");
        legendAxis.setRange(min, max);
        legendAxis.setNumberFormatOverride(new DecimalFormat("0.000", DecimalFormatSymbols.getInstance(Locale.ROOT)));
        legendAxis.setTickUnit(new NumberTickUnit(niceStep((max - min) / 6)));
        PaintScaleLegend legend = new PaintScaleLegend(scale, legendAxis);
        legend.setPosition(RectangleEdge.RIGHT);
        legend.setAxisLocation(AxisLocation.TOP_OR_RIGHT);
        legend.setMargin(new RectangleInsets(10, 10, 10, 10));
        legend.setStripWidth(18);
        legend.setBackgroundPaint(Color.WHITE);
        chart.addSubtitle(legend);
        return chart;
    }

    /**
     * The colour scale of a view: from 0.9x the median error of the 4-bit weights to their largest
     * error, and at least to 1.1x the median, so that a typical weight is light and one that 4 bits
     * hurt more stands out, while equal errors never look different.
     */
    static ErrorScale scale(QualityView view) {
        double[] errors = view.quality().tensors().stream().filter(TensorQuality::quantized)
                .mapToDouble(TensorQuality::relativeRms).sorted().toArray();
        if (errors.length == 0) {
            return new ErrorScale(0, 1);
        }
        double median = errors[(errors.length - 1) / 2];
        double max = errors[errors.length - 1];
        double lower = 0.9 * median;
        double upper = Math.max(max, 1.1 * median);
        return upper > lower ? new ErrorScale(lower, upper) : new ErrorScale(0, 1);
    }

    /** 1, 2 or 5 times a power of ten, at least {@code raw}. */
    static double niceStep(double raw) {
        double p = Math.pow(10, Math.floor(Math.log10(raw)));
        for (double m : new double[] {1, 2, 5, 10}) {
            if (m * p >= raw) {
                return m * p;
            }
        }
        return 10 * p;
    }

    /** Light yellow -> orange -> dark red over [lower, upper]; below 0 (kept in 16 bit): blue; no weight: white. */
    record ErrorScale(double lower, double upper) implements PaintScale {
        @Override
        public double getLowerBound() {
            return lower;
        }

        @Override
        public double getUpperBound() {
            return upper;
        }

        @Override
        public Paint getPaint(double value) {
            if (Double.isNaN(value)) {
                return Color.WHITE;
            }
            if (value < 0) {
                return KEPT;
            }
            double f = Math.max(0, Math.min(1, (value - lower) / (upper - lower))) * (SCALE.length - 1);
            int i = Math.min(SCALE.length - 2, (int) f);
            double t = f - i;
            Color a = SCALE[i];
            Color b = SCALE[i + 1];
            return new Color(mix(a.getRed(), b.getRed(), t), mix(a.getGreen(), b.getGreen(), t), mix(a.getBlue(), b.getBlue(), t));
        }

        private static int mix(int a, int b, double t) {
            return (int) Math.round(a + (b - a) * t);
        }
    }
}
