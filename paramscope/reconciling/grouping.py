"""Grouping layer rows: the module tree (``summary``), by module depth (``explain``) and
into stages (``compare``).

Pure data over a Report; every row lands in exactly one group, so group
subtotals add up to the report's totals (container-owned parameters, which no
row carries, are ``Report.extra_params``: the tree puts them on their module).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from paramscope.reconciling.report import LayerRow, Report

#: leaf kinds that end a stage of a flat network (VGG: conv, relu, conv, relu, *maxpool*)
DOWNSAMPLE_KINDS = frozenset({"MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d"})


@dataclass
class Group:
    name: str
    kind: str
    rows: list[LayerRow] = field(default_factory=list)
    extra: int = 0  # parameters no row carries (a container's own), counted here

    @property
    def params(self) -> int:
        return sum(r.params for r in self.rows) + self.extra

    @property
    def trainable_params(self) -> int:
        return sum(r.trainable_params for r in self.rows) + self.extra

    @property
    def macs(self) -> int:
        return sum(r.cost.macs or 0 for r in self.rows)

    @property
    def flops(self) -> int:
        return sum(r.cost.flops or 0 for r in self.rows)

    @property
    def activation_bytes(self) -> int:
        return sum(r.activation_bytes for r in self.rows)

    @property
    def out_shape(self):
        return self.rows[-1].node.out_shape if self.rows else ()

    @property
    def in_shape(self):
        return self.rows[0].node.in_shape if self.rows else ()

    @property
    def span(self) -> str:
        """First and last layer of the group: ``conv1..maxpool``."""
        if not self.rows:
            return ""
        first, last = self.rows[0].node.key, self.rows[-1].node.key
        return first if first == last else f"{first}..{last}"

    def split(self, name: str) -> int:
        """Sum of one parameter kind (``"weight"``, ``"bias"``) over the group."""
        return sum(r.cost.params.get(name, 0) for r in self.rows)


def _parts(name: str) -> list[str]:
    return name.split(".") if name else []


def group_by_depth(report: Report, depth: int) -> list[Group]:
    """Rows grouped by the first ``depth`` components of their module name.

    depth 1 for resnet50: conv1, bn1, relu, maxpool, layer1 … layer4, avgpool,
    flatten, fc.  A functional op recorded inside a shallower module (a
    residual ``add``) gets its own group ``<module>:<op>``.
    """
    if depth < 1:
        raise ValueError("depth must be >= 1")
    groups: dict[str, Group] = {}
    for row in report.layers:
        parts = _parts(row.node.name)
        if len(parts) < depth and row.node.is_functional:
            key = f"{row.node.name}:{row.node.kind}" if row.node.name else f"(root):{row.node.kind}"
            kind = row.node.kind
        else:
            key = ".".join(parts[:depth]) or "(root)"
            kind = report.modules.get(".".join(parts[:depth]), row.node.kind if len(parts) <= depth else "")
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(key, kind)
        group.rows.append(row)
    return list(groups.values())


# --------------------------------------------------------------------------- the module tree


@dataclass
class TreeNode:
    """One row of torchinfo's summary: a module call, with the module calls and functional
    ops beneath it, or a functional op (``add``) under the module that called it."""

    name: str  # qualified module name ("" the root); a functional op: its caller's name
    kind: str  # class name (``Bottleneck``) or the op's kind (``add``)
    depth: int  # 0 the root, 1 its children ...
    functional: bool = False
    rows: list[LayerRow] = field(default_factory=list)  # the layer calls recorded at this node
    extra: int = 0  # parameters this module owns that no row carries
    children: list["TreeNode"] = field(default_factory=list)
    #: torchinfo's depth-idx: the n-th module row at this depth (None for the root and ops)
    index: int | None = None
    repeat: bool = False  # a later call of a module already shown (torchinfo's "recursive")

    @property
    def var_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    def walk(self):
        """This node and every node beneath, in forward order (torchinfo's row order)."""
        yield self
        for child in self.children:
            yield from child.walk()

    def group(self, folded: bool) -> Group:
        """This node's own figures, or with ``folded`` its whole subtree's (a subtotal)."""
        nodes = list(self.walk()) if folded else [self]
        return Group(self.name, self.kind, [r for n in nodes for r in n.rows], sum(n.extra for n in nodes))

    @property
    def height(self) -> int:
        """Depth of the deepest node beneath (this node's own when it has none)."""
        return max((c.height for c in self.children), default=self.depth)


def module_tree(report: Report) -> TreeNode:
    """The report's layer calls as torchinfo's module hierarchy.

    A row goes under its module's ancestors (opened in call order, re-opened after
    another module ran in between, as torchinfo's container rows); a functional op goes
    under the module that called it.  A module row closes its module's call: a
    composite module (its ops recorded first) is one node with its own row.  Depth
    indices count module rows per depth over the whole tree, as torchinfo's.
    """
    root = TreeNode("", report.modules.get("", "") or report.target, 0)
    stack = [root]  # the open module calls; stack[d] is at depth d
    seen: set[str] = set()

    def open_path(parts: list[str]) -> None:
        keep = 0
        while keep < len(parts) and keep + 1 < len(stack) and stack[keep + 1].name == ".".join(parts[:keep + 1]):
            keep += 1
        del stack[keep + 1:]
        for d in range(keep, len(parts)):
            name = ".".join(parts[:d + 1])
            stack.append(_child(stack[-1], TreeNode(name, report.modules.get(name, ""), d + 1,
                                                    repeat=name in seen)))
            seen.add(name)

    for row in report.layers:
        parts = _parts(row.node.name)
        if row.node.is_functional:
            open_path(parts)
            _child(stack[-1], TreeNode(row.node.name, row.node.kind, len(parts) + 1, True, [row]))
            continue
        if len(parts) < len(stack) and stack[len(parts)].name == row.node.name:
            stack[len(parts)].rows.append(row)  # the module whose ops were recorded first
            del stack[max(len(parts), 1):]  # its call ends here
            continue
        open_path(parts[:-1])
        _child(stack[-1], TreeNode(row.node.name, report.modules.get(row.node.name, row.node.kind),
                                   len(parts), rows=[row], repeat=row.node.name in seen))
        seen.add(row.node.name)
    _place_extra(root, report)
    counters: dict[int, int] = {}
    for node in root.walk():
        if node.depth and not node.functional:
            counters[node.depth] = node.index = counters.get(node.depth, 0) + 1
    return root


def _child(parent: TreeNode, node: TreeNode) -> TreeNode:
    parent.children.append(node)
    return node


def _place_extra(root: TreeNode, report: Report) -> None:
    """Container-owned (and unused modules') parameters on their module's first row, else
    on the nearest shown ancestor's; whatever the report does not place, on the root."""
    first: dict[str, TreeNode] = {}
    for node in root.walk():
        if not node.functional:
            first.setdefault(node.name, node)
    placed = 0
    for name, count in report.extra_by_module.items():
        parts = _parts(name)
        while ".".join(parts) not in first:
            parts.pop()
        first[".".join(parts)].extra += count
        placed += count
    root.extra += report.extra_params - placed


def visible_rows(root: TreeNode, depth: int) -> list[tuple[TreeNode, Group]]:
    """torchinfo's rows at ``depth``: every node down to ``depth``, each with its figures.

    A node at ``depth``, or with nothing beneath, carries its whole subtree (deeper rows
    fold into it); a node with children shown carries only its own figures (a container's
    own parameters, a composite module's row), so the figures of the rows add up to the
    totals at every depth.
    """
    if depth < 1:
        raise ValueError("depth must be >= 1")
    out = []
    for node in root.walk():
        if node.depth <= depth:
            out.append((node, node.group(folded=node.depth == depth or not node.children)))
    return out


# --------------------------------------------------------------------------- stages


def container_names(report: Report) -> set[str]:
    """Every module name that has sub-modules (from Report.modules and the rows' names)."""
    out: set[str] = set()
    for name in (*report.modules, *(r.node.name for r in report.layers)):
        parts = _parts(name)
        for k in range(1, len(parts)):
            out.add(".".join(parts[:k]))
    return out


def stage_prefix(report: Report) -> str:
    """The module prefix the stages live under: ``""`` for a network, ``"block."`` for a
    model that is one container (descend while a single child holds every row)."""
    prefix = ""
    containers = container_names(report)
    for _ in range(32):
        firsts = set()
        for row in report.layers:
            rel = _relative(row.node.name, prefix)
            if rel is None:
                return prefix
            firsts.add(rel.split(".")[0] if rel else "")
        if len(firsts) != 1:
            return prefix
        (only,) = firsts
        if not only or prefix + only not in containers:
            return prefix
        prefix = prefix + only + "."  # rows recorded at the container itself stay inside it
    return prefix


def _relative(name: str, prefix: str) -> str | None:
    if not prefix:
        return name
    if name == prefix[:-1]:
        return ""
    return name[len(prefix):] if name.startswith(prefix) else None


def _row_label(row: LayerRow, prefix: str) -> str:
    rel = _relative(row.node.name, prefix) or ""
    return rel if rel and not row.node.is_functional else (f"{rel}:{row.node.kind}" if rel else row.node.kind)


def stages(report: Report) -> list[Group]:
    """Per-stage groups: top-level children (below :func:`stage_prefix`).

    Containers (``layer1``, ``features``) are stages of their own.  Runs of
    consecutive leaf layers are merged: before the first container ``stem``,
    after the last ``head`` (when there are at least two containers), else named
    by their first and last layer (``conv1..conv3``).  A flat network (no
    containers, like the VGG stem) is cut after each down-sampling pool.
    """
    prefix = stage_prefix(report)
    names = container_names(report)
    runs: list[tuple[str | None, list[LayerRow]]] = []  # (container name | None for leaves, rows)
    for row in report.layers:
        rel = _relative(row.node.name, prefix) or ""
        first = rel.split(".")[0] if rel else ""
        container = first if first and prefix + first in names else None
        if runs and runs[-1][0] == container:
            runs[-1][1].append(row)
        else:
            runs.append((container, [row]))
    containers = [i for i, (c, _) in enumerate(runs) if c is not None]
    network = len(containers) >= 2
    groups: list[Group] = []
    for i, (container, rows) in enumerate(runs):
        if container is not None:
            groups.append(Group(prefix + container if prefix else container,
                                report.modules.get(prefix + container, ""), rows))
            continue
        if not containers:
            groups.extend(_cut_at_pools(rows, prefix))
            continue
        if network and i < containers[0]:
            name = "stem"
        elif network and i > containers[-1]:
            name = "head"
        elif network and groups and not any(r.params or r.cost.macs for r in rows):
            groups[-1].rows.extend(rows)  # a pool between two stages belongs to the one before
            continue
        else:
            name = _range_name(rows, prefix)
        groups.append(Group(name, "layers", rows))
    return groups


def _range_name(rows: list[LayerRow], prefix: str) -> str:
    labels = [_row_label(r, prefix).split("#")[0] for r in rows]
    first, last = labels[0], labels[-1]
    return first if first == last else f"{first}..{last}"


def _cut_at_pools(rows: list[LayerRow], prefix: str) -> list[Group]:
    out: list[Group] = []
    current: list[LayerRow] = []
    for row in rows:
        current.append(row)
        if row.node.kind in DOWNSAMPLE_KINDS:
            out.append(Group(_range_name(current, prefix), "layers", current))
            current = []
    if current:
        if out and not any(r.params or r.cost.macs for r in current):
            out[-1].rows.extend(current)  # a trailing flatten/relu joins the last stage
            out[-1].name = _range_name(out[-1].rows, prefix)
        else:
            out.append(Group(_range_name(current, prefix), "layers", current))
    return out
