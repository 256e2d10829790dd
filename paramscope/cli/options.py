"""Parsing of CLI option strings (--input, --set, --measure ...) into values.

Every parse error is a ParamscopeError with one line naming the option.
No torch import.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from paramscope.tracing.inputs import parse_choice, parse_input, parse_sets, parse_value  # noqa: F401  (re-exported)

#: every positional argument names what it takes, as usage and help show it: TARGET, TARGETS..., LAYER...
TARGET_HELP = "Built-in config name, YAML path, module:callable factory or hf:NAME."
TargetArg = Annotated[str, typer.Argument(metavar="TARGET", help=TARGET_HELP, show_default=False)]
InputOpt = Annotated[Optional[str], typer.Option(
    "--input", "-i", help="Input size: 224 (H=W), 3x32x32 (CxHxW) or 2x3x224x224 (NxCxHxW).",
    show_default=False)]
ModelInputOpt = Annotated[Optional[list[str]], typer.Option(
    "--input", "-i", help="Input size: 224 (H=W), 3x32x32 (CxHxW), 2x3x224x224 (NxCxHxW), 3x16x112x112 "
    "(CxTxHxW for a video model), 1x128 (batch x tokens for hf:). Repeatable for several inputs: "
    "NAME=SIZES (keyword), long:SIZES or NAME:long=SIZES (dtype), list:3x800x800 (a list of --batch images).",
    show_default=False)]
ContextOpt = Annotated[Optional[int], typer.Option(
    "--context", help="KV-cache length for --mode decode.", show_default=False)]
BatchOpt = Annotated[Optional[int], typer.Option("--batch", "-b", help="Batch size (default 1).",
                                                 show_default=False)]
SetOpt = Annotated[Optional[list[str]], typer.Option(
    "--set", "-s", help="Override a spec parameter (or a factory keyword): key=value. Repeatable.",
    show_default=False)]


#: The allowed values each choice option lists in its --help.  The commands validate with the
#: library's own tuples (FORMATS, DTYPES, MODES, OPTIMIZERS, parse_measure); importing those here
#: would cost --help its startup time, so tests/test_cli_conventions.py checks the two agree.
FORMAT_CHOICES = ("table", "json", "csv", "markdown")
#: show's formats: the resolved spec as YAML, or its module table in the export formats
SHOW_FORMATS = ("yaml", *FORMAT_CHOICES)
DTYPE_CHOICES = ("float32", "float16", "bfloat16", "float64")
CLOCKS = ("wall", "cpu")
MEASURE_HELP = ("comma list of torchinfo, fvcore, flop_counter, flop_counter_cpu (FlopCounterMode on a "
                "real CPU copy, opt-in), time (real timing, opt-in), memtracker (--mode train); or all "
                "(the first three); or none (formulas only).")


def one_of(values: tuple[str, ...]) -> str:
    """``one of: a, b, c`` -- how a choice option's help lists its allowed values."""
    return "one of: " + ", ".join(values)


ExportFormatOpt = Annotated[str, typer.Option(
    "--format", "-f", help=f"Output format, {one_of(FORMAT_CHOICES)} (markdown: GitHub pipe tables).")]
DtypeOpt = Annotated[Optional[str], typer.Option(
    "--dtype", help=f"Element type of the model and its input, {one_of(DTYPE_CHOICES)} (a meta copy of "
                    "the model is cast to it); default: the model's own, float32 for a spec.",
    show_default=False)]
MeasureOpt = Annotated[str, typer.Option("--measure", "-m", help=f"Tools to run: {MEASURE_HELP}")]
OutputOpt = Annotated[Optional[str], typer.Option(
    "--output", "-o", help="Write to FILE (atomically: the old file stays intact on failure) "
                           "instead of stdout.", show_default=False)]


def _allow_imports(value: Optional[list[str]]) -> Optional[list[str]]:
    from paramscope.spec.library import set_import_dirs

    set_import_dirs(value)
    return value


ImportPathOpt = Annotated[Optional[list[str]], typer.Option(
    "--import-path", help="Also allow spec 'import:' from DIR (by default only the spec's own "
                          "directory tree and the built-in library; also PARAMSCOPE_IMPORT_PATH). "
                          "Repeatable.", callback=_allow_imports, metavar="DIR", show_default=False)]
# training mode (--mode train), shared by summary, check, compare, explain and sweep
ModeOpt = Annotated[str, typer.Option(
    "--mode", help="One of: infer (forward only); train (adds the backward pass and training memory; "
                   "--measure all or memtracker then also runs MemTracker); decode (hf: decoder "
                   "models, one new token per sequence with a KV cache of --context positions); "
                   "prefill (= infer).")]
FreezeOpt = Annotated[Optional[list[str]], typer.Option(
    "--freeze", help="--mode train: freeze the parameters under this module name (layer1, "
                     "layer4.2.conv1). Repeatable.", show_default=False)]
OptimizerOpt = Annotated[str, typer.Option(
    "--optimizer", help="--mode train: the optimizer whose state is counted, one of: sgd, momentum, "
                        "adam, adamw, adagrad, rmsprop, none.")]


def train_options(mode: str, freeze: list[str] | None, optimizer: str) -> dict:
    """The analyze() keywords of the training options, validated (no torch import)."""
    from paramscope.errors import ParamscopeError
    from paramscope.training.analysis import check_mode
    from paramscope.training.memory import check_optimizer

    check_mode(mode)
    check_optimizer(optimizer)
    if mode != "train" and (freeze or optimizer != "adamw"):
        raise ParamscopeError("--freeze and --optimizer need --mode train")
    return {"mode": mode, "freeze": tuple(freeze or ()), "optimizer": optimizer}
