"""The exporter's own error type (the model's are in errors.py)."""

from .errors import MolmoError


class ExportError(MolmoError):
    """An export that cannot be done: a bad option, an existing bundle, a graph that fails its checks.

    Codes: bad_option, unsupported_dtype, checkpoint_missing, bundle_exists, bad_input (an unreadable
    JSON file), config_mismatch (preprocessor config or token ids that do not fit the model),
    tokenizer_missing, weights_too_large, export_failed (torch.onnx.export raised), check_failed.
    """
