"""Run user code (factory imports and calls, a model's forward) without it leaking out.

:func:`user_code` is the one place paramscope runs code it did not write:

- ``sys.exit()`` (``SystemExit``, e.g. an ``argparse`` error inside a factory) and
  ``MemoryError`` become a :class:`TargetError` (exit 2, one line), never a silent
  exit 0 or a traceback; ``KeyboardInterrupt`` passes through (the CLI prints
  ``interrupted`` and exits 130);
- what the code prints on stdout/stderr and the warnings it (or a library it
  imports) raises are captured and summarised as report notes, never printed;
- ``sys.path``, ``sys.argv`` and the random number generators (Python's, NumPy's
  and torch's CPU generator, when imported) are restored afterwards.
"""

from __future__ import annotations

import io
import random
import sys
import warnings
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from typing import Iterator

from paramscope.errors import TargetError
from paramscope.textsafe import printable

MAX_NOTES = 5


@dataclass
class Captured:
    """What user code printed and warned while it ran."""

    stdout: io.StringIO = field(default_factory=io.StringIO)
    stderr: io.StringIO = field(default_factory=io.StringIO)
    warnings: list = field(default_factory=list)

    def last_line(self) -> str:
        lines = [ln for ln in (self.stderr.getvalue() + self.stdout.getvalue()).splitlines() if ln.strip()]
        return safe_text(lines[-1])[:200] if lines else ""

    def notes(self) -> list[str]:
        """One note per distinct warning (at most a few) and one per captured stream."""
        out, seen = [], {}
        for w in self.warnings:
            key = f"{getattr(w.category, '__name__', 'Warning')}: {safe_text(w.message)}"[:300]
            seen[key] = seen.get(key, 0) + 1
        for key, n in list(seen.items())[:MAX_NOTES]:
            out.append(f"warning from the model's code or a measuring tool (not printed): {key}"
                       + (f" (×{n})" if n > 1 else ""))
        if len(seen) > MAX_NOTES:
            out.append(f"{len(seen) - MAX_NOTES} more distinct warnings were not printed")
        for name, stream in (("stdout", self.stdout), ("stderr", self.stderr)):
            lines = [ln for ln in stream.getvalue().splitlines() if ln.strip()]
            if lines:
                out.append(f"the model's code wrote {len(lines)} line(s) on {name} (not printed); "
                           f"first: {safe_text(lines[0])[:200]}")
        return out


def safe_text(value) -> str:
    """``str(value)`` on one printable line, even when ``__str__`` raises or memory runs out."""
    try:
        return printable(" ".join(str(value).split()))
    except BaseException:  # noqa: BLE001  (a broken __str__, MemoryError ...)
        return f"<unprintable {type(value).__name__}>"


def _rng_state():
    torch = sys.modules.get("torch")
    numpy = sys.modules.get("numpy")
    state = {"random": random.getstate()}
    try:
        if torch is not None:
            state["torch"] = torch.random.get_rng_state()
        if numpy is not None:
            state["numpy"] = numpy.random.get_state()
    except Exception:  # noqa: BLE001  (a half-imported module: nothing to restore)
        pass
    return state


def _restore_rng(state) -> None:
    random.setstate(state["random"])
    if "torch" in state:
        sys.modules["torch"].random.set_rng_state(state["torch"])
    if "numpy" in state:
        sys.modules["numpy"].random.set_state(state["numpy"])


_GLOBAL_HOOKS = ("_global_forward_pre_hooks", "_global_forward_hooks", "_global_backward_pre_hooks",
                 "_global_backward_hooks", "_global_buffer_registration_hooks",
                 "_global_module_registration_hooks", "_global_parameter_registration_hooks")


@contextmanager
def global_hooks_suspended(notes: list[str]) -> Iterator[None]:
    """Hooks registered for *every* module (``register_module_forward_hook`` ...) are set
    aside while paramscope traces and measures, and put back afterwards; their presence
    is added to ``notes``.  Nothing to do when torch is not imported yet."""
    module = sys.modules.get("torch.nn.modules.module")
    saved = {}
    if module is not None:
        for name in _GLOBAL_HOOKS:
            hooks = getattr(module, name, None)
            if hooks:
                saved[name] = dict(hooks)
                hooks.clear()
    if saved:
        n = sum(len(h) for h in saved.values())
        notes.append(f"{n} global module hook(s) are registered; they were not run during the analysis")
    try:
        yield
    finally:
        for name, hooks in saved.items():
            getattr(module, name).update(hooks)


def quiet_import(name: str):
    """Import the third-party module ``name`` with the warnings its import raises ignored.

    Those are the library's own affairs (fvcore calls the deprecated ``torch.jit.script`` at
    import): not the user's model, so neither printed nor turned into a report note."""
    from importlib import import_module

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return import_module(name)


@contextmanager
def user_code(label: str) -> Iterator[Captured]:
    """Run the body as user code for ``label`` (see the module docstring)."""
    captured = Captured()
    path, argv, rng = list(sys.path), list(sys.argv), _rng_state()
    try:
        with warnings.catch_warnings(record=True) as caught, \
                redirect_stdout(captured.stdout), redirect_stderr(captured.stderr):
            warnings.simplefilter("always")
            try:
                yield captured
            finally:
                captured.warnings = list(caught)
    except SystemExit as exc:
        said = captured.last_line()
        raise TargetError(f"{label}: the code called sys.exit({safe_text(exc.code)})"
                          + (f" after printing: {said}" if said else "")) from None
    except MemoryError:
        raise TargetError(f"{label}: ran out of memory while building or tracing the model") from None
    finally:
        sys.path[:] = path
        sys.argv[:] = argv
        _restore_rng(rng)
