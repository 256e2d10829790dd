"""Property tests for issue 12: the work of expanding a spec is bounded by its budget,
and spec, built module and ``show`` output cost the same (residual activations included).

- Work: for any nesting of templates, repeats, groups, ``check`` items, ``when: false``
  items, string interpolation and imports, the work actually done — counted here
  independently, by wrapping the resolver's item walk, the expression evaluator and the
  file loader — never exceeds the budget by more than a constant factor, whether the
  spec resolves or is refused with a LimitError.
- Round trip: cost of the spec = cost of the nn.Module built from it (traced by torch on
  the meta device, parameters counted by ``sum(p.numel())``) = cost of ``show``'s output
  parsed again.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import examples
from paramscope.errors import LimitError, ParamscopeError

SETTINGS = settings(max_examples=examples(60), deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

WORK, TEXT, FILES = 3_000, 20_000, 6
FACTOR = 3  # work done ≤ FACTOR × budget + a constant (one item's own work)

# --------------------------------------------------------------------------- generated expansions

LEAVES = ["relu", "{check: {that: true}}", "{relu: {when: false}}", "{sequential: {layers: []}}",
          "{identity: {name: \"n${i}\"}}"]


@st.composite
def expansions(draw):
    """A spec whose templates nest and fan out: t_k uses earlier templates, repeats and groups."""
    levels = draw(st.integers(1, 12))
    lines = ["name: gen", "input: [4]", "params:", "  s: \"ab\""]
    for k in range(1, draw(st.integers(0, 6)) + 1):  # interpolation chains that double
        lines.append(f"  s{k}: \"${{s{'' if k == 1 else k - 1}}}${{s{'' if k == 1 else k - 1}}}\"")
    lines.append("templates:")
    lines.append(f"  t0: {{layers: [{draw(st.sampled_from(LEAVES))}]}}")
    for k in range(1, levels + 1):
        items = []
        for _ in range(draw(st.integers(1, 4))):
            prev = f"t{draw(st.integers(0, k - 1))}"
            kind = draw(st.sampled_from(["use", "repeat", "seq", "leaf"]))
            if kind == "use":
                items.append(f"{{use: {prev}}}")
            elif kind == "repeat":
                items.append(f"{{repeat: {{times: {draw(st.integers(0, 50))}, layers: [{{use: {prev}}}]}}}}")
            elif kind == "seq":
                items.append(f"{{sequential: {{layers: [{{use: {prev}}}, {{use: {prev}}}]}}}}")
            else:
                items.append(draw(st.sampled_from(LEAVES)))
        lines.append(f"  t{k}: {{layers: [{', '.join(items)}]}}")
    lines.append(f"layers: [relu, {{repeat: {{times: {draw(st.integers(1, 30))}, index: i, layers: [{{use: t{levels}}}]}}}}]")
    return "\n".join(lines) + "\n"


class Meter:
    """Independent counts of the work done: items walked, expressions evaluated,
    characters interpolated, files read."""

    def __init__(self, monkeypatch) -> None:
        from paramscope.spec import document, expr, resolve, yamlsafe

        self.items = self.exprs = self.chars = self.files = 0
        item, evaluate, substitute, load_file = (resolve.Resolver._item, expr.evaluate, expr.substitute,
                                                 yamlsafe.load_file)

        def counted_item(resolver, *args, **kwargs):
            self.items += 1
            return item(resolver, *args, **kwargs)

        def counted_evaluate(source, scope):
            self.exprs += 1
            return evaluate(source, scope)

        def counted_substitute(value, scope):
            out = substitute(value, scope)
            self.chars += len(out) if isinstance(out, str) else 0
            return out

        def counted_load(path):
            self.files += 1
            return load_file(path)

        monkeypatch.setattr(resolve.Resolver, "_item", counted_item)
        monkeypatch.setattr(expr, "evaluate", counted_evaluate)
        monkeypatch.setattr(expr, "substitute", counted_substitute)
        monkeypatch.setattr(resolve, "substitute", counted_substitute)
        monkeypatch.setattr(document, "load_file", counted_load)


@pytest.fixture
def small_budget(monkeypatch):
    monkeypatch.setenv("PARAMSCOPE_MAX_WORK", str(WORK))
    monkeypatch.setenv("PARAMSCOPE_MAX_TEXT", str(TEXT))
    monkeypatch.setenv("PARAMSCOPE_MAX_FILES", str(FILES))


@SETTINGS
@given(text=expansions())
def test_work_stays_within_budget(text, tmp_path, monkeypatch, small_budget):
    from paramscope.api import resolve_spec
    from paramscope.spec.expr import MAX_LENGTH

    meter = Meter(monkeypatch)
    path = tmp_path / "gen.yaml"
    path.write_text(text)
    try:
        resolved = resolve_spec(str(path))
    except LimitError as err:
        assert "limit '" in str(err)
    except ParamscopeError:
        pass  # a malformed expansion (e.g. a duplicate name) is refused like any other
    else:
        assert len(resolved.graph.nodes) <= WORK
    assert meter.items <= FACTOR * WORK + 1, meter.items
    assert meter.exprs <= FACTOR * WORK + 1, meter.exprs
    assert meter.chars <= FACTOR * TEXT + MAX_LENGTH, meter.chars


@SETTINGS
@given(depth=st.integers(1, 8), width=st.integers(1, 40), distinct=st.integers(1, 12))
def test_files_parsed_stay_within_budget(depth, width, distinct, tmp_path_factory, monkeypatch, small_budget):
    """Import fan-out (each file importing the next many times, several files per level)."""
    from paramscope.api import resolve_spec

    meter = Meter(monkeypatch)
    d = tmp_path_factory.mktemp("imports")
    for level in range(depth):
        refs = [f"l{level + 1}_{k % distinct}.yaml" for k in range(width)]
        for j in range(distinct):
            (d / f"l{level}_{j}.yaml").write_text(f"import: [{', '.join(refs)}]\n")
    for j in range(distinct):
        (d / f"l{depth}_{j}.yaml").write_text(f"templates:\n  t{j}: {{layers: [relu]}}\n")
    (d / "spec.yaml").write_text("name: f\ninput: [4]\nimport: [l0_0.yaml]\nlayers: [relu]\n")
    try:
        resolve_spec(str(d / "spec.yaml"))
    except LimitError as err:
        assert "limit 'files'" in str(err)
    assert meter.files <= FILES + 1, meter.files


# --------------------------------------------------------------------------- round trip

ACTIVATIONS = [
    None, "relu", "{relu: {name: relu}}", "{relu: {when: false}}", "[{check: {that: true}}, tanh]",
    "{use: two}", "[relu, {sequential: {name: post, layers: [tanh, sigmoid]}}]", "[]",
]


@st.composite
def networks(draw):
    """Small conv networks on 4×6×6 built from every structural construct."""
    def block(depth: int) -> str:
        kind = draw(st.sampled_from(["conv", "bn", "act", "residual", "seq", "repeat", "use"] if depth < 3
                                    else ["conv", "bn", "act"]))
        if kind == "conv":
            k = draw(st.sampled_from([1, 3]))
            return f"{{conv: {{out_channels: 4, kernel_size: {k}, padding: {k // 2}, bias: {draw(st.booleans())}}}}}"
        if kind == "bn":
            return "bn"
        if kind == "act":
            return draw(st.sampled_from(["relu", "sigmoid", "tanh", "{check: {that: true}}", "{relu: {when: false}}"]))
        inner = ", ".join(block(depth + 1) for _ in range(draw(st.integers(1, 3))))
        if kind == "residual":
            act = draw(st.sampled_from(ACTIVATIONS))
            shortcut = draw(st.sampled_from(["", ", shortcut: [{conv: {out_channels: 4, kernel_size: 1}}]"]))
            return f"{{residual: {{body: [{inner}]{shortcut}{'' if act is None else f', activation: {act}'}}}}}"
        if kind == "seq":
            return f"{{sequential: {{layers: [{inner}]}}}}"
        if kind == "repeat":
            return f"{{repeat: {{times: {draw(st.integers(0, 3))}, layers: [{inner}]}}}}"
        return "{use: unit}"

    body = ", ".join(block(0) for _ in range(draw(st.integers(1, 4))))
    return ("name: net\ninput: [4, 6, 6]\ntemplates:\n"
            "  two: {layers: [relu, {sigmoid: {name: sig}}]}\n"
            "  unit: {layers: [{conv: {out_channels: 4, kernel_size: 3, padding: 1}}, bn, relu]}\n"
            f"layers: [relu, {body}]\n")


def _costs(report):
    """Totals, and the layers with parameters by name (a childless container is one traced
    row but a spec's add row, so plain row counts may differ while costs agree)."""
    t = report.totals
    owners = sorted((r.node.name, r.params) for r in report.layers if r.params)
    return t["params"], t["macs"], t["flops"], t["activation_bytes"] > 0, owners


@settings(max_examples=examples(40), deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=networks())
def test_spec_build_show_round_trip(text, tmp_path):
    import paramscope
    from paramscope.api import resolve_spec
    from paramscope.building.builder import module_from_resolved
    from paramscope.spec.emit import emit

    path = tmp_path / "net.yaml"
    path.write_text(text)
    try:
        resolved = resolve_spec(str(path))
    except ParamscopeError as err:  # e.g. two unnamed siblings reusing a name: refused, not wrong
        assert "already used" in str(err) or "empty" in str(err), str(err)
        return
    spec = _costs(paramscope.analyze(str(path), measure="none"))
    model = module_from_resolved(resolved, device="meta").eval()
    built = _costs(paramscope.analyze(model, resolved.input_shape, measure="none"))
    assert spec[0] == sum(p.numel() for p in model.parameters())
    shown_path = tmp_path / "shown.yaml"
    shown_path.write_text(emit(resolved))
    shown = _costs(paramscope.analyze(str(shown_path), measure="none"))
    assert spec == built == shown, text
