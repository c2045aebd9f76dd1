package io.quantflow.core.quality;

import io.quantflow.core.quant.ErrorSums;

/** What quantizing one weight cost: its error sums and its absmax outliers. */
public record MeasuredTensor(ErrorSums error, AbsmaxOutliers.Result outliers) {
}
