"""int8 weight-only quantization of the hybrid model, one linear at a time as weights load.

Every `nn.Linear` becomes optimum-quanto's `QLinear` with qint8 weights (per-output-row absmax
scale), experts included: in our model each expert's w1/w2/w3 is its own `nn.Linear`, which is
why the published recipe's int8 reaches the experts here while transformers' fused 3-D expert
parameters stay bf16 (docs/runtime.md, int8 weights). Kept unquantized, as in that recipe:
`lm_head`, `embed_tokens`, every `block_sparse_moe.gate` (and `coefficient` where a checkpoint
has one), and the norms (not linears).
"""

from __future__ import annotations

from torch import nn

KEEP_UNQUANTIZED = ("lm_head", "embed_tokens", "block_sparse_moe.gate", "coefficient")


def should_quantize(module_name: str) -> bool:
    return not any(module_name == k or module_name.endswith("." + k) for k in KEEP_UNQUANTIZED)


_int8_linear_cls = None


def int8_linear_class():
    """quanto's `QLinear` with a fused int8 path for decode-sized inputs (int8_matmul.py): the
    same module and weights, quantized by quanto; only small-batch matmuls change route."""
    global _int8_linear_cls
    if _int8_linear_cls is None:
        from optimum.quanto import QLinear  # lazy: only int8 runs need it

        from minimax_cli.engine.hybrid.int8_matmul import MAX_ROWS, int8_matmul

        class Int8Linear(QLinear):
            def forward(self, x):
                rows = x.numel() // x.shape[-1]
                if x.is_cuda and rows <= MAX_ROWS and self.bias is None and self.frozen:
                    w = self.weight
                    y = int8_matmul(x.reshape(rows, -1), w._data, w._scale.view(-1))
                    return y.view(*x.shape[:-1], -1)
                return super().forward(x)

        _int8_linear_cls = Int8Linear
    return _int8_linear_cls


def quantize_linear(linear: nn.Linear) -> nn.Module:
    """The linear with int8 weights, frozen: its bf16/fp32 weight is released."""
    from optimum.quanto import qint8

    qlinear = int8_linear_class().from_module(linear, weights=qint8)
    qlinear.freeze()
    return qlinear


def is_quantized(module: nn.Module) -> bool:
    weight = getattr(module, "weight", None)
    return weight is not None and type(weight).__name__ == "WeightQBytesTensor"


def module_bytes(module: nn.Module) -> int:
    """Bytes of a module's parameters and buffers as stored (int8 data plus scales when quantized)."""
    total = 0
    for tensor in list(module.parameters()) + list(module.buffers()):
        data = getattr(tensor, "_data", None)
        if data is not None:  # a quanto QTensor: int8 data + scale
            total += data.numel() * data.element_size()
            scale = tensor._scale
            total += scale.numel() * scale.element_size()
        else:
            total += tensor.numel() * tensor.element_size()
    return total
