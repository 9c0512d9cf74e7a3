#!/usr/bin/env node
/**
 * `molmo` — the command-line face of the Molmo runtime in models/.
 *
 * It is a debugging and scripting tool: every subcommand is a thin wrapper that parses
 * arguments, calls one function of models/, and prints or writes the result. Errors are
 * printed as one line on stderr and turned into a non-zero exit code; stdout carries only
 * the command's output so that it can be piped (e.g. `molmo points … | jq`).
 */
import { runAsk } from "./commands/ask";
import { runExport } from "./commands/export";
import { runPreprocess } from "./commands/preprocess";
import { runPoints } from "./commands/points";
import { CliUsageError } from "./usage";
import { version } from "./version";

const USAGE = `Usage: molmo <command> [options]

Commands:
  ask <image> "<question>" --model <bundle> [--task ask|point|count|caption|clock] [--ep auto]
      [--max-new-tokens N] [--temperature T --top-k K --top-p P --seed S] [--json] [--annotate out.png]
      Answer a question about an image with an exported Molmo bundle: the answer streams to stdout,
      then the points in pixels. --json prints one JSON object; --annotate draws the points.
  export <hf-checkpoint-dir> <bundle-dir> [--dtype fp32|fp16|q4|q8] [...]
      Export a Hugging Face Molmo checkpoint to an ONNX bundle (runs python3 -m molmo_onnx.export;
      needs PyTorch and onnx). \`molmo export --help\` lists the exporter's options.
  preprocess <image> --out <dir> [--max-crops N] [--model <bundle>] [--max-pixels N]
      Turn an image into Molmo's vision inputs and write them as numpy .npy files:
      crops.npy, image_masks.npy, image_input_idx.npy, tokens.npy, meta.json.
  points "<text>" --size WxH
      Parse the <point>/<points> tags of a Molmo answer; print them as JSON in pixels.

Options:
  -h, --help       show this help
  -v, --version    print the version
`;

/** A subcommand; it may return its exit code (a forwarded child's, or 130 when cancelled), 0 otherwise. */
type Command = (args: string[]) => Promise<void | number>;

const COMMANDS: Record<string, Command> = {
  ask: runAsk,
  export: runExport,
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
    const code = await command(rest);
    return typeof code === "number" ? code : 0;
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
