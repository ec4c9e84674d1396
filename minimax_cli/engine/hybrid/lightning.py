"""Lightning attention: MiniMax's linear attention with a per-head exponential decay.

One contract for every implementation:

    (q, k, v, slope, state) -> (out, state)

    q, k, v  [B, T, H, D]   (fla's layout; any float dtype)
    slope    [H]            decay rate s_h > 0, fp32
    state    [B, H, D, D]   fp32: the state after the previous token (zeros at the start)
    out      [B, T, H, D]   in q's dtype; the returned state is fp32

The recurrence, with the state taken *after* the current token (last key weighted 1):

    S_t = exp(-s) * S_{t-1} + k_t^T v_t        o_t = q_t S_t

Implementations:
- `lightning_reference`: the recurrence token by token. Tests only.
- `lightning_blockwise`: exact block-parallel form in torch; starts from any state at any
  position, so a chunk boundary can fall anywhere. The CPU path.
- `lightning_fla`: fla's `chunk_simple_gla` on CUDA (g_gamma = -slope, scale 1). fla's own
  `lightning_attn` wrappers use a different decay formula and must not be used for MiniMax.
- `lightning_step`: one token (decode), a handful of small ops; the reference for
- `lightning_step_triton`: one token on CUDA, one Triton launch that reads each state once and
  updates it in place (a decode batch of 128 rows holds 0.5 GB of states per layer at real width,
  which the torch ops read and write several times).

The state stays fp32 throughout: a bf16 state caused dropped characters and repetition in
MiniMax's own deployment (vLLM PR #19592).
"""

from __future__ import annotations

import torch

BLOCK = 256


def lightning_reference(q, k, v, slope, state):
    """Per-token recurrence; O(T) Python steps. The oracle the other implementations match."""
    decay = torch.exp(-slope.float())[None, :, None, None]  # [1, H, 1, 1]
    state = state.float().clone()
    outs = []
    for t in range(q.shape[1]):
        qt, kt, vt = (x[:, t].float() for x in (q, k, v))  # [B, H, D]
        state = decay * state + kt.unsqueeze(-1) * vt.unsqueeze(-2)  # [B, H, D, D]
        outs.append(torch.einsum("bhd,bhde->bhe", qt, state))
    out = torch.stack(outs, dim=1) if outs else q.new_zeros(q.shape).float()
    return out.to(q.dtype), state


def lightning_blockwise(q, k, v, slope, state, block: int = BLOCK):
    """Exact block-parallel lightning attention in fp32 torch.

    Within a block of m tokens (local index i, j), with S the state entering the block:
        out_i = sum_{j<=i} (q_i . k_j) exp(-s(i-j)) v_j   +   exp(-s(i+1)) q_i S
        S'    = exp(-s m) S + sum_j exp(-s(m-1-j)) k_j^T v_j
    Decays are exponentials of non-positive numbers, so nothing overflows; long-decayed terms
    underflow to exactly what they are worth (zero).
    """
    B, T, H, D = q.shape
    s = slope.float().view(1, H, 1, 1)  # [1, H, 1, 1]
    qf, kf, vf = (x.float().transpose(1, 2) for x in (q, k, v))  # [B, H, T, D]
    state = state.float()
    out = torch.empty_like(qf)
    for start in range(0, T, block):
        m = min(block, T - start)
        qb, kb, vb = (x[:, :, start:start + m] for x in (qf, kf, vf))  # [B, H, m, D]
        idx = torch.arange(m, device=q.device, dtype=torch.float32)
        gap = idx[:, None] - idx[None, :]  # [m, m]: i - j
        diag = torch.exp(-s * gap.clamp(min=0)) * (gap >= 0)  # [1, H, m, m]
        intra = ((qb @ kb.transpose(-1, -2)) * diag) @ vb  # [B, H, m, D]
        inter = (qb * torch.exp(-s * (idx[:, None] + 1))) @ state  # [B, H, m, D]
        out[:, :, start:start + m] = intra + inter
        key_decay = torch.exp(-s * (m - 1 - idx[:, None]))  # [1, H, m, 1]
        state = torch.exp(-s * m) * state + (kb * key_decay).transpose(-1, -2) @ vb
    return out.transpose(1, 2).to(q.dtype), state


