"""TAP-Vid metrics (Doersch et al. 2022), query-first mode: the query frame is excluded.

* delta_avg: fraction of GT-visible points predicted within each threshold {1, 2, 4, 8, 16} px (at the evaluation
  resolution; TAP-Vid uses 256 x 256), averaged over thresholds;
* occlusion accuracy: fraction of points whose predicted visibility equals the GT;
* AJ (average Jaccard): per threshold, TP / (TP + FP + FN) with TP = visible & predicted visible & within the
  threshold, FN = GT-visible points not TP, FP = predicted-visible points not TP; averaged over thresholds.
"""
from __future__ import annotations

import numpy as np

THRESHOLDS = (1, 2, 4, 8, 16)


def tapvid_metrics(pred: np.ndarray, pred_visible: np.ndarray, gt: np.ndarray, gt_visible: np.ndarray,
                   thresholds=THRESHOLDS, query_frame: int = 0) -> dict:
    """pred/gt: [T, N, 2] px; pred_visible/gt_visible: [T, N] bool -> dict(delta_avg, occlusion_accuracy, aj, ...)"""
    pred, gt = np.asarray(pred, float), np.asarray(gt, float)
    pv, gv = np.asarray(pred_visible, bool), np.asarray(gt_visible, bool)
    keep = np.ones(len(gt), bool)
    keep[query_frame] = False
    pred, gt, pv, gv = pred[keep], gt[keep], pv[keep], gv[keep]
    d = np.linalg.norm(pred - gt, axis=-1)
    out = {"occlusion_accuracy": float((pv == gv).mean())}
    deltas, ajs = [], []
    for th in thresholds:
        within = d < th
        deltas.append(float(within[gv].mean()) if gv.any() else float("nan"))
        tp = (within & gv & pv).sum()
        fn = gv.sum() - tp
        fp = (pv & ~(within & gv)).sum()
        ajs.append(float(tp / max(tp + fn + fp, 1)))
        out[f"delta_{th}"] = deltas[-1]
        out[f"jaccard_{th}"] = ajs[-1]
    out["delta_avg"] = float(np.mean(deltas))
    out["aj"] = float(np.mean(ajs))
    return out
