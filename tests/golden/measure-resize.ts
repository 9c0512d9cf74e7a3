/**
 * Measures how far each resize option is from the reference's resize (torchvision bilinear with
 * antialias on float32), on the outputs written by tests/golden/resize_reference.py:
 *
 *     /usr/bin/python3 tests/golden/resize_reference.py --molmo-repo /tmp/molmo-ref --out /tmp/resize-ref
 *     npx tsc -p . && node dist/tests/golden/measure-resize.js /tmp/resize-ref
 *
 * Options measured: sharp's resize with every kernel, on 8-bit input/output (`u8`) and on float input
 * and output (`float`: sharp tags raw float input as 16-bit RGB, so values are scaled to 0..65535 and
 * `toColourspace("rgb16")` keeps them there; without that the output is all zeros), then this
 * project's two backends. Errors are in normalised units (difference / CLIP std of the channel),
 * grouped by the reduction factor. Prints a Markdown table (the one in models/preprocess/NOTES.md).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { resizeToUnitFloat } from "../../models/preprocess/resize";
import { OPENAI_CLIP_STD } from "../../models/preprocess/config";

interface Job {
  name: string;
  src: string;
  height: number;
  width: number;
  out: string;
  out_height: number;
  out_width: number;
}

type Resizer = (src: Uint8Array, job: Job) => Promise<Float32Array>;

const KERNELS = ["nearest", "linear", "cubic", "mitchell", "lanczos2", "lanczos3", "mks2013", "mks2021"] as const;

function sharpResizer(kernel: (typeof KERNELS)[number], depth: "u8" | "float"): Resizer {
  return async (src, job) => {
    const raw = { width: job.width, height: job.height, channels: 3 as const };
    const size = { width: job.out_width, height: job.out_height, kernel, fit: "fill" as const };
    if (depth === "u8") {
      const out = await sharp(src, { raw }).resize(size).raw().toBuffer();
      return Float32Array.from(out, (v) => v / 255);
    }
    const input = Float32Array.from(src, (v) => v * 257);
    const out = await sharp(input, { raw }).resize(size).toColourspace("rgb16").raw({ depth: "float" }).toBuffer();
    const values = new Float32Array(out.buffer, out.byteOffset, out.length / 4);
    return Float32Array.from(values, (v) => Math.min(1, Math.max(0, v / 65535)));
  };
}

const GROUPS = ["shrink >= 4x", "shrink 1-4x", "enlarge or ~1x"] as const;
type Group = (typeof GROUPS)[number];

function groupOf(job: Job): Group {
  const factor = Math.min(job.height / job.out_height, job.width / job.out_width);
  if (factor >= 4) return "shrink >= 4x";
  if (factor > 1.01) return "shrink 1-4x";
  return "enlarge or ~1x";
}

function fmt(value: number): string {
  return value === 0 ? "0" : value < 1e-3 ? value.toExponential(1) : value.toFixed(4);
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (dir === undefined) throw new Error("usage: node dist/tests/golden/measure-resize.js <dir from resize_reference.py>");
  const jobs = JSON.parse(readFileSync(join(dir, "jobs.json"), "utf8")) as Job[];
  const methods: Array<[string, Resizer]> = [];
  for (const depth of ["u8", "float"] as const) {
    for (const kernel of KERNELS) methods.push([`sharp ${kernel} ${depth}`, sharpResizer(kernel, depth)]);
  }
  methods.push(["backend sharp (linear u8 + exact border/enlarge)", (src, job) =>
    resizeToUnitFloat({ width: job.width, height: job.height, data: src }, job.out_height, job.out_width, "sharp")]);
  methods.push(["backend exact (TS port)", (src, job) =>
    resizeToUnitFloat({ width: job.width, height: job.height, data: src }, job.out_height, job.out_width, "exact")]);

  const stats = new Map<string, Record<Group, { max: number; sum: number; n: number }>>();
  for (const [name] of methods) {
    stats.set(name, Object.fromEntries(GROUPS.map((g) => [g, { max: 0, sum: 0, n: 0 }])) as Record<Group, { max: number; sum: number; n: number }>);
  }
  for (const job of jobs) {
    const src = new Uint8Array(readFileSync(join(dir, job.src)));
    const refBytes = readFileSync(join(dir, job.out));
    const ref = new Float32Array(refBytes.buffer, refBytes.byteOffset, refBytes.length / 4);
    for (const [name, resize] of methods) {
      const out = await resize(src, job);
      const s = stats.get(name)![groupOf(job)];
      let jobMax = 0;
      let jobSum = 0;
      for (let i = 0; i < out.length; i++) {
        const d = Math.abs(out[i] - ref[i]) / OPENAI_CLIP_STD[i % 3];
        if (d > jobMax) jobMax = d;
        jobSum += d;
      }
      s.max = Math.max(s.max, jobMax);
      s.sum += jobSum / out.length;
      s.n += 1;
    }
    process.stderr.write(`measured ${job.name}\n`);
  }
  console.log(`| option | ${GROUPS.map((g) => `${g}: max / mean`).join(" | ")} |`);
  console.log(`|---|${GROUPS.map(() => "---").join("|")}|`);
  for (const [name] of methods) {
    const row = stats.get(name)!;
    const cells = GROUPS.map((g) => (row[g].n === 0 ? "-" : `${fmt(row[g].max)} / ${fmt(row[g].sum / row[g].n)}`));
    console.log(`| ${name} | ${cells.join(" | ")} |`);
  }
  console.log(`\njobs per group: ${GROUPS.map((g) => `${g} ${stats.get(methods[0][0])![g].n}`).join(", ")}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exitCode = 1;
});
