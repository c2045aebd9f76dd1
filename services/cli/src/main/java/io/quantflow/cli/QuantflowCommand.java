package io.quantflow.cli;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.Map;

/**
 * {@code quantflow}: converts Hugging Face checkpoints into the artifacts people deploy, in one
 * process. Exit codes: 0 done, 2 usage error, 3 conversion error ({@code error: CODE: message}).
 */
@Command(name = "quantflow",
        mixinStandardHelpOptions = true,
        versionProvider = QuantflowCommand.Version.class,
        description = "Turns safetensors checkpoints into the artifacts people deploy, on this machine or through the pipeline.",
        subcommands = {ConvertCommand.class, SubmitCommand.class, InspectCommand.class, ReportCommand.class, SynthCommand.class, DemoCommand.class,
                CommandLine.HelpCommand.class, AutoComplete.GenerateCompletion.class})
public final class QuantflowCommand implements Runnable {
    public static final int EXIT_USAGE = 2;
    public static final int EXIT_FAILURE = 3;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private final Map<String, String> environment;

    public QuantflowCommand() {
        this(System.getenv());
    }

    QuantflowCommand(Map<String, String> environment) {
        this.environment = Map.copyOf(environment);
    }

    /** The environment the command reads its settings from (the process's own, or one a test gives). */
    Map<String, String> environment() {
        return environment;
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command: convert, submit, inspect, report, synth or demo");
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line; never throws, returns the exit code. */
    public static int execute(String... args) {
        return execute(System.getenv(), args);
    }

    /** Runs the command line with the given environment variables in place of the process's. */
    public static int execute(Map<String, String> env, String... args) {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true"); // the report draws its chart without a display
        }
        CommandLine cl = new CommandLine(new QuantflowCommand(env));
        // picocli's completion script generator: `source <(quantflow generate-completion)` in bash or zsh
        cl.getSubcommands().get("generate-completion").getCommandSpec().versionProvider(new Version());
        cl.setExecutionExceptionHandler(QuantflowCommand::handle);
        cl.setParameterExceptionHandler(QuantflowCommand::usageError);
        return cl.execute(args);
    }

    private static int handle(Exception e, CommandLine cl, CommandLine.ParseResult parsed) {
        PrintWriter err = cl.getErr();
        boolean debug = parsed.hasMatchedOption("--debug") || parsed.subcommands().stream().anyMatch(s -> s.hasMatchedOption("--debug"))
                || (parsed.subcommand() != null && parsed.subcommand().hasMatchedOption("--debug"));
        QuantflowException q = asQuantflow(e);
        err.println("error: " + q.oneLine());
        if (debug) {
            e.printStackTrace(err);
        }
        err.flush();
        return EXIT_FAILURE;
    }

    /** A usage mistake: one line saying what is wrong and where the help is; exit 2. */
    private static int usageError(CommandLine.ParameterException e, String[] args) {
        CommandLine cl = e.getCommandLine();
        PrintWriter err = cl.getErr();
        err.println("error: " + e.getMessage());
        err.println("see '" + cl.getCommandSpec().qualifiedName() + " --help'");
        err.flush();
        return EXIT_USAGE;
    }

    static QuantflowException asQuantflow(Throwable e) {
        if (e instanceof QuantflowException q) {
            return q;
        }
        if (e instanceof OutOfMemoryError) {
            return QuantflowException.of(Reason.HEAP_EXHAUSTED,
                    "the JVM ran out of heap; raise it with QUANTFLOW_JAVA_OPTS=-Xmx<size>", e);
        }
        return QuantflowException.of(Reason.UNEXPECTED, e.getClass().getSimpleName()
                + (e.getMessage() == null ? "" : ": " + e.getMessage()) + " (run with --debug for details)", e);
    }

    /** The version from the jar's manifest, or "dev" in a build tree. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = QuantflowCommand.class.getPackage().getImplementationVersion();
            return new String[] {"quantflow " + (v == null ? "dev" : v)};
        }
    }
}
