"""Typed errors for everything a user can get wrong: files, configs, checkpoints.

Programming invariants inside the model use `assert` with a message (nanoGPT style); anything
that comes from outside (a config.json, a safetensors file, a checkpoint folder) raises one of
these, each with a stable `code` so callers (the exporter CLI, the TypeScript side that runs it)
can tell failures apart without parsing messages.
"""


class MolmoError(Exception):
    """Base class: a message for people plus a machine-readable `code`."""

    def __init__(self, code: str, message: str):
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message


class ConfigError(MolmoError):
    """config.json (or its vision_config section) is missing, malformed or unsupported."""


class SafetensorsError(MolmoError):
    """A .safetensors file is truncated, corrupt, or uses a dtype this reader does not know."""


class CheckpointError(MolmoError):
    """A checkpoint folder is incomplete, or its tensors do not match the architecture."""
