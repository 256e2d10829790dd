"""Measurers: one small class per counting tool, imported lazily (no torch import here).

``MEASURERS["fvcore"]`` is the class; importing it imports the tool's module only then.
"""

from __future__ import annotations

from importlib import import_module
from typing import Iterator, Mapping

from paramscope.errors import ParamscopeError, closest

_PATHS = {
    "torchinfo": "paramscope.measure.torchinfo:TorchinfoMeasurer",
    "fvcore": "paramscope.measure.fvcore:FvcoreMeasurer",
    "flop_counter": "paramscope.measure.flop_counter:FlopCounterMeasurer",
    "flop_counter_cpu": "paramscope.measure.flop_counter:CpuFlopCounterMeasurer",
}


class _LazyRegistry(Mapping):
    """Tool name -> measurer class, importing each class on first access."""

    def __init__(self, paths: dict[str, str]) -> None:
        self._paths = paths

    def __getitem__(self, name: str):
        if name not in self._paths:
            raise ParamscopeError(f"unknown measurer {name!r}{closest(name, self._paths)}; "
                                  f"valid: {', '.join(self._paths)}")
        module, _, cls = self._paths[name].partition(":")
        return getattr(import_module(module), cls)

    def __contains__(self, name) -> bool:
        return name in self._paths

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


MEASURERS: Mapping[str, type] = _LazyRegistry(_PATHS)

#: measurers that run only when named (``--measure time``), never under ``--measure all``:
#: they run the model for real and their figures vary from run to run.
OPT_IN_MEASURERS: Mapping[str, type] = _LazyRegistry({
    "time": "paramscope.measure.timing:TimeMeasurer",
})

__all__ = ["MEASURERS", "OPT_IN_MEASURERS"]
