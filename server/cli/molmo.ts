#!/usr/bin/env node
/**
 * `molmo` — the command-line face of the Molmo runtime in models/.
 *
 * It is a debugging and scripting tool: every subcommand is a thin wrapper that parses
 * arguments, calls one function of models/, and prints or writes the result. Errors are
 * printed as one line on stderr and turned into a non-zero exit code; stdout carries only
 * the command's output so that it can be piped (e.g. `molmo points … | jq`).
 */
import { runPreprocess } from "./commands/preprocess";
import { runPoints } from "./commands/points";
import { CliUsageError } from "./usage";
import { version } from "./version";

const USAGE = `Usage: molmo <command> [options]

Commands:
  preprocess <image> --out <dir> [--max-crops N] [--model <bundle>] [--max-pixels N]
      Turn an image into Molmo's vision inputs and write them as numpy .npy files:
      crops.npy, image_masks.npy, image_input_idx.npy, tokens.npy, meta.json.
  points "<text>" --size WxH
      Parse the <point>/<points> tags of a Molmo answer; print them as JSON in pixels.

Options:
  -h, --help       show this help
  -v, --version    print the version
`;

type Command = (args: string[]) => Promise<void>;

const COMMANDS: Record<string, Command> = {
  preprocess: runPreprocess,
  points: runPoints,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  if (name === "-v" || name === "--version") {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`molmo: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  try {
    await command(rest);
    return 0;
  } catch (error) {
    if (error instanceof CliUsageError) {
      process.stderr.write(`molmo ${name}: ${error.message}\n`);
      return 2;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`molmo ${name}: ${message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`molmo: internal error: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
