package io.quantflow.cli;

import picocli.CommandLine.Option;

/** Options every command takes. */
final class CommonOptions {
    @Option(names = "--debug", description = "Show the stack trace of a failure.")
    boolean debug;
}
