"""A real ArticulateService on loopback (in-process), a client, and shared-data inputs."""
from __future__ import annotations

import numpy as np
import pytest

from sdk.client import RemoteArticulator
from sdk.server.server import ServerOptions, start_server

TOKEN = "test-token-0123456789"


@pytest.fixture(scope="session")
def server():
    running = start_server(ServerOptions(port=0, tokens=[TOKEN], workers=1, queue_capacity=8))
    yield running
    running.shutdown(grace=5)


@pytest.fixture(scope="session")
def client(server):
    c = RemoteArticulator(server.target, token=TOKEN, timeout=120)
    yield c
    c.close()


@pytest.fixture(scope="session")
def rigged(shared_data):
    """name -> (Asset, PartLabels from its skin) for a few shared rigged assets."""
    from sdk.io import load_asset
    out = {}
    for name, rel in [("RiggedFigure", "rigged/RiggedFigure/RiggedFigure.glb"), ("Fox", "rigged/Fox/Fox.glb"),
                      ("CesiumMan", "rigged/CesiumMan/CesiumMan.glb"), ("BrainStem", "rigged/BrainStem/BrainStem.glb")]:
        a = load_asset(shared_data / rel)
        a.mesh.validate()
        out[name] = (a, a.parts_from_skin().validate(a.mesh.n_vertices))
    return out


@pytest.fixture(scope="session")
def big_tube():
    """A 300k-vertex parted tube: several seconds of rigging (100k took ~1.1 s warm on a quiet 2-core machine), for
    deadline and cancel tests on fast machines too (those jobs are stopped long before they finish)."""
    from sdk.core import Mesh, PartLabels
    rings, segs = 1200, 250
    xs = np.linspace(0, 4.0, rings)
    th = np.linspace(0, 2 * np.pi, segs, endpoint=False)
    r = (0.3 + 0.05 * np.sin(xs * 3))[:, None]
    v = np.stack([np.repeat(xs[:, None], segs, 1), r * np.cos(th), r * np.sin(th)], -1).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(rings - 1), np.arange(segs), indexing="ij")
    a, b = i * segs + j, i * segs + (j + 1) % segs
    f = np.concatenate([np.stack([a, a + segs, b], -1).reshape(-1, 3), np.stack([b, a + segs, b + segs], -1).reshape(-1, 3)])
    lab = np.minimum((v[:, 0] / 4.0 * 4).astype(int), 3)
    return Mesh(v, f, name="tube"), PartLabels(lab, ["p0", "p1", "p2", "p3"])


def wait_idle(server, timeout=30.0):
    """The job queue has nothing queued or running (cancelled work really stopped)."""
    assert server.servicer.queue.drain(timeout), "jobs still running after cancellation"


def still_serving(client, rigged):
    """A small rig succeeds and health says SERVING."""
    a, parts = rigged["RiggedFigure"]
    rig = client.rig(a.mesh, parts)
    assert rig.skin.n_vertices == a.mesh.n_vertices
    assert client.health() == "SERVING"
