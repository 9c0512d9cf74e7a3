"""Runs exported graphs with onnxruntime-node (through ort_runner.js) and returns numpy arrays.

Debian ships no Python onnxruntime, but the repository's node_modules has onnxruntime-node, which
is also what the product runs, so the parity tests go through it. `available()` says whether node
and the package are there; tests that need them skip otherwise.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

RUNNER = Path(__file__).resolve().parent / "ort_runner.js"
REPO_ROOT = Path(__file__).resolve().parents[3]

Feed = Union[np.ndarray, Tuple[int, str]]  # an array, or (earlier run index, output name)


def available() -> Optional[str]:
    """None when onnxruntime-node can run here, else the reason it cannot."""
    if shutil.which("node") is None:
        return "node is not on PATH"
    if not (REPO_ROOT / "node_modules" / "onnxruntime-node").is_dir():
        return "node_modules/onnxruntime-node is missing (run npm ci)"
    return None


class Run:
    """One session.run: a model, its feeds, and the outputs to bring back."""

    def __init__(self, model: "str | Path", feeds: Mapping[str, Feed], fetch: Sequence[str]):
        self.model, self.feeds, self.fetch = str(model), dict(feeds), list(fetch)


def run_graphs(runs: Sequence[Run], timeout: float = 120.0) -> List[Dict[str, np.ndarray]]:
    """Executes `runs` in order in one node process; returns each run's fetched outputs."""
    with tempfile.TemporaryDirectory(prefix="ort-node-") as tmp:
        work = Path(tmp)
        job = []
        for i, run in enumerate(runs):
            feeds = {}
            for name, value in run.feeds.items():
                if isinstance(value, tuple):
                    feeds[name] = {"from": [value[0], value[1]]}
                else:
                    file = work / f"in_{i}_{len(feeds)}.npy"
                    np.save(file, np.require(value, requirements="C"))  # keeps 0-d arrays 0-d
                    feeds[name] = str(file)
            save = {name: str(work / f"out_{i}_{j}.npy") for j, name in enumerate(run.fetch)}
            job.append({"model": run.model, "feeds": feeds, "save": save})
        job_file = work / "job.json"
        job_file.write_text(json.dumps({"runs": job}), encoding="utf-8")
        done = subprocess.run(["node", str(RUNNER), str(job_file)], capture_output=True, text=True,
                              timeout=timeout, cwd=REPO_ROOT)
        if done.returncode != 0:
            raise RuntimeError(f"onnxruntime-node failed:\n{done.stderr.strip()}")
        return [{name: np.load(path) for name, path in run["save"].items()} for run in job]
