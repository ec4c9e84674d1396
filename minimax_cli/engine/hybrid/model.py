"""The MiniMax hybrid model (MiniMax-Text-01 / MiniMax-M1 and any checkpoint of that architecture).

Module names follow the original checkpoint keys (`model.layers.N.self_attn.qkv_proj`,
`model.layers.N.block_sparse_moe.experts.E.w1`, ...) so the published safetensors load without
renames and the published int8 recipe's `modules_to_not_convert` list applies as written.

Per layer (DeepNorm, postnorm: the residual is taken *after* the norm):
    h = input_layernorm(x);          x = h * attn_alpha + attn(h) * attn_beta
    h = post_attention_layernorm(x); x = h * mlp_alpha  + moe(h)  * mlp_beta

`attn` is lightning attention in most layers (7 of every 8 in the real model, layer 0 included)
and softmax attention (GQA, partial RoPE) in the rest. Every forward takes a chunk of tokens and
the cache; there is no separate prefill/decode code path and no per-token loop.

Shapes: B batch, T chunk length, C hidden, H query heads, Hkv KV heads, D head dim, E experts.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from minimax_cli.engine.hybrid.cache import HybridCache
from minimax_cli.engine.hybrid.config import SOFTMAX, HybridConfig
from minimax_cli.engine.hybrid.grouped_experts import MAX_TOKENS as GROUPED_MAX_TOKENS
from minimax_cli.engine.hybrid.grouped_experts import grouped_experts
from minimax_cli.engine.hybrid.lightning import lightning
from minimax_cli.engine.hybrid.quant import is_quantized


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * xf.to(x.dtype)


class LightningAttention(nn.Module):
    """q, k, v = silu(qkv_proj(x)) (per head interleaved [q|k|v]); no scaling, no RoPE.
    out = out_proj(sigmoid(output_gate(x)) * RMSNorm(attn))."""

    def __init__(self, config: HybridConfig, layer: int):
        super().__init__()
        H, D, C = config.num_attention_heads, config.head_dim, config.hidden_size
        self.heads, self.head_dim = H, D
        self.qkv_proj = nn.Linear(C, 3 * H * D, bias=False)
        self.output_gate = nn.Linear(C, H * D, bias=False)
        self.out_proj = nn.Linear(H * D, C, bias=False)
        self.norm = RMSNorm(H * D, eps=1e-6)  # the remote code's default eps for this norm
        self.register_buffer("slope", torch.tensor(config.slopes(layer), dtype=torch.float32),
                             persistent=False)

    def forward(self, x, state):
        B, T, _ = x.shape
        qkv = F.silu(self.qkv_proj(x)).view(B, T, self.heads, 3 * self.head_dim)
        q, k, v = qkv.split(self.head_dim, dim=-1)  # each [B, T, H, D]
        out, state = lightning(q, k, v, self.slope, state)
        out = self.norm(out.reshape(B, T, self.heads * self.head_dim))
        out = torch.sigmoid(self.output_gate(x)) * out
        return self.out_proj(out), state


def rope_cos_sin(positions: torch.Tensor, rotary_dim: int, theta: float):
    """cos, sin [..., rotary_dim] for integer positions [T] (or [B, T], rows at their own
    positions). Angles in float64: at position 1e6 an fp32 angle is off by up to 0.03 rad."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, rotary_dim, 2, dtype=torch.float64,
                                             device=positions.device) / rotary_dim))
    angles = positions.to(torch.float64)[..., None] * inv_freq  # [..., rotary_dim / 2]
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos().float(), angles.sin().float()


def apply_partial_rope(x, cos, sin):
    """Rotate the first rotary_dim dims of each head (rotate-half convention); pass the rest.
    x [B, T, H, D]; cos/sin [T, rotary_dim] or [B, T, rotary_dim]."""
    rd = cos.shape[-1]
    rot, rest = x[..., :rd].float(), x[..., rd:]
    half = rd // 2
    rotated = torch.cat([-rot[..., half:], rot[..., :half]], dim=-1)
    cos, sin = cos.unsqueeze(-2), sin.unsqueeze(-2)  # broadcast over heads (and rows, for [T, rd])
    return torch.cat([(rot * cos + rotated * sin).to(x.dtype), rest], dim=-1)


