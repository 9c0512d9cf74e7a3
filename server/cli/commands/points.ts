/** `molmo points "<text>" --size WxH`: parse a Molmo answer's point tags and print them as JSON. */
import { parsePoints } from "../../../models/points/parse";
import { CliUsageError, parseCommandArgs, parseSize } from "../usage";

export function runPoints(args: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, { size: { type: "string", short: "s" } });
  if (positionals.length !== 1) {
    throw new CliUsageError('expects the answer text as one argument (quote it): molmo points "<text>" --size WxH');
  }
  if (values.size === undefined) {
    throw new CliUsageError("--size WxH is required: points are percentages of the image size");
  }
  const size = parseSize(values.size, "--size");
  const result = parsePoints(positionals[0], size);
  process.stdout.write(`${JSON.stringify({ image_size: size, ...result }, null, 2)}\n`);
  return Promise.resolve();
}
