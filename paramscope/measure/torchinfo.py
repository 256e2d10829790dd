"""torchinfo 1.8: ``summary()`` on the meta device, and its rules predicted from a Graph."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from math import prod

from paramscope.graph import Graph, LayerNode
from paramscope.measure.base import (LayerCount, Measurement, Measurer, NodeCount, PredictedLayer,
                                     Prediction)


class TorchinfoMeasurer(Measurer):
    """torchinfo's ``summary``: params, mult-adds and memory estimates per leaf module."""

    name = "torchinfo"
    metric = "mult-adds"
    baseline = "macs"
    device = "meta"
    convention = (
        "torchinfo hooks every module and, for each call of a leaf module (no children), "
        "counts mult-adds from that module's parameters, not from its arithmetic: a "
        "parameter named weight or bias counts numel × N × prod(output spatial) when the "
        "class name contains 'Conv', else numel × N (output_size[0]); other parameters "
        "whose name contains weight/bias count numel × output_size[0] × output_size[1]. So "
        "bias terms and BatchNorm/LayerNorm parameters are counted, a Linear on N-d input "
        "is counted once per batch item (not per token), and parameter-free layers "
        "(activations, pools, adds) and functional ops (matmul) count 0. It never reports "
        "an op as unsupported. Params: each leaf's own parameters once (shared calls are "
        "'recursive'), plus parameters owned by containers. Memory: input = storage bytes "
        "(+ Python object overhead), forward/backward = 2 × output bytes of every call of "
        "a leaf that has parameters, params = bytes of leaf parameters. Runs on meta, in the "
        "model's own mode (torchinfo's mode= set to the root module's).")

    def measure(self, model, input_shape, dtype="float32", *, graph=None) -> Measurement:
        from paramscope.sandbox import quiet_import

        summary = quiet_import("torchinfo").summary
        tool = quiet_import("torchinfo.torchinfo")

        from paramscope.tracing.forward import model_inputs
        from paramscope.tracing.trace import meta_model

        work = meta_model(model)
        args, kwargs = model_inputs(input_shape, dtype)
        # torchinfo sets one mode for the whole model (eval by default): keep the model's own,
        # as every other tool and the trace run it
        stats = summary(work, input_data=args, verbose=0, depth=100,
                        mode="train" if work.training else "eval", **kwargs)
        cached = tool._cached_forward_pass  # summary() caches every run by class name
        if cached.get(type(work).__name__) is stats.summary_list:
            del cached[type(work).__name__]
        names: dict[int, str] = {}
        for name, module in work.named_modules():
            names.setdefault(id(module), name)
        values, params = Counter(), {}
        for info in stats.summary_list:
            name = names.get(info.layer_id, info.var_name)
            if info.is_leaf_layer:
                values[name] += info.macs
                if not info.is_recursive:
                    params[name] = info.num_params
            elif not info.is_recursive and info.leftover_params() > 0:
                params[name] = info.leftover_params()
                values[name] += 0
        layers = {n: LayerCount(int(v), params.get(n)) for n, v in values.items()}
        fb, pb = stats.total_output_bytes, stats.total_param_bytes
        return Measurement(self.name, "ok", layers, int(stats.total_mult_adds),
                           int(stats.total_params), extras=memory_extras(
                               stats.trainable_params, stats.total_input, fb, pb))

    def count(self, node: LayerNode, cost, graph: Graph) -> NodeCount:
        from paramscope.formulas.registry import rules_for  # (formulas import the measurers' rules)

        macs = cost.macs or 0
        if node.functional:
            if not macs:
                return NodeCount(0)
            return NodeCount(0, {f"functional {node.kind} (not counted)": -macs},
                             blind_spot=f"torchinfo counts only leaf modules' parameters; "
                                        f"the functional {node.kind} here is invisible to it")
        out = node.out_shape or (0,)
        conv_rule = "Conv" in graph.modules.get(node.name, node.kind)  # torchinfo's own test
        parts = Counter()
        for pname, p in node.params.items():
            if pname in ("weight", "bias"):
                n = p.numel * (prod(out[:1] + out[2:]) if conv_rule else out[0])
            elif "weight" in pname or "bias" in pname:
                n = p.numel * prod(out[:2])
            else:
                continue
            parts["bias" if "bias" in pname else "weight"] += n
        value = sum(parts.values())
        if rules_for(node).torchinfo != "macs":  # its parameter rule counts this kind's terms
            return NodeCount(value, {node.kind: value - macs} if value != macs else {})
        diffs = {"bias terms": parts["bias"]} if parts["bias"] else {}
        if parts["weight"] != macs:
            per = "output position" if conv_rule else "batch item"
            diffs[f"{node.kind}: params × {per} instead of MACs"] = parts["weight"] - macs
        return NodeCount(value, diffs)

    def finish(self, graph: Graph, pred: Prediction) -> None:
        """torchinfo's params total and memory estimates."""
        from paramscope.graph import dtype_bytes

        total = trainable = param_bytes = fb_bytes = 0
        for node in graph.nodes:
            if node.functional:
                continue
            own = sum(p.numel for p in node.params.values())
            if own:
                fb_bytes += 2 * prod(node.out_shape) * dtype_bytes(node.dtype)
            if node.counts_params:
                total += own
                trainable += sum(p.numel for p in node.params.values() if p.trainable)
                param_bytes += sum(p.numel * dtype_bytes(p.dtype) for p in node.params.values())
                pred.layers[node.name].params = own
        if graph.subtree_params:  # traced: torchinfo's leftover rule over called modules
            extra, extra_trainable = _leftover_params(graph, pred)
            total += extra
            trainable += extra_trainable
        else:
            executed = _executed(graph)
            for name, infos in graph.unowned_params().items():
                own = sum(p.numel for p in infos.values())
                total += own
                trainable += sum(p.numel for p in infos.values() if p.trainable)
                while name not in executed and name:  # an uncalled module's params show up in
                    name = name.rpartition(".")[0]     # its nearest called ancestor's leftover
                row = pred.layers.setdefault(name, PredictedLayer(graph.modules.get(name, "")))
                row.params = (row.params or 0) + own
        input_bytes = _input_bytes(graph)
        pred.params = total
        pred.extras = memory_extras(trainable, input_bytes, fb_bytes, param_bytes)


