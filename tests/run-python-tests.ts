/**
 * Runs the Python tests of models/python (model, checkpoint loading, ONNX export) with Debian's
 * python3, which is where python3-torch and python3-onnx are installed; a pyenv or other python3
 * earlier on PATH usually lacks them. A missing torch is an error, not a skip: CI installs it.
 */
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "./helpers/repo-root";

const root = repoRoot();
const python = process.env["MOLMO_PYTHON"] ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
const probe = spawnSync(python, ["-c", "import torch, onnx, numpy"], { encoding: "utf8" });
if (probe.status !== 0) {
  process.stderr.write(
    `${python} cannot import torch, onnx and numpy:\n${probe.stderr}\n` +
      "Install them with: apt-get install -y python3-torch python3-onnx python3-numpy (or set MOLMO_PYTHON).\n",
  );
  process.exit(1);
}
const run = spawnSync(python, ["-m", "unittest", "discover", "-s", join(root, "models", "python", "tests")], {
  stdio: "inherit",
  cwd: root,
});
process.exit(run.status ?? 1);
