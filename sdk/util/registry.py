"""A small name -> implementation registry for pluggable methods (skinning, clustering, motion priors, axis
estimators). Unknown names are the caller's input: :class:`sdk.errors.InvalidInputError` naming the choices."""
from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from ..errors import InvalidInputError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, field: str = "method"):
        self.kind, self.field = kind, field
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T | None = None):
        """``registry.register("name", obj)`` or as a decorator ``@registry.register("name")``."""
        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj
        return add(item) if item is not None else add

    def get(self, name: str) -> T:
        if name not in self._items:
            raise InvalidInputError(f"unknown {self.kind} '{name}' (use one of {', '.join(self._items)})",
                                    field=self.field)
        return self._items[name]

    def names(self, where: Callable[[T], bool] | None = None) -> tuple[str, ...]:
        return tuple(k for k, v in self._items.items() if where is None or where(v))

    def __contains__(self, name) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)
