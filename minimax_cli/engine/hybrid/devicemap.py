"""Where the hybrid model's parts go on N GPUs, and whether they fit: the device-map planner.

Pipeline placement: the embedding on the first GPU, the final norm and head on the last,
whole decoder layers in between, contiguous and balanced by bytes. A GPU's bytes are

    weights     its layers' parameters (int8 linears: 1 byte + a bf16 scale per output row;
                router, norms, embedding and head kept bf16)
    kv          K and V of its softmax layers at the planned context:
                2 * kv_heads * head_dim * 2 bytes per token per layer (4 KiB at real width)
    state       its lightning layers' fp32 states, twice (the live one and a prefix snapshot)
    headroom    activations of one prefill chunk (formula in `activation_bytes`) + 1 GiB for the
                CUDA context and allocator slack

The loader places the model by this same plan, so what `minimax plan` prints is what happens.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from minimax_cli.engine.hybrid.config import SOFTMAX, HybridConfig
from minimax_cli.errors import ErrorCode, MinimaxError

GiB = 1 << 30
LIGHTNING_CHUNK = 64  # fla's chunk: the length of lightning's intra-chunk term
FIXED_HEADROOM = 1 * GiB  # CUDA context, cuBLAS workspaces, allocator fragmentation
BF16 = 2


@dataclass
class DevicePlan:
    device: str
    layers: list[int]
    weights_bytes: int
    kv_bytes: int
    state_bytes: int
    headroom_bytes: int
    capacity_bytes: int
    holds_embed: bool = False
    holds_head: bool = False

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_bytes + self.state_bytes + self.headroom_bytes

    def to_dict(self) -> dict:
        d = asdict(self)
        d["total_bytes"] = self.total_bytes
        return d


@dataclass
class DeviceMap:
    quant: str
    context: int
    chunk: int
    weights_bytes: int  # whole model
    devices: list[DevicePlan]
    advice: list[str] = field(default_factory=list)  # when it does not fit: what would

    @property
    def fits(self) -> bool:
        return all(d.total_bytes <= d.capacity_bytes for d in self.devices)

    @property
    def shortfall_bytes(self) -> int:
        return max(0, max(d.total_bytes - d.capacity_bytes for d in self.devices))

    def layer_device(self) -> dict[int, str]:
        return {layer: d.device for d in self.devices for layer in d.layers}

    def to_dict(self) -> dict:
        return {"fits": self.fits, "quant": self.quant, "context": self.context, "chunk": self.chunk,
                "weights_bytes": self.weights_bytes, "shortfall_bytes": self.shortfall_bytes,
                "devices": [d.to_dict() for d in self.devices], "advice": self.advice}


# ---- sizes ----------------------------------------------------------------------------------------

def linear_bytes(rows: int, cols: int, quant: str) -> int:
    """A [rows, cols] weight: bf16, or int8 with one bf16 scale per output row (quanto qint8)."""
    if quant == "int8":
        return rows * cols + rows * BF16
    return rows * cols * BF16


def layer_weight_bytes(config: HybridConfig, layer: int, quant: str) -> int:
    C, H, Hkv, D = (config.hidden_size, config.num_attention_heads, config.num_key_value_heads,
                    config.head_dim)
    E, I = config.num_local_experts, config.intermediate_size
    if config.layer_types[layer] == SOFTMAX:
        attn = (linear_bytes(H * D, C, quant) + 2 * linear_bytes(Hkv * D, C, quant)
                + linear_bytes(C, H * D, quant))
    else:
        attn = (linear_bytes(3 * H * D, C, quant) + linear_bytes(H * D, C, quant)
                + linear_bytes(C, H * D, quant) + H * D * BF16)  # + the output RMSNorm
    experts = E * (2 * linear_bytes(I, C, quant) + linear_bytes(C, I, quant))
    router = E * C * BF16  # kept unquantized, as in the published int8 recipe
    norms = 2 * C * BF16
    return attn + experts + router + norms


def embed_bytes(config: HybridConfig) -> int:
    return config.vocab_size * config.hidden_size * BF16


def head_bytes(config: HybridConfig) -> int:
    return config.vocab_size * config.hidden_size * BF16 + config.hidden_size * BF16  # bf16 head + norm


def kv_bytes_per_token(config: HybridConfig) -> int:
    """Per softmax layer: K and V, kv_heads x head_dim each, bf16."""
    return 2 * config.num_key_value_heads * config.head_dim * BF16


def state_bytes(config: HybridConfig) -> int:
    """One lightning layer: the fp32 [H, D, D] state, live plus a prefix snapshot."""
    return 2 * config.num_attention_heads * config.head_dim * config.head_dim * 4


def activation_bytes(config: HybridConfig, chunk: int) -> int:
    """Peak activations of one chunk through one layer, per GPU (layers run one at a time):
    hidden, residual and norm copies (6 x C bf16), the fused qkv (3HD bf16), the fp32 lightning
    output (HD x 4), fla's per-64-token chunk states (H D D bf16 / 64), and the MoE's gathered
    inputs and one expert intermediate (k x (C + I) bf16). Calibrated on H200s at real width:
    measured peaks were 5.4 GiB over weights and KV for 32K-token chunks, 0.96 GiB for 4K; this
    gives 7.6 and 1.8 GiB (with the fixed 1 GiB for the CUDA context), an upper bound."""
    C, H, D = config.hidden_size, config.num_attention_heads, config.head_dim
    k, I = config.num_experts_per_tok, config.intermediate_size
    per_token = 6 * C * BF16 + 3 * H * D * BF16 + H * D * 4 + H * D * D * BF16 // 64 + k * (C + I) * BF16
    return chunk * per_token + FIXED_HEADROOM


def layer_flops(config: HybridConfig, layer: int, tokens: int, prefix: int) -> int:
    """FLOPs of `tokens` tokens at positions [prefix, prefix + tokens) through one layer:
    2 x the weights a token passes through, plus lightning's per-head 2cD (causal intra-chunk,
    c = 64 as in fla) + 4D^2 (state read and update), or softmax attention's 4 (p + 1) D per head
    at position p."""
    C, H, Hkv, D = config.hidden_size, config.num_attention_heads, config.num_key_value_heads, config.head_dim
    k, I, E = config.num_experts_per_tok, config.intermediate_size, config.num_local_experts
    dense = 2 * (k * 3 * C * I + E * C)
    if config.layer_types[layer] == SOFTMAX:
        dense += 2 * (2 * H * D * C + 2 * Hkv * D * C)
        keys = tokens * (2 * prefix + tokens + 1) // 2  # sum of (p + 1) over the positions
        return dense * tokens + 4 * H * D * keys
    dense += 2 * 5 * H * D * C
    return (dense + H * (2 * LIGHTNING_CHUNK * D + 4 * D * D)) * tokens


def model_weight_bytes(config: HybridConfig, quant: str) -> int:
    return (embed_bytes(config) + head_bytes(config)
            + sum(layer_weight_bytes(config, i, quant) for i in range(config.num_hidden_layers)))


def parameter_count(config: HybridConfig) -> int:
    """Parameters of the whole model (bf16 bytes / 2, the head counted once)."""
    layers = sum(layer_weight_bytes(config, i, "none") for i in range(config.num_hidden_layers)) // BF16
    return layers + 2 * config.vocab_size * config.hidden_size + config.hidden_size


# ---- placement ------------------------------------------------------------------------------------

def plan_devices(config: HybridConfig, gpus: int, gpu_bytes: int, context: int, chunk: int,
                 quant: str, device_names: list[str] | None = None, advice: bool = True,
                 balance: str = "bytes") -> DeviceMap:
    """Contiguous layer ranges per GPU, balanced by bytes; when the balanced cut does not fit, the
    cut that minimises the fullest GPU.

    `balance="compute"` cuts by each layer's prefill FLOPs at the middle of the context instead
    (a pipeline runs as fast as its slowest GPU; one softmax layer at 500K tokens costs as much as
    a dozen lightning layers), keeping the byte cut when the compute cut does not fit."""
    if gpus < 1:
        raise ValueError("gpus must be at least 1")
    names = device_names or [f"cuda:{i}" for i in range(gpus)]
    L = config.num_hidden_layers
    kv_tok = kv_bytes_per_token(config)
    cost = [layer_weight_bytes(config, i, quant)
            + (kv_tok * context if config.layer_types[i] == SOFTMAX else state_bytes(config))
            for i in range(L)]
    first_extra, last_extra = embed_bytes(config), head_bytes(config)
    headroom = activation_bytes(config, chunk)

    def fits(groups) -> bool:
        loads = [sum(cost[i] for i in g) for g in groups]
        loads[0] += first_extra
        loads[-1] += last_extra
        return max(loads) + headroom <= gpu_bytes

    groups = balanced_split(cost, gpus, first_extra, last_extra)
    if not fits(groups):  # balanced does not fit: minimise the fullest GPU
        groups = min_max_split(cost, gpus, first_extra, last_extra) or groups
    if balance == "compute":
        work = [layer_flops(config, i, chunk, context // 2) for i in range(L)]

        def slowest(split) -> int:
            return max(sum(work[i] for i in g) for g in split)

        for candidate in (balanced_split(work, gpus, 0, 0), min_max_split(work, gpus, 0, 0)):
            if candidate and all(candidate) and fits(candidate) and slowest(candidate) < slowest(groups):
                groups = candidate

    devices = []
    for g, layers in enumerate(groups):
        is_first, is_last = g == 0, g == gpus - 1
        weights = sum(layer_weight_bytes(config, i, quant) for i in layers)
        weights += (embed_bytes(config) if is_first else 0) + (head_bytes(config) if is_last else 0)
        kv = sum(kv_tok * context for i in layers if config.layer_types[i] == SOFTMAX)
        states = sum(state_bytes(config) for i in layers if config.layer_types[i] != SOFTMAX)
        devices.append(DevicePlan(names[g], layers, weights, kv, states, headroom, gpu_bytes,
                                  holds_embed=is_first, holds_head=is_last))
    plan = DeviceMap(quant, context, chunk, model_weight_bytes(config, quant), devices)
    if advice and not plan.fits:
        plan.advice = advise(config, gpus, gpu_bytes, context, chunk, quant)
    return plan


def balanced_split(cost: list[int], gpus: int, first_extra: int, last_extra: int) -> list[list[int]]:
    """Cut the layers where the running total (embedding first, head last) crosses each GPU's
    equal share: every GPU gets about the same bytes."""
    total = first_extra + sum(cost) + last_extra
    groups: list[list[int]] = [[] for _ in range(gpus)]
    running = first_extra
    for i, c in enumerate(cost):
        middle = running + c / 2  # a layer goes to the GPU whose share holds its midpoint
        g = min(int(middle * gpus // total), gpus - 1)
        g = max(g, max((k for k, grp in enumerate(groups) if grp), default=0))  # stay contiguous
        groups[g].append(i)
        running += c
    return groups


def min_max_split(cost: list[int], gpus: int, first_extra: int, last_extra: int) -> list[list[int]] | None:
    """Contiguous groups minimising the fullest GPU (binary search on its load, greedy packing)."""

    def pack(limit: int) -> list[list[int]] | None:
        groups: list[list[int]] = [[]]
        load = first_extra
        for i, c in enumerate(cost):
            if groups[-1] and load + c > limit:
                if len(groups) == gpus:
                    return None
                groups.append([])
                load = 0
            groups[-1].append(i)
            load += c
        if load + last_extra > limit and len(groups) == gpus:
            return None
        return groups + [[] for _ in range(gpus - len(groups))]

    lo, hi = max(cost + [first_extra, last_extra]), first_extra + sum(cost) + last_extra
    while lo < hi:
        mid = (lo + hi) // 2
        if pack(mid) is None:
            lo = mid + 1
        else:
            hi = mid
    return pack(lo)


def advise(config: HybridConfig, gpus: int, gpu_bytes: int, context: int, chunk: int, quant: str) -> list[str]:
    """What would fit instead: the longest context on these GPUs, the fewest GPUs for this context,
    int8 if it was bf16."""
    advice = []
    lo, hi = 0, context
    while lo < hi:  # the longest context that fits
        mid = (lo + hi + 1) // 2
        if plan_devices_fits(config, gpus, gpu_bytes, mid, chunk, quant):
            lo = mid
        else:
            hi = mid - 1
    if lo > 0:
        advice.append(f"--context {lo} fits on {gpus} GPU{'s' if gpus > 1 else ''}")
    for more in range(gpus + 1, 65):
        if plan_devices_fits(config, more, gpu_bytes, context, chunk, quant):
            advice.append(f"--gpus {more} fits --context {context}")
            break
    if quant == "none" and plan_devices_fits(config, gpus, gpu_bytes, context, chunk, "int8"):
        advice.append("--quant int8 fits")
    if not advice:
        advice.append("nothing close fits: more or larger GPUs are needed")
    return advice


def plan_devices_fits(config, gpus, gpu_bytes, context, chunk, quant) -> bool:
    return plan_devices(config, gpus, gpu_bytes, context, chunk, quant, advice=False).fits


def fit_gpus(config: HybridConfig, gpus: int, context: int, chunk: int, quant: str) -> DeviceMap:
    """The device map over the first `gpus` visible GPUs; refuses what the plan says cannot fit."""
    import torch

    if gpus > torch.cuda.device_count():
        raise MinimaxError(ErrorCode.BAD_REQUEST, f"the preset wants {gpus} GPUs, {torch.cuda.device_count()} "
                           "are visible")
    capacity = min(torch.cuda.get_device_properties(i).total_memory for i in range(gpus))
    plan = plan_devices(config, gpus, capacity, context, chunk, quant, balance="compute")
    if not plan.fits:
        raise MinimaxError(ErrorCode.OUT_OF_MEMORY, f"the model does not fit {gpus} GPU(s) at {context} tokens "
                           f"of context ({plan.shortfall_bytes / GiB:.1f} GiB short); would fit: "
                           f"{'; '.join(plan.advice)}")
    return plan
