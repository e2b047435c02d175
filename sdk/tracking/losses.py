"""Track4DGen's tracking losses (Sec. 3.2, Eqs. 4-5) on features hooked from the MV-VDM.

Features ``feats [V, T, C, h, w]`` (views, frames) cover images of ``width x height`` px; tracks ``[V, T, N, 2]``
in px with ``visible [V, T, N]``. Pixel <-> feature mapping: pixel x (centre at +0.5) lies at continuous cell
coordinate x * w / W - 0.5 (cell centres at integers, ``grid_sample(align_corners=False)``).

* L_corr (Eq. 4) = mean over tracks and consecutive frames (j, j+1) of 1 - cos(h(p^j), h(p^{j+1}));
* L_pos (Eq. 5) = mean over tracks and frames j >= 2 of Huber(p^j - p_hat^j), where p_hat^j is the soft-argmax
  over frame j's map of cos(h^j(.), h(p^1)).
* Occluded track points are masked (the paper does not say; Sec. 3.2 uses CoTracker visibility).
* L_1 = lambda1 L_diff + lambda2 L_corr + lambda3 L_pos with lambda = 1.0 / 0.1 / 10 (supp. Sec. 6).

Unstated in the paper, SDK values: soft-argmax temperature tau = 0.01 (on cosine similarities), Huber delta = 1
feature cell, with L_pos measured in feature cells.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LAMBDA_DIFF, LAMBDA_CORR, LAMBDA_POS = 1.0, 0.1, 10.0
TAU = 0.01
HUBER_DELTA = 1.0  # feature cells


def sample_features(fmap: Tensor, pts: Tensor, width: int, height: int) -> Tensor:
    """fmap [B, C, h, w], pts [B, N, 2] px -> [B, N, C] (bilinear, align_corners=False)"""
    g = torch.stack([pts[..., 0] / width * 2 - 1, pts[..., 1] / height * 2 - 1], -1)
    out = F.grid_sample(fmap, g[:, :, None, :], mode="bilinear", padding_mode="border", align_corners=False)
    return out[..., 0].transpose(1, 2)


def px_to_cells(pts: Tensor, w: int, h: int, width: int, height: int) -> Tensor:
    return torch.stack([pts[..., 0] * w / width - 0.5, pts[..., 1] * h / height - 0.5], -1)


def soft_argmax_positions(fmap: Tensor, query: Tensor, tau: float = TAU) -> Tensor:
    """fmap [B, C, h, w], query [B, N, C] -> soft-argmax of cos(fmap, query) in cell coordinates [B, N, 2]"""
    b, c, h, w = fmap.shape
    f = F.normalize(fmap.reshape(b, c, h * w), dim=1)
    q = F.normalize(query, dim=-1)
    cos = torch.einsum("bnc,bcp->bnp", q, f)  # [B, N, h*w]
    wts = torch.softmax(cos / tau, dim=-1)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=fmap.dtype, device=fmap.device),
                            torch.arange(w, dtype=fmap.dtype, device=fmap.device), indexing="ij")
    grid = torch.stack([xs.reshape(-1), ys.reshape(-1)], -1)  # [h*w, 2]
    return wts @ grid


def corr_loss(feats: Tensor, tracks: Tensor, visible: Tensor, width: int, height: int) -> Tensor:
    """Eq. 4. feats [V, T, C, h, w], tracks [V, T, N, 2] px, visible [V, T, N]"""
    v, t, c, h, w = feats.shape
    n = tracks.shape[2]
    hp = sample_features(feats.reshape(v * t, c, h, w), tracks.reshape(v * t, n, 2), width, height)
    hp = hp.reshape(v, t, n, c)
    cos = F.cosine_similarity(hp[:, :-1], hp[:, 1:], dim=-1)  # [V, T-1, N]
    m = (visible[:, :-1] & visible[:, 1:]).to(cos.dtype)
    return ((1 - cos) * m).sum() / m.sum().clamp_min(1.0)


def pos_loss(feats: Tensor, tracks: Tensor, visible: Tensor, width: int, height: int, tau: float = TAU,
             delta: float = HUBER_DELTA) -> Tensor:
    """Eq. 5. feats [V, T, C, h, w], tracks [V, T, N, 2] px (frame 0 = the queries), visible [V, T, N]"""
    v, t, c, h, w = feats.shape
    n = tracks.shape[2]
    q = sample_features(feats[:, 0], tracks[:, 0], width, height)  # [V, N, C] = h(p^1)
    qs = q[:, None].expand(v, t - 1, n, c).reshape(v * (t - 1), n, c)
    phat = soft_argmax_positions(feats[:, 1:].reshape(v * (t - 1), c, h, w), qs, tau).reshape(v, t - 1, n, 2)
    target = px_to_cells(tracks[:, 1:], w, h, width, height)
    hub = F.huber_loss(phat, target, reduction="none", delta=delta).sum(-1)  # [V, T-1, N]
    m = (visible[:, 1:] & visible[:, :1]).to(hub.dtype)
    return (hub * m).sum() / m.sum().clamp_min(1.0)


def sample_track_batch(tracks: Tensor, visible: Tensor, per_view: int = 8,
                       generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Draw ``per_view`` query tracks per view for one step (Sec. 3.2: 8 points per view), among the tracks visible
    at frame 0. tracks [V, T, N, 2], visible [V, T, N] -> ([V, T, per_view, 2], [V, T, per_view])"""
    v, t, n = visible.shape
    out_t, out_v = [], []
    for i in range(v):
        cand = torch.nonzero(visible[i, 0]).squeeze(1)
        if cand.numel() == 0:
            from ..errors import InvalidInputError
            raise InvalidInputError(f"view {i} has no visible query point (empty mask?)", field=f"tracks[{i}]")
        pick = cand[torch.randint(0, cand.numel(), (per_view,), generator=generator).to(cand.device)] \
            if cand.numel() < per_view else cand[torch.randperm(cand.numel(), generator=generator)[:per_view]
                                                 .to(cand.device)]
        out_t.append(tracks[i][:, pick])
        out_v.append(visible[i][:, pick])
    return torch.stack(out_t), torch.stack(out_v)


