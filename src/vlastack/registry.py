"""Find things by name, and say clearly which names exist when one is wrong."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from vlastack.errors import ConfigError

T = TypeVar("T")


def unknown_name_error(kind: str, name: str, valid: Iterable[str]) -> ConfigError:
    """A ConfigError (a ValueError) that names the bad value, suggests the nearest valid one and lists them all."""
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"unknown {kind} {name!r}.{hint} Valid {kind}s: {', '.join(valid)}")


class Registry(Generic[T]):
    """A name -> object table; ``get`` of an unknown name raises :func:`unknown_name_error`."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = item
            return item

        return add

    def get(self, name: str) -> T:
        if name not in self._items:
            raise unknown_name_error(self.kind, name, self._items)
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items


def call_builder(builder: Callable[..., T], what: str, field: str, options: dict, *args) -> T:
    """``builder(*args, **options)``, refusing option names it does not take with an error that names ``field``.

    Registered builders declare their settings as keyword parameters; a typo in a config's option
    dict is reported here, when the model is built, instead of as a TypeError from deep inside.
    """
    import inspect

    params = inspect.signature(builder).parameters.values()
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        accepted = [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)][len(args) :]
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise ConfigError(f"{field} {unknown} are not settings of the {what}; it takes: {', '.join(accepted) or 'none'}")
    return builder(*args, **options)
