"""Only the client's input maps to INVALID_ARGUMENT: a plain ValueError / KeyError inside the SDK is a bug."""
from __future__ import annotations

import pytest

grpc = pytest.importorskip("grpc")

from sdk.errors import AssetReadError, Cancelled, InvalidInputError  # noqa: E402
from sdk.server.jobs import outcome_of  # noqa: E402


def test_outcome_codes():
    assert outcome_of(InvalidInputError("bad", field="parts")).code == grpc.StatusCode.INVALID_ARGUMENT
    assert outcome_of(InvalidInputError("bad", field="parts")).field == "parts"
    assert outcome_of(AssetReadError("x.obj", "truncated")).code == grpc.StatusCode.INVALID_ARGUMENT
    for bug in (ValueError("oops"), KeyError("k"), IndexError("i")):
        assert outcome_of(bug).code == grpc.StatusCode.INTERNAL
    assert outcome_of(Cancelled("stop")).code == grpc.StatusCode.CANCELLED


def test_one_influence_bound_everywhere():
    from sdk.rigging.budget import MAX_INFLUENCES, check_budget
    from sdk.rigging.config import RigConfig
    check_budget(MAX_INFLUENCES, None, None)
    for bad in (0, MAX_INFLUENCES + 1, True, 2.5):
        with pytest.raises(InvalidInputError) as e:
            RigConfig(max_influences=bad)
        assert e.value.field == "max_influences"
    with pytest.raises(InvalidInputError, match="unknown skinning method 'nope'"):
        RigConfig(method="nope")
