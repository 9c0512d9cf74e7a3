"""Running (and so tracing) the float16 model on a CPU whose PyTorch lacks float16 kernels.

PyTorch 1.13 on the CPU (Debian's, used in CI) has no float16 kernel for matmul/linear, sigmoid,
silu, gelu, relu or clamp. A float16 export has to run the model once to trace it, so inside
`float16_cpu_kernels()` those functions are replaced, for float16 CPU tensors only, by versions
that compute in float32 and round the result to float16, and whose ONNX form is the plain op
(`MatMul`, `Sigmoid`, ...) on float16 tensors. The traced graph is therefore exactly what the
model code says in float16 (including its own float32 regions, the `.float()` casts of RMSNorm,
LayerNorm, RoPE and the attention softmax), and the numbers PyTorch computes meanwhile are the
usual float16 semantics: float32 accumulation, one rounding per op, as on a GPU.

Everything else (float32 tensors, other devices, integer clamps) goes to the original functions.
"""

from __future__ import annotations

import contextlib
import math
from typing import Callable, Iterator, Optional

import torch
import torch.nn.functional as F


def _is_cpu_half(*tensors: Optional[torch.Tensor]) -> bool:
    return any(isinstance(t, torch.Tensor) and t.dtype == torch.float16 and t.device.type == "cpu"
               for t in tensors)


def _half_constant(g, value: float):
    return g.op("Constant", value_t=torch.tensor(value, dtype=torch.float16))


class _MatMul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return torch.matmul(a.float(), b.float()).half()

    @staticmethod
    def symbolic(g, a, b):  # noqa: D102
        return g.op("MatMul", a, b)


class _Linear(torch.autograd.Function):
    """y = x W^T (+ b): MatMul with the transposed weight, as PyTorch exports nn.Linear itself."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return F.linear(x.float(), weight.float()).half()

    @staticmethod
    def symbolic(g, x, weight):  # noqa: D102
        return g.op("MatMul", x, g.op("Transpose", weight, perm_i=[1, 0]))


class _Unary(torch.autograd.Function):
    """Elementwise activations; `kind` picks the math and its ONNX form."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, kind: str) -> torch.Tensor:  # noqa: D102
        x32 = x.float()
        if kind == "sigmoid":
            y = torch.sigmoid(x32)
        elif kind == "silu":
            y = x32 * torch.sigmoid(x32)
        elif kind == "gelu":
            y = F.gelu(x32)
        elif kind == "gelu_tanh":
            y = F.gelu(x32, approximate="tanh")
        elif kind == "relu":
            y = torch.relu(x32)
        else:
            raise ValueError(f"unknown activation {kind!r}")
        return y.half()

    @staticmethod
    def symbolic(g, x, kind: str):  # noqa: D102
        if kind == "sigmoid":
            return g.op("Sigmoid", x)
        if kind == "silu":
            return g.op("Mul", x, g.op("Sigmoid", x))
        if kind == "relu":
            return g.op("Relu", x)
        half = g.op("Mul", x, _half_constant(g, 0.5))
        if kind == "gelu":  # 0.5 x (1 + erf(x / sqrt 2))
            inner = g.op("Erf", g.op("Div", x, _half_constant(g, math.sqrt(2.0))))
        else:  # 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
            cube = g.op("Mul", x, g.op("Mul", x, x))
            poly = g.op("Add", x, g.op("Mul", cube, _half_constant(g, 0.044715)))
            inner = g.op("Tanh", g.op("Mul", poly, _half_constant(g, math.sqrt(2.0 / math.pi))))
        return g.op("Mul", half, g.op("Add", inner, _half_constant(g, 1.0)))


class _Clamp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, low: float, high: float) -> torch.Tensor:  # noqa: D102
        return x.float().clamp(min=low, max=high).half()

    @staticmethod
    def symbolic(g, x, low: float, high: float):  # noqa: D102
        return g.op("Clip", x, _half_constant(g, low), _half_constant(g, high))


@contextlib.contextmanager
def float16_cpu_kernels() -> Iterator[None]:
    """Within the block, float16 CPU tensors get the substitutes above; restores the originals after.

    Not thread-safe (it swaps module attributes), which is fine for a one-shot export or a test.
    """
    originals = {
        "matmul": torch.matmul,
        "linear": F.linear,
        "sigmoid": torch.sigmoid,
        "silu": F.silu,
        "gelu": F.gelu,
        "relu": F.relu,
        "clamp": torch.Tensor.clamp,
    }

    def matmul(a, b, *args, **kwargs):
        if _is_cpu_half(a, b) and not args and not kwargs:
            return _MatMul.apply(a, b)
        return originals["matmul"](a, b, *args, **kwargs)

    def linear(x, weight, bias=None):
        if _is_cpu_half(x, weight):
            y = _Linear.apply(x, weight)
            return y if bias is None else y + bias
        return originals["linear"](x, weight, bias)

    def unary(name: str, kind: str) -> Callable:
        def substitute(x, *args, **kwargs):
            if name == "gelu" and kwargs.get("approximate", "none") == "tanh":
                chosen = "gelu_tanh"
            else:
                chosen = kind
            if _is_cpu_half(x) and not args and set(kwargs) <= {"approximate", "inplace"} \
                    and not kwargs.get("inplace", False):
                return _Unary.apply(x, chosen)
            return originals[name](x, *args, **kwargs)
        return substitute

    def clamp(self, min=None, max=None):  # noqa: A002 - the Tensor.clamp signature
        if _is_cpu_half(self) and isinstance(min, (int, float)) and isinstance(max, (int, float)):
            return _Clamp.apply(self, float(min), float(max))
        return originals["clamp"](self, min=min, max=max)

    torch.matmul = matmul
    F.linear = linear
    torch.sigmoid = unary("sigmoid", "sigmoid")
    F.silu = unary("silu", "silu")
    F.gelu = unary("gelu", "gelu")
    F.relu = unary("relu", "relu")
    torch.Tensor.clamp = clamp
    try:
        yield
    finally:
        torch.matmul = originals["matmul"]
        F.linear = originals["linear"]
        torch.sigmoid = originals["sigmoid"]
        F.silu = originals["silu"]
        F.gelu = originals["gelu"]
        F.relu = originals["relu"]
        torch.Tensor.clamp = originals["clamp"]