class FeatureHook:
    """Capture a module's output on every forward (Track4DGen: the second up block's temporal motion module,
    ``unet.up_blocks[1].motion_modules[-1]`` in diffusers naming). Gradients flow through the captured tensor."""

    def __init__(self, module: nn.Module):
        self.output: Tensor | None = None
        self._h = module.register_forward_hook(self._hook)

    def _hook(self, module, args, output):
        self.output = output[0] if isinstance(output, tuple) else output

    def remove(self):
        self._h.remove()

    @staticmethod
    def find(model: nn.Module, name: str) -> "FeatureHook":
        mods = dict(model.named_modules())
        if name not in mods:
            from ..errors import InvalidInputError
            raise InvalidInputError(f"no module named {name!r} in the model", field="module")
        return FeatureHook(mods[name])


def cells_to_px(cells: Tensor, w: int, h: int, width: int, height: int) -> Tensor:
    """Inverse of ``px_to_cells``: continuous cell coordinates [..., 2] -> pixels (centres at +0.5)."""
    return torch.stack([(cells[..., 0] + 0.5) * width / w, (cells[..., 1] + 0.5) * height / h], -1)


def feature_tracks(feats: Tensor, queries: Tensor, width: int, height: int, tau: float = TAU) -> Tensor:
    """Tracks read off diffusion features, as L_pos does: the soft-argmax of cos(h^j(.), h(p^1)) in every frame.

    feats [V, T, C, h, w]; queries [V, N, 2] px on frame 0 -> tracks [V, T, N, 2] px (frame 0 = the queries)."""
    v, t, c, h, w = feats.shape
    n = queries.shape[1]
    q = sample_features(feats[:, 0], queries, width, height)                      # [V, N, C]
    qs = q[:, None].expand(v, t, n, c).reshape(v * t, n, c)
    cells = soft_argmax_positions(feats.reshape(v * t, c, h, w), qs, tau).reshape(v, t, n, 2)
    out = cells_to_px(cells, w, h, width, height)
    return torch.cat([queries[:, None].to(out.dtype), out[:, 1:]], 1)
