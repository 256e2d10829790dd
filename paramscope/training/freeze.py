"""``--freeze PREFIX``: which parameters are frozen, applied to a graph or a meta model."""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from paramscope.errors import ParamscopeError
from paramscope.graph import Graph, ParamInfo


def frozen_by(name: str, prefixes: Iterable[str]) -> bool:
    """True when parameter ``name`` (``layer1.0.conv1.weight``) lies under a module prefix
    (``layer1``, ``layer1.0``; ``layer1`` does not cover ``layer10``)."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def check_prefixes(prefixes: Iterable[str], names: Iterable[str], label: str) -> tuple[str, ...]:
    """The prefixes, each validated against the parameter names it must cover."""
    prefixes, names = tuple(dict.fromkeys(prefixes)), list(names)
    for p in prefixes:
        if not p or not any(frozen_by(n, [p]) for n in names):
            raise ParamscopeError(f"--freeze {p!r}: no parameter of {label} lies under that module "
                                  "name (give a module prefix such as layer1 or layer1.0.conv1)")
    return prefixes


def freeze_model(model, prefixes: Iterable[str], label: str = "the model"):
    """Set ``requires_grad=False`` on ``model``'s parameters under ``prefixes``; returns it."""
    prefixes = check_prefixes(prefixes, [n for n, _ in model.named_parameters()], label)
    for name, p in model.named_parameters():
        if frozen_by(name, prefixes):
            p.requires_grad_(False)
    return model


def freeze_graph(graph: Graph, prefixes: Iterable[str], label: str = "the model") -> Graph:
    """``graph`` with ``ParamInfo.trainable=False`` on the parameters under ``prefixes``."""
    names = [f"{n.name}.{p}".lstrip(".") for n in graph for p in n.params]
    names += [f"{m}.{p}".lstrip(".") for m, ps in graph.container_params.items() for p in ps]
    prefixes = check_prefixes(prefixes, names, label)

    def infos(owner: str, params) -> dict[str, ParamInfo]:
        return {p: replace(i, trainable=i.trainable and not frozen_by(f"{owner}.{p}".lstrip("."), prefixes))
                for p, i in params.items()}

    graph.nodes = [replace(n, params=infos(n.name, n.params)) for n in graph.nodes]
    graph.container_params = {m: infos(m, ps) for m, ps in graph.container_params.items()}
    return graph
