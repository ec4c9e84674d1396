"""fp32 CPU linears in oneDNN's blocked layout, for the HF engine's decode.

MKL, which `nn.Linear` calls on x86, is fastest for one row (decoding) and for many (prefill), but
for 2 to 16 rows it repacks the whole weight on every call: checking a 5-token draft cost 3x a
one-token forward on the 2-core EPYC we measured, against 1.9x packed once here, with one row as
fast as MKL's and prefill within a few percent.

Packing copies each weight. The weights of a converted model are memory-mapped from its
safetensors file, and pages of that file once read stay counted in the process's resident memory
while the file is mapped (the embeddings keep it mapped), so packing alone would double the
resident size (12 GB for the default model). After each layer is packed, its old weight's file
pages are handed back to the kernel (`madvise(MADV_DONTNEED)`, file-backed ranges only: reading
them again would fault them back in from the file, so nothing can be lost).
"""

from __future__ import annotations

import ctypes
import mmap
import sys

import torch


class PackedLinear(torch.nn.Module):
    """An fp32 `nn.Linear` whose weight is held in oneDNN's blocked layout: the same weights and
    fp32 arithmetic, through the kernel inductor uses for packed linears."""

    def __init__(self, linear: torch.nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight = linear.weight.detach()
        self.packed = torch.ops.mkldnn._reorder_linear_weight(weight, _PACK_ROWS)
        self.bias = None if linear.bias is None else linear.bias.detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.ops.mkldnn._linear_pointwise(
            x.reshape(-1, self.in_features).contiguous(), self.packed, self.bias, "none", [], ""
        )
        return y.view(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


_PACK_ROWS = 8  # the row count oneDNN picks its blocking for: drafts are checked 2 to 11 rows at a time


def pack_linears(model: torch.nn.Module) -> int:
    """Replace the fp32 CPU `nn.Linear` layers of `model` by `PackedLinear`, in place; how many.

    Layers whose weight is shared (tied embeddings) stay, and so does everything when this torch
    lacks the oneDNN ops or a packed layer does not match `nn.Linear` on a random input."""
    try:
        if not torch.backends.mkldnn.is_available():
            return 0
        torch.ops.mkldnn._reorder_linear_weight, torch.ops.mkldnn._linear_pointwise  # noqa: B018
    except (AttributeError, RuntimeError):
        return 0
    uses: dict[int, int] = {}
    for _, parameter in model.named_parameters(remove_duplicate=False):
        uses[id(parameter)] = uses.get(id(parameter), 0) + 1
    layers = [
        (parent, name, child)
        for parent in model.modules()
        for name, child in parent.named_children()
        if type(child) is torch.nn.Linear and child.weight.dtype == torch.float32
        and child.weight.device.type == "cpu" and uses[id(child.weight)] == 1
    ]
    generator = torch.Generator().manual_seed(0)
    checked: set[tuple[int, ...]] = set()
    with torch.inference_mode():
        for _, _, linear in layers:  # one layer of each shape, before any is replaced
            if (shape := tuple(linear.weight.shape)) in checked:
                continue
            x = torch.randn(3, linear.in_features, generator=generator)
            try:
                packed = PackedLinear(linear)(x)
            except RuntimeError:
                return 0
            if not torch.allclose(packed, torch.nn.functional.linear(x, linear.weight, linear.bias),
                                  rtol=1e-4, atol=1e-4):
                return 0
            checked.add(shape)
        mapped = _file_mappings()
        for parent, name, linear in layers:
            setattr(parent, name, PackedLinear(linear))
            release_file_pages(linear.weight, mapped)
    return len(layers)


def _file_mappings() -> list[tuple[int, int]]:
    """The address ranges of this process that map a file (from /proc/self/maps; none elsewhere)."""
    try:
        with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
            lines = maps.read().splitlines()
    except OSError:
        return []
    ranges = []
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5].startswith("/"):  # a path: file-backed (not [heap], anon)
            start, end = (int(x, 16) for x in fields[0].split("-"))
            ranges.append((start, end))
    return ranges


def release_file_pages(tensor: torch.Tensor, mapped: list[tuple[int, int]] | None = None) -> int:
    """Drop the resident pages under `tensor` when they map a file; how many bytes.

    Only whole pages inside the tensor and inside one file mapping are dropped, so anonymous memory
    (which MADV_DONTNEED would zero) and neighbouring data are never touched; the tensor still reads
    the same values afterwards, faulted back in from the file."""
    if not sys.platform.startswith("linux") or tensor.device.type != "cpu" or not tensor.is_contiguous():
        return 0
    mapped = _file_mappings() if mapped is None else mapped
    page = mmap.PAGESIZE
    start = -(-tensor.data_ptr() // page) * page
    end = (tensor.data_ptr() + tensor.numel() * tensor.element_size()) // page * page
    if end <= start or not any(lo <= start and end <= hi for lo, hi in mapped):
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    if libc.madvise(start, end - start, 4) != 0:  # MADV_DONTNEED
        return 0
    return end - start
