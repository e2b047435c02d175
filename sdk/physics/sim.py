"""Differentiable simulation in chunks (AKD §4.5, App. D): one ``torch.autograd.Function`` per chunk of a few
tens of substeps, gradients of the chunk's inputs clipped inside its backward.

Forward runs the chunk without a tape (cheap); backward re-runs it from the saved inputs under a ``wp.Tape``
(recomputation, so memory stays O(chunk) for any clip length), seeds the output gradients (copies, as the Warp
docs require), calls ``tape.backward()``, clips each input gradient to ``clip_norm`` and hands it to torch.

Quaternions here are Newton's (x, y, z, w); the SDK's wxyz is converted at the tracker boundary only.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import ArticulateError
from .model import NewtonScene


class SimulationDiverged(ArticulateError):
    """Non-finite simulator state: names the frame and the bone."""

    def __init__(self, frame: int, bone: str, substep: int):
        self.frame, self.bone, self.substep = frame, bone, substep
        super().__init__(f"simulation diverged at frame {frame} (substep {substep}): bone '{bone}' has a non-finite state")


_KERNELS = {}


def _upright_kernel(wp):
    if "upright" not in _KERNELS:
        @wp.kernel
        def upright_torque(body_q: wp.array(dtype=wp.transform), body_qd: wp.array(dtype=wp.spatial_vector),
                           local_up: wp.vec3, up0: wp.vec3, ke: float, kd: float, stride: int,
                           body_f: wp.array(dtype=wp.spatial_vector)):
            r = wp.tid() * stride  # the root body of world tid
            q = wp.transform_get_rotation(body_q[r])
            u = wp.quat_rotate(q, local_up)
            w = wp.spatial_bottom(body_qd[r])
            w_h = w - wp.dot(w, up0) * up0  # no damping of yaw: turning stays free
            tau = ke * wp.cross(u, up0) - kd * w_h
            wp.atomic_add(body_f, r, wp.spatial_vector(wp.vec3(0.0, 0.0, 0.0), tau))
        _KERNELS["upright"] = upright_torque
    return _KERNELS["upright"]


class ChunkRunner:
    """Owns the Warp states of one chunk (reused by every chunk) and runs it with or without a tape."""

    def __init__(self, scene: NewtonScene, up_local: np.ndarray, up0: np.ndarray, *, upright: bool = True):
        self.scene = scene
        wp = scene.wp
        self.wp = wp
        self.K = scene.cfg.chunk
        self.states = [scene.model.state() for _ in range(self.K + 1)]
        self.control = scene.model.control()
        self.kernel = _upright_kernel(wp)
        self.up_local = wp.vec3(*np.asarray(up_local, dtype=float))
        self.up0 = np.asarray(up0, dtype=float)  # default world up target (the root's frame-0 up)
        self.upright = upright
        # upright gains are given relative to the character's weight × height (ours): M·g·H per rad
        mgh = float(scene.masses.sum()) * 9.81 * scene.cfg.height_m
        self.upright_ke, self.upright_kd = scene.cfg.upright_ke * mgh, scene.cfg.upright_kd * mgh
        self.grad_norms: list[float] = []  # per-chunk, pre-clip, for the gradient-hygiene report

    def _load(self, q: torch.Tensor, qd: torch.Tensor, target: torch.Tensor):
        wp = self.wp
        s0, dev = self.states[0], self.states[0].body_q.device
        s0.body_q.assign(wp.array(q.detach().cpu().numpy().astype(np.float32), dtype=wp.transform, device=dev))
        s0.body_qd.assign(wp.array(qd.detach().cpu().numpy().astype(np.float32), dtype=wp.spatial_vector, device=dev))
        self.control.joint_target_q.assign(wp.array(target.detach().cpu().numpy().astype(np.float32), device=dev))

    def _run(self, n: int, up=None):
        sc, cfg, wp = self.scene, self.scene.cfg, self.wp
        up = wp.vec3(*(self.up0 if up is None else np.asarray(up, dtype=float)))
        sc.pipeline.collide(self.states[0], sc.contacts)
        for i in range(n):
            s, s1 = self.states[i], self.states[i + 1]
            s.clear_forces()
            if self.upright and cfg.upright_ke > 0:
                wp.launch(self.kernel, dim=1, inputs=[s.body_q, s.body_qd, self.up_local, up,
                                                      float(self.upright_ke), float(self.upright_kd), 0],
                          outputs=[s.body_f], device=s.body_q.device)
            sc.solver.step(s, s1, self.control, sc.contacts, cfg.dt)

    def forward(self, q, qd, target, n: int, up=None):
        self._load(q, qd, target)
        self._run(n, up)
        out = self.states[n]
        return (torch.from_numpy(out.body_q.numpy().copy()).to(q.dtype),
                torch.from_numpy(out.body_qd.numpy().copy()).to(q.dtype))

    def backward(self, q, qd, target, n: int, gq, gqd, clip: float, up=None):
        wp = self.wp
        self._load(q, qd, target)
        for s in self.states[: n + 1]:
            for a in (s.body_q, s.body_qd, s.body_f):
                if a.grad is not None:
                    a.grad.zero_()
        if self.control.joint_target_q.grad is not None:
            self.control.joint_target_q.grad.zero_()
        tape = wp.Tape()
        with tape:
            self._run(n, up)
        out = self.states[n]
        dev = out.body_q.device
        grads = {out.body_q: wp.array(gq.detach().cpu().numpy().astype(np.float32), dtype=wp.transform, device=dev),
                 out.body_qd: wp.array(gqd.detach().cpu().numpy().astype(np.float32), dtype=wp.spatial_vector,
                                       device=dev)}
        tape.backward(grads=grads)
        s0 = self.states[0]
        res = []
        norms = []
        for a in (s0.body_q.grad, s0.body_qd.grad, self.control.joint_target_q.grad):
            g = torch.from_numpy(a.numpy().copy()).to(q.dtype).reshape(-1)
            g = torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0) if not torch.isfinite(g).all() else g
            nrm = float(g.norm())
            norms.append(nrm)
            if nrm > clip:  # the chunked clipping of App. D
                g = g * (clip / nrm)
            res.append(g)
        self.grad_norms.append(max(norms))
        tape.zero()
        tape.reset()
        return res[0].reshape(q.shape), res[1].reshape(qd.shape), res[2].reshape(target.shape)


class SimChunk(torch.autograd.Function):
    """(q [B, 7], qd [B, 6], target [n_target]) -> (q', qd') after ``n`` substeps; clipped input gradients.
    ``up``: the world up direction the root's upright torque pulls towards during this chunk (None: frame 0's)."""

    @staticmethod
    def forward(ctx, runner: ChunkRunner, n: int, q, qd, target, up=None):
        ctx.runner, ctx.n, ctx.up = runner, n, up
        ctx.save_for_backward(q, qd, target)
        return runner.forward(q, qd, target, n, up)

    @staticmethod
    def backward(ctx, gq, gqd):
        q, qd, target = ctx.saved_tensors
        r = ctx.runner
        g = r.backward(q, qd, target, ctx.n, gq, gqd, r.scene.cfg.clip_norm, ctx.up)
        return None, None, *g, None


def check_finite(q: torch.Tensor, qd: torch.Tensor, names: list[str], frame: int, substep: int):
    bad = ~(torch.isfinite(q).all(1) & torch.isfinite(qd).all(1) & (q[:, :3].abs().amax(1) < 1e4))
    if bad.any():
        raise SimulationDiverged(frame, names[int(torch.nonzero(bad)[0])], substep)
