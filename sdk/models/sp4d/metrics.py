"""Part segmentation metrics of SP4D App. D: mIoU, ARI, F1, mAcc with Hungarian matching on IoU.

Predictions are label-free: predicted parts are matched one-to-one to ground-truth parts by the
Hungarian algorithm maximising IoU. Per ground-truth part g with matched prediction p (empty if none):
IoU = |p∩g| / |p∪g|, F1 = 2|p∩g| / (|p| + |g|) (pixel precision/recall harmonic mean), Acc = |p∩g| / |g|;
mIoU, F1, mAcc average over ground-truth parts. ARI is the adjusted Rand index of the two labelings.
All are computed over ground-truth foreground pixels (predicted background there counts as its own label).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def part_metrics(pred, gt) -> dict:
    """pred, gt: int arrays of the same shape (any), gt -1 = background (ignored). -> dict of floats"""
    from sklearn.metrics import adjusted_rand_score
    p = np.asarray(pred).reshape(-1)
    g = np.asarray(gt).reshape(-1)
    keep = g >= 0
    p, g = p[keep], g[keep]
    if g.size == 0:
        return {"miou": float("nan"), "ari": float("nan"), "f1": float("nan"), "macc": float("nan")}
    gu, gi = np.unique(g, return_inverse=True)
    pu, pi = np.unique(p, return_inverse=True)
    inter = np.zeros((len(gu), len(pu)))
    np.add.at(inter, (gi, pi), 1)
    gs = inter.sum(1)
    ps = inter.sum(0)
    union = gs[:, None] + ps[None, :] - inter
    iou = inter / np.maximum(union, 1)
    r, c = linear_sum_assignment(-iou)
    m_iou = np.zeros(len(gu))
    m_f1 = np.zeros(len(gu))
    m_acc = np.zeros(len(gu))
    m_iou[r] = iou[r, c]
    m_f1[r] = 2 * inter[r, c] / np.maximum(gs[r] + ps[c], 1)
    m_acc[r] = inter[r, c] / np.maximum(gs[r], 1)
    return {"miou": float(m_iou.mean()), "ari": float(adjusted_rand_score(g, p)),
            "f1": float(m_f1.mean()), "macc": float(m_acc.mean())}
