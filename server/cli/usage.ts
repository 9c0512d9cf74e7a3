import { parseArgs, type ParseArgsConfig } from "node:util";

/** A mistake in how a command was called (exit code 2), as opposed to a failure while running it. */
export class CliUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CliUsageError";
  }
}

/** Parses a positive integer option, rejecting anything else with a message naming the option. */
export function parsePositiveInt(value: string, option: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new CliUsageError(`${option} expects a positive integer, got '${value}'`);
  }
  return Number(value);
}

/** Parses `WxH` (e.g. `1920x1080`) into a size, rejecting zero or malformed sizes. */
export function parseSize(value: string, option: string): { width: number; height: number } {
  const match = /^(\d+)[xX](\d+)$/.exec(value.trim());
  if (match === null || Number(match[1]) < 1 || Number(match[2]) < 1) {
    throw new CliUsageError(`${option} expects WIDTHxHEIGHT in pixels (e.g. 1920x1080), got '${value}'`);
  }
  return { width: Number(match[1]), height: Number(match[2]) };
}

type OptionSpecs = NonNullable<ParseArgsConfig["options"]>;

/**
 * `util.parseArgs` for a subcommand (positionals allowed, unknown options refused), turning its
 * errors into usage errors so they exit with code 2 and name the bad option.
 */
export function parseCommandArgs<const T extends OptionSpecs>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true });
  } catch (error) {
    throw new CliUsageError(error instanceof Error ? error.message : String(error));
  }
}
