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
    from sdk.procedural.tube import parted_tube
    return parted_tube(1200, 250)


def wait_idle(server, timeout=30.0):
    """The job queue has nothing queued or running (cancelled work really stopped)."""
    assert server.servicer.queue.drain(timeout), "jobs still running after cancellation"


def still_serving(client, rigged):
    """A small rig succeeds and health says SERVING."""
    a, parts = rigged["RiggedFigure"]
    rig = client.rig(a.mesh, parts)
    assert rig.skin.n_vertices == a.mesh.n_vertices
    assert client.health() == "SERVING"
