"""The one typed configuration of rigging from parts, validated once when it is built (facade, CLI and server all
construct this; ``rig_from_parts`` takes its fields)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import InvalidInputError
from .budget import check_budget
from .methods import DEFAULT_METHOD, SKINNING


@dataclass(frozen=True)
class RigConfig:
    method: str = DEFAULT_METHOD          # a name of sdk.rigging.methods.SKINNING: pairwise (default) | harmonic | heat
    max_influences: int = 4               # 1..MAX_INFLUENCES (sdk.rigging.budget)
    max_bones: int | None = None          # merge parts by contact until at most this many joints
    root: str | int | None = None         # root part (name or index); default: most central
    quantize_bits: int | None = None      # 8 | 16: weights in exact multiples of 1 / (2^bits - 1)
    parts_from_skin: bool = False         # parts = argmax of the input's skin (evaluation)
    blend: float | None = None            # harmonic / pairwise band half-width in radii (None: the method's default)

    def __post_init__(self):
        SKINNING.get(self.method)
        check_budget(self.max_influences, self.max_bones, self.quantize_bits)
        if self.blend is not None:
            try:
                ok = float(self.blend) >= 0 and float(self.blend) < float("inf")
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise InvalidInputError(f"blend must be a finite number >= 0, got {self.blend!r}", field="blend")

    def method_kwargs(self) -> dict:
        """The keywords of ``rig_from_parts`` (everything but ``parts_from_skin``, which picks the parts)."""
        d = asdict(self)
        d.pop("parts_from_skin")
        return d
