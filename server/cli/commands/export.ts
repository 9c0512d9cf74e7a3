/**
 * `molmo export <hf-checkpoint-dir> <bundle-dir> [--dtype fp32|fp16|q4|q8] [...]`: runs the Python
 * exporter (models/python, `python3 -m molmo_onnx.export`) that turns a Hugging Face Molmo checkpoint into
 * the ONNX bundle `molmo ask` loads. Every argument is passed on unchanged; the exporter's output and exit
 * code are the command's own.
 *
 * The interpreter is $MOLMO_PYTHON when set, else /usr/bin/python3 where it exists (Debian's, with
 * python3-torch and python3-onnx), else `python3` from the PATH. Missing Python or missing packages are
 * reported before the exporter starts, with what to install.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

/** Python packages the exporter imports. */
const REQUIRED_MODULES = ["torch", "onnx", "numpy"] as const;
/** Debian/Ubuntu packages that provide them. */
const DEBIAN_PACKAGES: Readonly<Record<(typeof REQUIRED_MODULES)[number], string>> = {
  torch: "python3-torch",
  onnx: "python3-onnx",
  numpy: "python3-numpy",
};

export async function runExport(args: string[]): Promise<number> {
  const python = pythonInterpreter();
  const pythonPath = join(packageRoot(), "models", "python");
  const env = { ...process.env, PYTHONPATH: [pythonPath, process.env.PYTHONPATH].filter((p) => p !== undefined && p !== "").join(":") };
  checkPython(python, env);
  return new Promise<number>((resolvePromise, reject) => {
    const child = spawn(python, ["-m", "molmo_onnx.export", ...args], { env, stdio: "inherit" });
    // Ctrl-C reaches the exporter too (same process group); it removes its staging folder and exits.
    const ignoreSigint = () => undefined;
    process.on("SIGINT", ignoreSigint);
    child.on("error", (error) => {
      process.removeListener("SIGINT", ignoreSigint);
      reject(new Error(`could not start ${python}: ${error.message}`));
    });
    child.on("close", (code, signal) => {
      process.removeListener("SIGINT", ignoreSigint);
      resolvePromise(code ?? (signal === "SIGINT" ? 130 : 1));
    });
  });
}

/** $MOLMO_PYTHON, else Debian's /usr/bin/python3, else python3 from the PATH. */
function pythonInterpreter(): string {
  const chosen = process.env.MOLMO_PYTHON;
  if (chosen !== undefined && chosen !== "") {
    return chosen;
  }
  return existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

/** Fails with an actionable message when Python or one of the exporter's packages is missing. */
function checkPython(python: string, env: NodeJS.ProcessEnv): void {
  // find_spec looks the modules up without importing them (importing torch takes seconds).
  const probe = spawnSync(
    python,
    ["-c", `import importlib.util as u; print(",".join(m for m in ${JSON.stringify(REQUIRED_MODULES)} if u.find_spec(m) is None))`],
    { env, encoding: "utf8", timeout: 30_000 },
  );
  if (probe.error !== undefined) {
    const reason = (probe.error as NodeJS.ErrnoException).code === "ENOENT" ? "it was not found" : probe.error.message;
    throw new Error(
      `the exporter needs Python 3 with PyTorch and onnx, but ${python} cannot be run (${reason}). ` +
        `Install them (Debian/Ubuntu: apt-get install python3 ${Object.values(DEBIAN_PACKAGES).join(" ")}) or point MOLMO_PYTHON at a Python that has them.`,
    );
  }
  if (probe.status !== 0) {
    throw new Error(`${python} failed to start (exit ${String(probe.status)}): ${probe.stderr.trim()}`);
  }
  const missing = probe.stdout.trim().split(",").filter((m) => m !== "") as (typeof REQUIRED_MODULES)[number][];
  if (missing.length > 0) {
    throw new Error(
      `the exporter needs the Python package${missing.length > 1 ? "s" : ""} ${missing.join(", ")}, which ${python} lacks. ` +
        `Install ${missing.length > 1 ? "them" : "it"} (Debian/Ubuntu: apt-get install ${missing.map((m) => DEBIAN_PACKAGES[m]).join(" ")}) ` +
        "or point MOLMO_PYTHON at a Python that has them.",
    );
  }
}

/** The package root (the folder with package.json), from the compiled file's place under dist/. */
function packageRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`cannot find the molmo package root above ${__dirname}`);
    }
    dir = parent;
  }
  return dir;
}
