"""Resolve a spec document into a module tree and a layer graph (pure Python).

One walk does everything: parameters and ``${...}`` expressions are evaluated,
templates instantiated, ``repeat`` expanded, ``when`` applied, arguments
validated, shapes inferred, module names assigned and layer calls emitted in
forward order.  The module tree feeds :mod:`paramscope.build`; the graph feeds
the formulas.  Every error names the file, line and layer path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from paramscope.errors import LimitError, ParamscopeError, SpecError, closest
from paramscope.spec.budget import budgeted, charge, limit
from paramscope.graph import Graph, LayerNode, ParamInfo, Shape, shape_text
from paramscope.spec.document import Document, Template
from paramscope.spec.expr import has_expression, substitute
from paramscope.spec.kinds import KINDS, Leaf
from paramscope.spec.yamlsafe import Map, Seq, line_of

MAX_CALLS = 100_000  # layer calls in one network (default of the 'layers' budget limit)
MAX_REPEAT_ITERATIONS = 100_000  # repeat copies expanded in one network, empty ones included
MAX_TEMPLATE_DEPTH = 32
MAX_NAME = 200  # characters of one module name
STRUCTURAL = ("sequential", "residual", "repeat", "use", "check")
ITEM_KEYS = ("name", "when")
ALL_KINDS = tuple(KINDS) + STRUCTURAL
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
# attributes of torch.nn.Module (torch 2.x) a child module may not shadow
RESERVED_NAMES = frozenset({
    'T_destination', '__annotations__', '__call__', '__class__', '__delattr__', '__dict__',
    '__dir__', '__doc__', '__eq__', '__format__', '__ge__', '__getattr__', '__getattribute__',
    '__getstate__', '__gt__', '__hash__', '__init__', '__init_subclass__', '__le__', '__lt__',
    '__module__', '__ne__', '__new__', '__reduce__', '__reduce_ex__', '__repr__', '__setattr__',
    '__setstate__', '__sizeof__', '__str__', '__subclasshook__', '__weakref__', '_apply',
    '_backward_hooks', '_backward_pre_hooks', '_buffers', '_call_impl', '_compiled_call_impl',
    '_forward_hooks', '_forward_hooks_always_called', '_forward_hooks_with_kwargs',
    '_forward_pre_hooks', '_forward_pre_hooks_with_kwargs', '_get_backward_hooks',
    '_get_backward_pre_hooks', '_get_name', '_is_full_backward_hook', '_load_from_state_dict',
    '_load_state_dict_post_hooks', '_load_state_dict_pre_hooks',
    '_maybe_warn_non_full_backward_hook', '_modules', '_named_members',
    '_non_persistent_buffers_set', '_parameters', '_register_load_state_dict_pre_hook',
    '_register_state_dict_hook', '_replicate_for_data_parallel', '_save_to_state_dict',
    '_slow_forward', '_state_dict_hooks', '_state_dict_pre_hooks', '_version',
    '_wrapped_call_impl', 'add_module', 'apply', 'bfloat16', 'buffers',
    'call_super_init', 'children', 'compile', 'cpu', 'cuda', 'double', 'dump_patches', 'eval',
    'extra_repr', 'float', 'forward', 'get_buffer', 'get_extra_state', 'get_parameter',
    'get_submodule', 'half', 'ipu', 'load_state_dict', 'modules', 'mtia', 'named_buffers',
    'named_children', 'named_modules', 'named_parameters', 'parameters',
    'register_backward_hook', 'register_buffer', 'register_forward_hook',
    'register_forward_pre_hook', 'register_full_backward_hook',
    'register_full_backward_pre_hook', 'register_load_state_dict_post_hook',
    'register_load_state_dict_pre_hook', 'register_module', 'register_parameter',
    'register_state_dict_post_hook', 'register_state_dict_pre_hook', 'requires_grad_',
    'set_extra_state', 'set_submodule', 'share_memory', 'state_dict', 'to',
    'to_empty', 'train', 'training', 'type', 'xpu', 'zero_grad'
})


@dataclass
class Module:
    """A module of the resolved tree: a leaf layer, a chain or a residual block."""

    name: str
    qualname: str
    kind: str  # "leaf" | "chain" | "residual"
    spec_kind: str  # conv, sequential, residual, ...
    path: str
    leaf: Leaf | None = None
    children: dict[str, "Module"] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # call order (chain) / body order (residual)
    shortcut: str | None = None
    activation: list[str] = field(default_factory=list)  # post-sum layers, in call order
    in_shape: Shape = ()
    out_shape: Shape = ()
    #: the template this container instantiates (``bottleneck``), "" when none
    template: str = ""

    @property
    def class_name(self) -> str:
        """The class the built module has: the leaf's torch.nn class; a container's template
        in CamelCase (``bottleneck`` -> ``Bottleneck``), else ``Residual`` / ``Sequential``."""
        if self.leaf:
            return self.leaf.torch_kind
        return container_class_name(self.template, "Residual" if self.kind == "residual" else "Sequential")

    def walk(self, prefix_first: bool = True) -> Iterator["Module"]:
        yield self
        for child in self.children.values():
            yield from child.walk()


def container_class_name(template: str, default: str) -> str:
    """``basic_block`` -> ``BasicBlock``; ``default`` when the template is unnamed, its name is
    no identifier or would pass for a layer class (``conv2d``)."""
    from paramscope.formulas import registered_kinds

    name = "".join(part[:1].upper() + part[1:] for part in re.split(r"[_-]+", template))
    return name if name.isidentifier() and name not in registered_kinds() else default


@dataclass
class Resolved:
    """A resolved spec: final parameter values, module tree and layer graph."""

    name: str
    description: str
    file: str
    params: dict[str, Any]
    input_shape: Shape  # batch included
    root: Module
    graph: Graph


@dataclass(frozen=True)
class Where:
    file: str
    path: str
    line: int | None

    def at(self, container: Any, key: Any, suffix: str) -> "Where":
        return Where(self.file, self.path + suffix, line_of(container, key) or self.line)


def _located(err: ParamscopeError, where: Where) -> ParamscopeError:
    return err.located(file=where.file, line=where.line, path=where.path)


def _eval(value: Any, scope: dict[str, Any]) -> Any:
    if isinstance(value, list):
        charge("work", len(value))
        return [_eval(v, scope) for v in value]
    if isinstance(value, dict):
        charge("work", len(value))
        return {k: _eval(v, scope) for k, v in value.items()}
    return substitute(value, scope) if has_expression(value) else value


def _is_check(item: Any) -> bool:
    return isinstance(item, dict) and "check" in item


def _module_items(items: list) -> list:
    """The items that make modules (``check`` items only validate)."""
    return [item for item in items if not _is_check(item)]


def _check_name(name: Any) -> str:
    text = str(name) if isinstance(name, (str, int)) and not isinstance(name, bool) else None
    if text is None or not _NAME.match(text):
        raise SpecError(f"name must be letters, digits, '_' or '-' (no dots), got {_short(name)}")
    if len(text) > MAX_NAME:
        raise LimitError(f"name of {len(text):,} characters is longer than {MAX_NAME} (limit 'name length')")
    if text in RESERVED_NAMES:
        raise SpecError(f"name {text!r} is an attribute of torch.nn.Module; choose another")
    return text


def _check_tensors(kind: str, leaf: Leaf) -> None:
    """Every tensor a layer makes must be one torch could hold (numel ≤ 2^59)."""
    from paramscope.tracing.inputs import MAX_NUMEL

    for what, shape in (("output", leaf.out_shape), *((f"{p} parameter", s) for p, s in leaf.params.items())):
        numel = 1
        for d in shape:
            numel *= d
        if numel > MAX_NUMEL:
            raise LimitError(f"{kind} {what} of shape {'×'.join(map(str, shape))} has more elements than "
                             "a tensor can hold (2^59; limit 'tensor size')")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _shape_text(shape: Shape) -> str:
    return shape_text(shape, batch=False)


def parameter_values(declared: Map, given: dict[str, Any], base: dict[str, Any],
                     where: Where, what: str) -> dict[str, Any]:
    """Evaluate declared parameters in order; ``given`` values win; null means required."""
    for key in given:
        if key not in declared:
            raise SpecError(f"{what} has no parameter {key!r}{closest(key, declared)}; "
                            f"parameters: {', '.join(map(str, declared)) or 'none'}",
                            file=where.file, line=where.line, path=where.path)
    scope = dict(base)
    for key, default in declared.items():
        if key in given:
            scope[key] = given[key]
        elif default is None:
            raise SpecError(f"{what} needs a value for parameter {key!r}", file=where.file,
                            line=where.line, path=where.path)
        else:
            try:
                scope[key] = _eval(default, scope)
            except ParamscopeError as err:
                raise _located(err, where.at(declared, key, f".params.{key}")) from None
    return scope


class _Scope:
    """Children and call order of the container being filled."""

    def __init__(self, module: Module) -> None:
        self.module = module

    def next_name(self) -> str:
        return str(len(self.module.order))


class Resolver:
    def __init__(self, doc: Document, batch: int) -> None:
        self.doc = doc
        self.batch = batch
        self.nodes: list[LayerNode] = []
        self.calls: dict[str, int] = {}
        self.depth = 0
        self.iterations = 0
        self.max_calls = limit("layers")

    # -- entry -------------------------------------------------------------
    def resolve(self, overrides: dict[str, Any], input_shape: Shape | None) -> Resolved:
        doc, data = self.doc, self.doc.data
        top = Where(doc.file, "", data.line)
        if doc.is_library:
            raise SpecError("this file is a template library (no layers or use); "
                            "import it from a spec instead", file=doc.file)
        shape = input_shape or default_input(doc, self.batch)
        if shape is None:
            raise SpecError("spec has no input shape; add input: [C, H, W] or pass --input",
                            file=doc.file, line=data.line)
        scope: dict[str, Any]
        if "use" in data:
            template = self._template(data["use"], {}, top.at(data, "use", "use"))
            spec_params = parameter_values(data.get("params", Map()),
                                           {k: v for k, v in overrides.items() if k in data.get("params", {})},
                                           {}, top.at(data, "params", "params"), "this spec")
            given = {k: _eval(v, spec_params) for k, v in data.get("with", Map()).items()}
            given.update({k: v for k, v in overrides.items() if k not in data.get("params", {})})
            allowed = dict(template.params, **data.get("params", {}))
            unknown = [k for k in overrides if k not in allowed]
            if unknown:
                raise SpecError(f"--set {unknown[0]}: no such parameter{closest(unknown[0], allowed)}; "
                                f"parameters: {', '.join(map(str, allowed))}", file=doc.file)
            scope = parameter_values(template.params, given, self._shape_vars(shape),
                                     top.at(data, "with", "with"), f"template {template.name!r}")
            items, item_where = template.layers, Where(template.doc.file, "layers", template.line)
            public = {k: scope[k] for k in template.params}
        else:
            declared = data.get("params", Map())
            unknown = [k for k in overrides if k not in declared]
            if unknown:
                raise SpecError(f"--set {unknown[0]}: no such parameter{closest(unknown[0], declared)}; "
                                f"parameters: {', '.join(map(str, declared)) or 'none'}", file=doc.file)
            scope = parameter_values(declared, overrides, self._shape_vars(shape),
                                     top.at(data, "params", "params"), "this spec")
            items, item_where = data.get("layers"), top.at(data, "layers", "layers")
            public = {k: scope[k] for k in declared}
        if not isinstance(items, Seq) or not items:
            raise SpecError("layers must be a non-empty list", file=doc.file, line=item_where.line)
        root = Module("", "", "chain", "sequential", "layers", in_shape=shape,
                      template=template.name if "use" in data else "")
        out = self._items(items, item_where, scope, shape, _Scope(root))
        if not root.order:
            raise SpecError("no layers are left after when/repeat: the network is empty",
                            file=item_where.file, line=item_where.line, path="layers")
        root.out_shape = out
        graph = Graph(self.nodes, shape, source="spec",
                      modules={m.qualname: m.class_name for m in root.walk()})
        return Resolved(doc.name, doc.description, doc.file, public, shape, root, graph)

    @staticmethod
    def _shape_vars(shape: Shape) -> dict[str, Any]:
        return {"in_channels": shape[1], "in_shape": list(shape[1:])} if len(shape) > 1 else {}

    # -- items -------------------------------------------------------------
    def _items(self, items: Any, where: Where, scope: dict, shape: Shape, into: _Scope,
               name_override: str | None = None) -> Shape:
        if not isinstance(items, list):
            raise SpecError(f"expected a list of layers, got {type(items).__name__}",
                            file=where.file, line=where.line, path=where.path)
        single = len(_module_items(items)) == 1
        for i, item in enumerate(items):
            shape = self._item(item, where.at(items, i, f"[{i}]"), scope, shape, into,
                               name_override if single and not _is_check(item) else None)
        return shape

    def _item(self, item: Any, where: Where, scope: dict, shape: Shape, into: _Scope,
              name_override: str | None) -> Shape:
        try:
            charge("work")
            kind, args, extra = self._split(item)
            name = extra.get("name")
            when = extra.get("when", True)
            if has_expression(when):
                when = substitute(when, scope)
            if not isinstance(when, bool):
                raise SpecError(f"when must be true or false, got {when!r}")
            if not when:
                return shape
            if name is not None:
                name = _eval(name, scope)
                name = _check_name(name)
            name = name_override or name
            here = Where(where.file, f"{where.path}.{kind}", where.line)
            if kind == "sequential":
                return self._sequential(args, here, scope, shape, into, name)
            if kind == "residual":
                return self._residual(args, here, scope, shape, into, name)
            if kind == "repeat":
                if name is not None:
                    raise SpecError("repeat has no name of its own; name the layers inside it")
                return self._repeat(args, here, scope, shape, into)
            if kind == "use":
                return self._use(args, extra, here, scope, shape, into, name)
            if kind == "check":
                return self._check(args, scope, shape)
            return self._leaf(kind, args, here, scope, shape, into, name)
        except ParamscopeError as err:
            raise _located(err, where) from None

    @staticmethod
    def _split(item: Any) -> tuple[str, Map, dict]:
        if isinstance(item, str):
            if item not in KINDS:
                raise SpecError(f"unknown layer kind {item!r}{closest(item, ALL_KINDS)}")
            return item, Map(), {}
        if not isinstance(item, dict):
            raise SpecError(f"expected a layer (a kind name or a mapping like conv: {{...}}), "
                            f"got {item!r}")
        kinds = [k for k in item if k in ALL_KINDS]
        others = [k for k in item if k not in ALL_KINDS and k not in ITEM_KEYS and k != "with"]
        if others or not kinds:
            bad = (others or list(item) or ["(empty)"])[0]
            raise SpecError(f"unknown layer kind {bad!r}{closest(bad, ALL_KINDS)}; "
                            f"expected one of {', '.join(ALL_KINDS)}")
        if len(kinds) > 1:
            raise SpecError(f"one layer per list item, got {', '.join(kinds)}")
        kind = kinds[0]
        if "with" in item and kind != "use":
            raise SpecError("'with' belongs to 'use' items")
        extra = {k: item[k] for k in item if k != kind}
        if kind == "use":
            return kind, item[kind], extra
        args = item[kind]
        if args is None:
            args = Map()
        if not isinstance(args, dict):
            raise SpecError(f"{kind} takes a mapping of arguments, got {args!r}")
        args = Map(args) if not isinstance(args, Map) else args
        for key in ITEM_KEYS:
            if key in args:
                if key in extra:
                    raise SpecError(f"{key} is given twice")
                extra[key] = args[key]
        return kind, args, extra

    # -- leaves ------------------------------------------------------------
    def _leaf(self, kind: str, args: Map, where: Where, scope: dict, shape: Shape,
              into: _Scope, name: str | None) -> Shape:
        spec = KINDS[kind]
        values = {}
        for key, raw in args.items():
            if key in ITEM_KEYS:
                continue
            if key not in spec.fields:
                raise SpecError(f"{kind} has no argument {key!r}{closest(key, spec.fields)}; "
                                f"arguments: {', '.join(spec.fields)}",
                                file=where.file, line=line_of(args, key), path=where.path)
            try:
                values[key] = spec.fields[key].convert(_eval(raw, scope))
            except ParamscopeError as err:
                err.message = f"{key}: {err.message}"
                raise _located(err, where.at(args, key, "")) from None
        for key, fld in spec.fields.items():
            if key not in values:
                if fld.required:
                    raise SpecError(f"{kind} needs {key}", file=where.file, line=where.line,
                                    path=where.path)
                values[key] = fld.convert(fld.default) if fld.default is not None else None
        leaf = spec.infer(values, shape)
        _check_tensors(kind, leaf)
        module = Module(name or into.next_name(), "", "leaf", kind, where.path, leaf=leaf,
                        in_shape=shape, out_shape=leaf.out_shape)
        module = self._register(module, into)
        self._emit(module, leaf, (shape,))
        return leaf.out_shape

    def _register(self, module: Module, into: _Scope) -> Module:
        parent = into.module
        existing = parent.children.get(module.name)
        module.qualname = f"{parent.qualname}.{module.name}" if parent.qualname else module.name
        charge("text", len(module.qualname))
        if existing is not None:
            same = (existing.kind == "leaf" and module.kind == "leaf"
                    and existing.leaf.torch_kind == module.leaf.torch_kind
                    and existing.leaf.args == module.leaf.args)
            if not same:
                raise SpecError(f"name {module.name!r} is already used in this block by "
                                f"{existing.path}; reuse a name only for an identical layer")
            parent.order.append(module.name)
            return existing
        parent.children[module.name] = module
        parent.order.append(module.name)
        return module

    def _emit(self, module: Module, leaf: Leaf, in_shapes: tuple[Shape, ...]) -> None:
        if len(self.nodes) >= self.max_calls:
            raise LimitError(f"the network has more than {self.max_calls:,} layer calls "
                             "(limit 'layers'; raise it with PARAMSCOPE_MAX_LAYERS)")
        index = self.calls.get(module.qualname, 0)
        self.calls[module.qualname] = index + 1
        self.nodes.append(LayerNode(
            module.qualname, leaf.torch_kind, leaf.hparams, in_shapes, leaf.out_shape,
            {k: ParamInfo(s) for k, s in leaf.params.items()},
            {k: ParamInfo(s, False) for k, s in leaf.buffers.items()}, index))

    # -- containers --------------------------------------------------------
    def _container(self, kind: str, spec_kind: str, name: str | None, where: Where,
                   shape: Shape, into: _Scope) -> Module:
        module = Module(name or into.next_name(), "", kind, spec_kind, where.path, in_shape=shape)
        if module.name in into.module.children:
            raise SpecError(f"name {module.name!r} is already used in this block by "
                            f"{into.module.children[module.name].path}")
        return self._register(module, into)

    def _check_keys(self, args: Any, allowed: tuple[str, ...], what: str) -> None:
        if not isinstance(args, dict):
            raise SpecError(f"{what} takes a mapping, got {args!r}")
        for key in args:
            if key not in allowed and key not in ITEM_KEYS:
                raise SpecError(f"{what} has no key {key!r}{closest(key, allowed)}; "
                                f"expected {', '.join(allowed)}")

    def _sequential(self, args: Map, where: Where, scope: dict, shape: Shape, into: _Scope,
                    name: str | None) -> Shape:
        self._check_keys(args, ("layers",), "sequential")
        module = self._container("chain", "sequential", name, where, shape, into)
        out = self._items(args.get("layers"), where.at(args, "layers", ".layers"), scope, shape,
                          _Scope(module))
        module.out_shape = out
        return out

    def _residual(self, args: Map, where: Where, scope: dict, shape: Shape, into: _Scope,
                  name: str | None) -> Shape:
        self._check_keys(args, ("body", "shortcut", "activation"), "residual")
        if "body" not in args:
            raise SpecError("residual needs a body (a list of layers)")
        module = self._container("residual", "residual", name, where, shape, into)
        inner = _Scope(module)
        body_out = self._branch(args["body"], where.at(args, "body", ".body"), scope, shape,
                                inner, None)
        body_order = list(module.order)
        shortcut = args.get("shortcut", "identity")
        short_out = shape
        if shortcut != "identity" and shortcut is not None:
            before = set(module.children)
            short_out = self._branch(shortcut, where.at(args, "shortcut", ".shortcut"), scope,
                                     shape, inner, "shortcut")
            added = [n for n in module.children if n not in before]
            module.shortcut = added[0] if added else None
        if short_out != body_out:
            raise SpecError(f"residual sum needs equal shapes: body gives {_shape_text(body_out)} "
                            f"but the shortcut gives {_shape_text(short_out)} "
                            "(add a projection shortcut, e.g. a 1×1 conv with the same stride)")
        self.nodes.append(LayerNode(module.qualname, "add", {}, (body_out, short_out), body_out,
                                    functional=True))
        out = body_out
        activation = args.get("activation")
        if activation is not None:  # one item or a list, resolved like any layer list
            before = len(module.order)
            items = activation if isinstance(activation, list) else Seq([activation])
            out = self._items(items, where.at(args, "activation", ".activation"), scope, out, inner,
                              activation if isinstance(activation, str) else None)
            module.activation = module.order[before:]
        module.order = body_order
        module.out_shape = out
        return out

    def _branch(self, value: Any, where: Where, scope: dict, shape: Shape, inner: _Scope,
                default_name: str | None) -> Shape:
        """A residual body or shortcut: a list (inline) or {name, layers, when}."""
        if isinstance(value, list):
            if default_name is None:
                return self._items(value, where, scope, shape, inner)
            value = Map(name=default_name, layers=value)
        if not isinstance(value, dict):
            raise SpecError(f"expected a list of layers or a mapping with name and layers, got {value!r}",
                            file=where.file, line=where.line, path=where.path)
        self._check_keys(value, ("layers",), "branch")
        when = _eval(value.get("when", True), scope)
        if not isinstance(when, bool):
            raise SpecError(f"when must be true or false, got {when!r}", file=where.file,
                            line=where.line, path=where.path)
        if not when:
            return shape
        name = _eval(value.get("name"), scope)
        if name is None:
            name = default_name
        if name is None:
            return self._items(value.get("layers"), where.at(value, "layers", ".layers"), scope,
                               shape, inner)
        module = self._container("chain", "sequential", _check_name(name), where, shape, inner)
        if default_name is not None:  # a shortcut is called apart from the body's call order
            inner.module.order.pop()
        out = self._items(value.get("layers"), where.at(value, "layers", ".layers"), scope, shape,
                          _Scope(module))
        module.out_shape = out
        return out

    def _check(self, args: Map, scope: dict, shape: Shape) -> Shape:
        """``check: {that: "${groups == 1}", message: "..."}``: reject unsupported parameters."""
        self._check_keys(args, ("that", "message"), "check")
        that = _eval(args.get("that"), scope)
        if not isinstance(that, bool):
            raise SpecError(f"check needs that: a true/false expression, got {that!r}")
        if not that:
            message = _eval(args.get("message", "a check failed"), scope)
            raise SpecError(f"check failed: {message}")
        return shape

    def _repeat(self, args: Map, where: Where, scope: dict, shape: Shape, into: _Scope) -> Shape:
        self._check_keys(args, ("times", "index", "with", "first", "layers"), "repeat")
        times = _eval(args.get("times"), scope)
        if isinstance(times, bool) or not isinstance(times, int) or times < 0:
            raise SpecError(f"repeat times must be a non-negative integer, got {times!r}",
                            file=where.file, line=line_of(args, "times"), path=where.path)
        if times > self.max_calls:
            raise LimitError(f"repeat times={times:,} exceeds the limit of {self.max_calls:,} layer calls "
                             "(limit 'layers'; raise it with PARAMSCOPE_MAX_LAYERS)",
                             file=where.file, line=line_of(args, "times"), path=where.path)
        self.iterations += times
        if self.iterations > MAX_REPEAT_ITERATIONS:
            raise LimitError(f"repeats expand to more than {MAX_REPEAT_ITERATIONS:,} copies "
                             "(limit 'repeat copies')",
                             file=where.file, line=line_of(args, "times"), path=where.path)
        index = args.get("index", "i")
        if not isinstance(index, str) or not index.isidentifier():
            raise SpecError(f"repeat index must be a variable name, got {index!r}")
        common = args.get("with", {}) or {}
        first = args.get("first", {}) or {}
        if not isinstance(common, dict) or not isinstance(first, dict):
            raise SpecError("repeat with/first must be mappings of variable values")
        for key in first:
            if key not in common and key not in scope:
                raise SpecError(f"repeat first overrides {key!r}, which is not a variable here"
                                f"{closest(key, list(common) + list(scope))}")
        for i in range(times):
            charge("work", 1 + len(scope) // 16)
            local = dict(scope)
            local[index] = i
            local.update({k: _eval(v, local) for k, v in common.items()})
            if i == 0:
                local.update({k: _eval(v, local) for k, v in first.items()})
            shape = self._items(args.get("layers"), where.at(args, "layers", ".layers"), local,
                                shape, into)
        return shape

    def _use(self, ref: Any, extra: dict, where: Where, scope: dict, shape: Shape, into: _Scope,
             name: str | None) -> Shape:
        given = extra.get("with", {}) or {}
        if not isinstance(given, dict):
            raise SpecError(f"with must be a mapping of template parameters, got {given!r}")
        template = self._template(ref, scope, where)
        charge("work", 1 + len(template.params))  # an instance copies and evaluates its parameters
        self.depth += 1
        try:
            if self.depth > MAX_TEMPLATE_DEPTH:
                raise LimitError(f"templates nest deeper than {MAX_TEMPLATE_DEPTH} (recursive template?)")
            values = {k: _eval(v, scope) for k, v in given.items()}
            local = parameter_values(template.params, values, self._shape_vars(shape), where,
                                     f"template {template.name!r}")
            body = Where(template.doc.file, f"{where.path}({template.name}).layers", template.line)
            modules = _module_items(template.layers)
            single = len(modules) == 1 and not (isinstance(modules[0], dict) and "repeat" in modules[0])
            if single or name is None:
                children = into.module.children
                before = len(children)
                out = self._items(template.layers, body, local, shape, into, name if single else None)
                if single and len(children) == before + 1:  # O(1): the one child just added
                    added = next(reversed(children.values()))
                    if added.kind != "leaf" and not added.template:
                        added.template = template.name  # the block the template builds is its instance
                return out
            module = self._container("chain", "sequential", name, where, shape, into)
            module.template = template.name
            out = self._items(template.layers, body, local, shape, _Scope(module))
            module.out_shape = out
            return out
        finally:
            self.depth -= 1

    def _template(self, ref: Any, scope: dict, where: Where) -> Template:
        name = _eval(ref, scope)
        if not isinstance(name, str):
            raise SpecError(f"use needs a template name, got {name!r}", file=where.file,
                            line=where.line, path=where.path)
        template = self.doc.templates.get(name)
        if template is None:
            known = sorted(self.doc.templates)
            raise SpecError(f"unknown template {name!r}{closest(name, known)}; "
                            f"templates: {', '.join(known) or 'none (add templates: or import:)'}",
                            file=where.file, line=where.line, path=where.path)
        return template


def default_input(doc: Document, batch: int = 1) -> Shape | None:
    """The spec's own ``input:`` with the batch in front (None when it has none), validated
    without resolving anything, so ``--input`` can replace it before the one resolution."""
    raw = doc.data.get("input")
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or len(raw) > 3 or not all(
            isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in raw):
        raise SpecError(f"input must be [C, H, W] (or [features]) of positive integers, got {raw!r}",
                        file=doc.file, line=line_of(doc.data, "input"), path="input")
    from paramscope.tracing.inputs import check_numel

    try:
        return check_numel((batch, *raw), "input")
    except ParamscopeError as err:
        raise err.located(file=doc.file, line=line_of(doc.data, "input"), path="input") from None


def resolve(doc: Document, overrides: dict[str, Any] | None = None,
            input_shape: Shape | None = None, batch: int = 1) -> Resolved:
    """Resolve ``doc`` with ``--set`` overrides and an optional input shape (batch first).

    The work is bounded by one :class:`~paramscope.spec.budget.Budget` per resolution."""
    with budgeted():
        return Resolver(doc, batch).resolve(dict(overrides or {}), input_shape)