class SoftmaxAttention(nn.Module):
    def __init__(self, config: HybridConfig, layer: int):
        super().__init__()
        H, Hkv, D, C = (config.num_attention_heads, config.num_key_value_heads,
                        config.head_dim, config.hidden_size)
        self.layer = layer
        self.heads, self.kv_heads, self.head_dim = H, Hkv, D
        self.rotary_dim, self.theta = config.rotary_dim, config.rope_theta
        self.q_proj = nn.Linear(C, H * D, bias=False)
        self.k_proj = nn.Linear(C, Hkv * D, bias=False)
        self.v_proj = nn.Linear(C, Hkv * D, bias=False)
        self.o_proj = nn.Linear(H * D, C, bias=False)

    def forward(self, x, cache: HybridCache, start: int):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.heads, self.head_dim)
        k = self.k_proj(x).view(B, T, self.kv_heads, self.head_dim)
        v = self.v_proj(x).view(B, T, self.kv_heads, self.head_dim)
        cos, sin = rope_cos_sin(cache.positions(start, T, x.device), self.rotary_dim, self.theta)
        q, k = apply_partial_rope(q, cos, sin), apply_partial_rope(k, cos, sin)
        out = cache.attend(self.layer, q, k, v, start, scale=self.head_dim ** -0.5)  # [B, T, H, D]
        return self.o_proj(out.reshape(B, T, self.heads * self.head_dim))


class Expert(nn.Module):
    def __init__(self, hidden: int, intermediate: int):
        super().__init__()
        self.w1 = nn.Linear(hidden, intermediate, bias=False)  # gate
        self.w3 = nn.Linear(hidden, intermediate, bias=False)  # up
        self.w2 = nn.Linear(intermediate, hidden, bias=False)  # down

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


SMALL_BATCH = 8  # (token, expert) pairs up to which the MoE runs them one by one
DENSE_MAX_TOKENS = 128  # up to here, a decode step's MoE may run every expert on every row