def _leftover_params(graph: Graph, pred: Prediction) -> tuple[int, int]:
    """torchinfo's container rows: ``max(0, params of the subtree (each tensor once) - the
    counts of the called children)``, where a called module's children are the called
    modules whose nearest called ancestor it is; leaves count their own parameters."""
    leaves = {n.name for n in graph.nodes if not n.functional}
    own_leaf = {n.name: sum(p.numel for p in n.params.values())
                for n in graph.nodes if not n.functional and n.counts_params}
    trainable_leaf = {n.name: sum(p.numel for p in n.params.values() if p.trainable)
                      for n in graph.nodes if not n.functional and n.counts_params}
    # torchinfo lists every called module plus the containers above them (a ModuleList),
    # and a row's "children" are all the rows below it.
    listed = set()
    for name in graph.called:
        while name not in listed:
            listed.add(name)
            if not name:
                break
            name = name.rpartition(".")[0]
    kids: dict[str, list[str]] = {}
    for name in listed:
        if name:
            kids.setdefault(name.rpartition(".")[0], []).append(name)

    def leftover(subtree: dict[str, int], leaf: dict[str, int]) -> dict[str, int]:
        below: dict[str, int] = {}  # Σ over all rows below: leaf params or container leftover
        left: dict[str, int] = {}

        def visit(name: str) -> int:  # val(name) + everything below it
            total = 0
            for kid in kids.get(name, ()):
                total += visit(kid)
            below[name] = total
            if name in leaves:
                return leaf.get(name, 0) + total
            left[name] = subtree.get(name, 0) - total
            return left[name] + total
        visit("")
        return left

    total = trainable = 0
    trainable_left = leftover(graph.subtree_trainable, trainable_leaf)
    for name, left in leftover(graph.subtree_params, own_leaf).items():
        trainable += max(trainable_left[name], 0)
        if left > 0:
            total += left
            row = pred.layers.setdefault(name, PredictedLayer(graph.modules.get(name, "")))
            row.params = (row.params or 0) + left
    return total, trainable
def _input_bytes(graph: Graph) -> int:
    """torchinfo's input size: ``sys.getsizeof`` of each positional tensor's storage
    (keyword inputs are not counted)."""
    from paramscope.graph import dtype_bytes
    from paramscope.tracing.input_spec import as_input_set

    total = 0
    for spec in as_input_set(graph.input_shape).specs:
        if spec.name:
            continue
        count, shape = (spec.shape[0], spec.shape[1:]) if spec.as_list else (1, spec.shape)
        total += count * (prod(shape) * dtype_bytes(spec.dtype or graph.dtype) + _storage_overhead())
    return total


def _executed(graph: Graph) -> set[str]:
    """Modules whose forward ran: every node's module and all its ancestors."""
    names = set()
    for node in graph.nodes:
        parts = node.name.split(".") if node.name else []
        names.update(".".join(parts[:i]) for i in range(len(parts) + 1))
    return names


def memory_extras(trainable: int, input_bytes: int, fb_bytes: int, param_bytes: int) -> dict:
    """torchinfo's summary footer figures, in bytes."""
    return {"trainable_params": int(trainable), "input_bytes": int(input_bytes),
            "forward_backward_bytes": int(fb_bytes), "params_bytes": int(param_bytes),
            "total_bytes": int(input_bytes + fb_bytes + param_bytes)}


@lru_cache(maxsize=1)
def _storage_overhead() -> int:
    """``sys.getsizeof(storage) - nbytes``: torchinfo sizes the input by ``sys.getsizeof``."""
    import sys

    import torch

    return sys.getsizeof(torch.empty(0, device="meta").untyped_storage())
