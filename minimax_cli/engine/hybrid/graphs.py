"""Decode steps replayed as CUDA graphs.

A decode step at batch 1 launches some 80 kernels a layer; run eagerly, the host takes longer to
launch them than the GPU takes to run them (measured: 13.5 ms a step for 4.8 ms of GPU work on
the 8-layer real-width stack). A graph launches the whole step at once.

A step's shape is its `DecodeView` (slots.py): the rows it computes (the batch rounded up to a
bucket), the own-KV length it attends over, the slots' tensors and the prefixes' KV. A view is
made once per shape and kept, its graph with it; between steps only the numbers inside its
tensors change. The first step of a new shape runs eagerly (Triton tunes its kernels then, which
a capture must not do); the second is captured and every later one replayed. Only on one CUDA
device (a model split over GPUs runs its steps eagerly), and for steps whose rows read at most
`GRAPH_PREFIXES` shared prefixes (in a graph, a prefix's attention runs for every row).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable

import torch

from minimax_cli.engine.hybrid.slots import KEY_BLOCK, DecodeView, SlotCache

KEEP = 8  # step shapes kept (a view and a graph each); the oldest goes first
GRAPH_PREFIXES = 2  # shared prefixes a graphed step may read: each costs attention for every row


def decode_width(rows: int) -> int:
    """Rows a step computes for `rows` active ones: the next power of two, so a batch that grows
    and shrinks by a row at a time reuses a handful of graphs."""
    return 1 << max(rows - 1, 0).bit_length()


def graphs_wanted(devices: list[torch.device]) -> bool:
    """CUDA graphs for decode: one CUDA device, and not switched off by MINIMAX_CUDA_GRAPHS=0."""
    return (os.environ.get("MINIMAX_CUDA_GRAPHS", "1") != "0" and len(set(devices)) == 1
            and devices[0].type == "cuda")


class _Shape:
    def __init__(self, view: DecodeView):
        self.view = view
        self.graph: torch.cuda.CUDAGraph | None = None
        self.output: torch.Tensor | None = None
        self.runs = 0


class DecodeSteps:
    """Views of the decode step by shape, and their graphs when `graphs` is on."""

    def __init__(self, slots: SlotCache, token_device: torch.device, graphs: bool):
        self.slots, self.token_device = slots, token_device
        self.graphs = graphs
        self.pad = graphs  # rows padded to a bucket, so a graph serves every batch size up to it
        self._shapes: OrderedDict[tuple, _Shape] = OrderedDict()

    @property
    def key_block(self) -> int:
        """Own-KV lengths rounded up to this with graphs: a step shape, and its graph, hold for
        many steps. Without, a step attends over its exact length."""
        return KEY_BLOCK if self.pad else 1

    def view(self, tokens: torch.Tensor) -> DecodeView:
        """This step's view, filled in with its input `tokens` [B]: a kept one of the same shape,
        or a new one."""
        width = decode_width(self.slots.active) if self.pad else self.slots.active
        prefixes = self.slots.prefixes()
        key = self.slots.step_shape(width, prefixes, self.key_block)
        shape = self._shapes.get(key)
        if shape is None:
            static = self.graphs and len(prefixes) <= GRAPH_PREFIXES
            view = DecodeView(self.slots, width, prefixes, self.token_device, self.key_block, static)
            shape = self._shapes[key] = _Shape(view)
            while len(self._shapes) > KEEP:
                self._shapes.popitem(last=False)
        self._shapes.move_to_end(key)
        shape.view.update(tokens)
        return shape.view

    def run(self, view: DecodeView, forward: Callable[[DecodeView], torch.Tensor]) -> torch.Tensor:
        """`forward(view)`: eagerly, or by replaying the graph captured for this view."""
        shape = self._shapes[view.shape]
        shape.runs += 1
        if not view.static or shape.runs == 1:
            return forward(view)
        if shape.graph is None:
            shape.graph = torch.cuda.CUDAGraph()
            # each graph its own memory pool: a shared pool's handle dangles once the graphs that
            # used it are dropped, and a later capture into it fails an allocator assert
            with torch.cuda.graph(shape.graph):
                shape.output = forward(view)
        shape.graph.replay()
        return shape.output

    def clear(self) -> None:
        self._shapes.clear()
