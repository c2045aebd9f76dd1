package io.quantflow.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every command answers --help and --version as people type them, and says what it does in a sentence. */
class CommandHelpTest {

    private static Map<String, CommandLine> commands() {
        Map<String, CommandLine> subs = new CommandLine(new QuantflowCommand()).getSubcommands();
        assertTrue(subs.keySet().containsAll(java.util.List.of("convert", "submit", "inspect", "report", "synth", "demo")), subs.keySet().toString());
        return subs;
    }

    @Test
    void everyCommandPrintsItsHelpAndExitsZero() {
        for (String name : commands().keySet()) {
            if (name.equals("help")) {
                continue;
            }
            CliTest.Run r = CliTest.run(name, "--help");
            assertEquals(0, r.exit(), name + " --help: " + r.err());
            assertTrue(r.out().startsWith("Usage: quantflow " + name), name + " --help printed: " + r.out());
            assertEquals("", r.err(), name + " --help wrote to stderr");
            CliTest.Run v = CliTest.run(name, "--version");
            assertEquals(0, v.exit(), name + " --version: " + v.err());
            assertTrue(v.out().startsWith("quantflow "), v.out());
        }
    }

    @Test
    void everyCommandsFirstDescriptionLineIsAWholeSentence() {
        for (Map.Entry<String, CommandLine> e : commands().entrySet()) {
            // the line the command list shows: the header where there is one (picocli's help command), else the description
            CommandLine.Model.UsageMessageSpec usage = e.getValue().getCommandSpec().usageMessage();
            String[] description = usage.header().length > 0 ? usage.header() : usage.description();
            assertFalse(description.length == 0, e.getKey() + " has no description");
            String first = description[0].strip();
            assertTrue(Character.isUpperCase(first.charAt(0)) && first.endsWith("."), e.getKey() + ": '" + first + "'");
        }
    }

    @Test
    void theTopLevelCommandAnswersVersionAndHelp() {
        CliTest.Run v = CliTest.run("--version");
        assertEquals(0, v.exit());
        assertTrue(v.out().matches("quantflow \\S+\\R?"), v.out());
        CliTest.Run h = CliTest.run("--help");
        assertEquals(0, h.exit());
        assertTrue(h.out().contains("convert") && h.out().contains("submit"), h.out());
    }
}