class SparseMoE(nn.Module):
    """Top-k of E experts per token; router softmax in fp32, top-k renormalised.

    Four ways to run the same sum, by device and by how many (token, expert) pairs there are:
    - a decode batch on a GPU, once the experts are stacked (`stack_experts`): the grouped Triton
      kernels (grouped_experts.py), which sort the pairs by expert on the device, read each
      chosen expert once, bf16 or int8, and never wait for the host (CUDA-graph safe);
    - a few pairs on the CPU (one decode row): each pair directly;
    - a CPU decode batch whose pairs touch about every expert anyway (pairs >= 2E): every expert
      over every row in three batched matmuls, weighted by the router (zero for the experts a
      row did not choose);
    - many (prefill): tokens grouped by expert with one sort, each expert once over its tokens.
    """

    def __init__(self, config: HybridConfig):
        super().__init__()
        self.top_k = config.num_experts_per_tok
        self.gate = nn.Linear(config.hidden_size, config.num_local_experts, bias=False)
        self.experts = nn.ModuleList(
            Expert(config.hidden_size, config.intermediate_size) for _ in range(config.num_local_experts))
        self.stacked: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None  # w1, w3, w2 [E, out, in]
        self.scales: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None  # int8: [E, out] each

    def forward(self, x):
        B, T, C = x.shape
        flat = x.reshape(-1, C)  # [N, C]
        logits = F.linear(flat.float(), self.gate.weight.float())  # [N, E] fp32 router
        weights, chosen = torch.topk(logits.softmax(-1), self.top_k, dim=-1)  # [N, k]
        weights = weights / weights.sum(-1, keepdim=True)
        pairs = flat.shape[0] * self.top_k
        if x.is_cuda and self.stacked is not None and flat.shape[0] <= GROUPED_MAX_TOKENS:
            out = grouped_experts(flat, chosen, weights, self.stacked, self.scales)
        elif pairs <= SMALL_BATCH:
            out = self._few_tokens(flat, weights, chosen)
        elif (self.stacked is not None and self.scales is None and pairs >= 2 * len(self.experts)
              and flat.shape[0] <= DENSE_MAX_TOKENS):
            out = self._every_expert(flat, weights, chosen)
        else:
            out = self._many_tokens(flat, weights, chosen)
        return out.to(x.dtype).view(B, T, C)

    @torch.no_grad()
    def stack_experts(self) -> None:
        """Move the experts' weights into three [E, out, in] tensors (int8 ones with their [E, out]
        scales), the experts' own weights becoming views of them: no second copy."""
        stacked, scales = [], []
        for proj in ("w1", "w3", "w2"):
            linears = [getattr(e, proj) for e in self.experts]
            if is_quantized(linears[0]):  # quanto's int8 tensor: its int8 data and scale re-pointed
                stack = torch.stack([lin.weight._data for lin in linears])
                scale = torch.stack([lin.weight._scale for lin in linears])  # [E, out, 1]
                for e, lin in enumerate(linears):
                    lin.weight._data, lin.weight._scale = stack[e], scale[e]
                scales.append(scale.squeeze(-1))
            else:
                stack = torch.stack([lin.weight.data for lin in linears])
                for e, lin in enumerate(linears):
                    lin.weight = nn.Parameter(stack[e], requires_grad=False)
            stacked.append(stack)
        self.stacked = tuple(stacked)
        self.scales = tuple(scales) if scales else None

    def _every_expert(self, flat, weights, chosen):
        w1, w3, w2 = self.stacked
        E = w1.shape[0]
        x = flat.unsqueeze(0).expand(E, -1, -1)  # [E, N, C]
        h = F.silu(torch.bmm(x, w1.transpose(1, 2))) * torch.bmm(x, w3.transpose(1, 2))  # [E, N, I]
        y = torch.bmm(h, w2.transpose(1, 2))  # [E, N, C]
        gate = torch.zeros(flat.shape[0], E, device=flat.device).scatter_(1, chosen, weights)  # [N, E]
        return torch.einsum("enc,ne->nc", y.float(), gate)

    def _few_tokens(self, flat, weights, chosen):
        """Decode: read the few (token, expert) pairs with one sync and run them directly,
        skipping the sort-and-scatter machinery (a dozen kernel launches per layer)."""
        out = torch.zeros_like(flat, dtype=torch.float32)
        for token, experts in enumerate(chosen.cpu().tolist()):  # .cpu(): see _many_tokens
            for slot, e in enumerate(experts):
                y = self.experts[e](flat[token:token + 1])  # [1, C]
                out[token:token + 1] += y.float() * weights[token, slot]
        return out

    def _many_tokens(self, flat, weights, chosen):
        """Prefill: group (token, slot) pairs by expert with one sort, run each expert once."""
        flat_choice = chosen.reshape(-1)  # [N*k]
        order = torch.argsort(flat_choice, stable=True)
        # .cpu() first: it waits for the GPU with the GIL released; .tolist() on a CUDA tensor
        # waits holding it, which stalls the other GPUs' threads in a pipelined prefill
        counts = torch.bincount(flat_choice, minlength=len(self.experts)).cpu().tolist()
        token_of = order // self.top_k
        weight_of = weights.reshape(-1)[order]
        out = torch.zeros_like(flat, dtype=torch.float32)
        begin = 0
        for e, n in enumerate(counts):
            if n == 0:
                continue
            tokens = token_of[begin:begin + n]
            y = self.experts[e](flat[tokens])  # [n, C]
            out.index_add_(0, tokens, y.float() * weight_of[begin:begin + n, None])
            begin += n
        return out