def lightning_step(q, k, v, slope, state):
    """One token (T == 1): S = exp(-s) S + k^T v; o = q S."""
    decay = torch.exp(-slope.float())[None, :, None, None]
    qt, kt, vt = (x[:, 0].float() for x in (q, k, v))  # [B, H, D]
    state = decay * state.float() + kt.unsqueeze(-1) * vt.unsqueeze(-2)
    out = (qt.unsqueeze(-2) @ state).squeeze(-2)  # [B, H, D]
    return out.unsqueeze(1).to(q.dtype), state


def lightning_step_triton(q, k, v, slope, state):
    """`lightning_step` with the state [B, H, D, D] (fp32, contiguous) updated in place."""
    global _step_kernel
    if _step_kernel is None:
        _step_kernel = _build_step_kernel()
    B, _, H, D = q.shape
    out = torch.empty(B, H, D, dtype=torch.float32, device=q.device)
    block_e = 32
    qt, kt, vt = (x[:, 0].contiguous() for x in (q, k, v))  # [B, H, D]
    _step_kernel[(B * H, D // block_e)](qt, kt, vt, slope.float().contiguous(), state, out, H,
                                        D=D, BLOCK_E=block_e)
    return out.unsqueeze(1).to(q.dtype), state


_step_kernel = None


def _build_step_kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def step(q_ptr, k_ptr, v_ptr, slope_ptr, state_ptr, out_ptr, H, D: tl.constexpr, BLOCK_E: tl.constexpr):
        bh = tl.program_id(0)  # row * H + head: q/k/v/out are [B, H, D], the state [B, H, D, D]
        cols = tl.program_id(1) * BLOCK_E + tl.arange(0, BLOCK_E)
        d = tl.arange(0, D)
        decay = tl.exp(-tl.load(slope_ptr + bh % H))
        q = tl.load(q_ptr + bh * D + d).to(tl.float32)
        k = tl.load(k_ptr + bh * D + d).to(tl.float32)
        v = tl.load(v_ptr + bh * D + cols).to(tl.float32)
        where = state_ptr + bh.to(tl.int64) * D * D + d[:, None] * D + cols[None, :]
        s = decay * tl.load(where) + k[:, None] * v[None, :]  # [D, BLOCK_E]
        tl.store(where, s)
        tl.store(out_ptr + bh * D + cols, tl.sum(q[:, None] * s, axis=0))

    return step


def lightning_fla(q, k, v, slope, state):
    """fla's chunked simple-GLA kernel (CUDA, Triton). Same recurrence with g = -slope."""
    from fla.ops.simple_gla import chunk_simple_gla  # lazy: GPU extra

    out, final = chunk_simple_gla(
        q, k, v,
        g_gamma=-slope.float(),
        scale=1.0,
        initial_state=state.float(),
        output_final_state=True,
    )
    return out, final.float()


_fla_available: bool | None = None


def fla_available() -> bool:
    global _fla_available
    if _fla_available is None:
        try:
            import fla.ops.simple_gla  # noqa: F401

            _fla_available = True
        except Exception:  # ImportError, or Triton failing to initialise
            _fla_available = False
    return _fla_available


def lightning(q, k, v, slope, state, impl: str = "auto"):
    """Dispatch: one token -> step (in place on CUDA); CUDA with fla -> fla; otherwise blockwise torch."""
    if impl == "auto":
        if q.shape[1] == 1:
            in_place = (q.is_cuda and state.dtype == torch.float32 and state.is_contiguous()
                        and q.shape[-1] % 32 == 0)
            impl = "step_triton" if in_place else "step"
        elif q.is_cuda and fla_available():
            impl = "fla"
        else:
            impl = "blockwise"
    return IMPLEMENTATIONS[impl](q, k, v, slope, state)


IMPLEMENTATIONS = {
    "reference": lightning_reference,
    "blockwise": lightning_blockwise,
    "step": lightning_step,
    "step_triton": lightning_step_triton,
    "fla": lightning_fla,
}