class DecoderLayer(nn.Module):
    def __init__(self, config: HybridConfig, layer: int):
        super().__init__()
        self.layer = layer
        self.is_softmax = config.layer_types[layer] == SOFTMAX
        attn_cls = SoftmaxAttention if self.is_softmax else LightningAttention
        self.self_attn = attn_cls(config, layer)
        self.block_sparse_moe = SparseMoE(config)
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.attn_alpha, self.attn_beta = config.attn_alpha[layer], config.attn_beta[layer]
        self.mlp_alpha, self.mlp_beta = config.mlp_alpha, config.mlp_beta

    def forward(self, x, cache: HybridCache, start: int):
        h = self.input_layernorm(x)
        if self.is_softmax:
            attn = self.self_attn(h, cache, start)
        else:
            attn, state = self.self_attn(h, cache.lightning_state(self.layer))
            cache.set_lightning_state(self.layer, state)
        x = h * self.attn_alpha + attn * self.attn_beta
        h = self.post_attention_layernorm(x)
        return h * self.mlp_alpha + self.block_sparse_moe(h) * self.mlp_beta


class HybridBackbone(nn.Module):
    def __init__(self, config: HybridConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)


class HybridForCausalLM(nn.Module):
    """`model.*` and `lm_head`, as in the checkpoints. The head's logits are fp32 (MiniMax-M1
    report: bf16 logits broke token probabilities) and made only where they are asked for."""

    def __init__(self, config: HybridConfig):
        super().__init__()
        self.config = config
        self.model = HybridBackbone(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)

    def layer_devices(self) -> list[torch.device]:
        return [layer.input_layernorm.weight.device for layer in self.model.layers]

    def new_cache(self, capacity: int = 4096, batch: int = 1) -> HybridCache:
        dtype = self.model.embed_tokens.weight.dtype
        return HybridCache(self.config, self.layer_devices(), dtype, capacity, batch)

    @torch.inference_mode()
    def forward(self, input_ids: torch.Tensor, cache: HybridCache) -> torch.Tensor:
        """Run one chunk [B, T] at positions [cache.length, cache.length + T) and advance the
        cache. Returns the final-norm hidden states [B, T, C]; `logits` turns them into scores."""
        start = cache.length
        cache.reserve(start + input_ids.shape[1])
        x = self.run_layers(self.embed(input_ids), cache, start, range(len(self.model.layers)))
        cache.length = start + input_ids.shape[1]
        return self.final_norm(x)

    # The three stages of a forward, separately callable so a pipeline can run the layers of each
    # GPU on its own thread (stream.prefill_pipelined). `start` is explicit because with chunks in
    # flight on several GPUs the cache's length is the driver's business, not the layers'.

    @torch.inference_mode()
    def embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        embed = self.model.embed_tokens
        return embed(input_ids.to(embed.weight.device))

    @torch.inference_mode()
    def run_layers(self, x: torch.Tensor, cache: HybridCache, start: int, layers) -> torch.Tensor:
        for i in layers:
            layer = self.model.layers[i]
            x = layer(x.to(layer.input_layernorm.weight.device, non_blocking=True), cache, start)
        return x

    @torch.inference_mode()
    def final_norm(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.norm(x.to(self.model.norm.weight.device))

    @torch.inference_mode()
    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """fp32 logits [..., V] for hidden states [..., C] (pass only the positions you need).

        On GPUs the head is kept in the checkpoint's bf16 and multiplied with fp32 accumulation
        into fp32 logits: the same numbers as an fp32 copy of it (the weights are bf16 values
        either way) at half the bytes a decode step reads."""
        w = self.lm_head.weight
        if w.dtype == torch.float32 or not w.is_cuda:
            return F.linear(hidden.to(w.device).float(), w.float())
        flat = hidden.to(w.device, w.dtype).reshape(-1, hidden.shape[-1])
        return torch.mm(flat, w.t(), out_dtype=torch.float32).view(*hidden.shape[:-1], -1)
