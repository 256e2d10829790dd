"""Warnings raised by third-party imports (fvcore's torch.jit.script deprecation) never reach a
Python API user: not printed, not raised under -W error, not a report note (issue 11)."""

from __future__ import annotations

from conftest import fresh_python


def test_third_party_import_warnings_do_not_reach_the_user():
    """A fresh interpreter (fvcore, torchinfo not yet imported) with warnings as errors: analyze()
    and summary() run every tool, print nothing on stderr, and note no library warning."""
    code = ("import warnings\nwarnings.simplefilter('error')\n"
            "import torch, paramscope\n"
            "m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())\n"
            "a = paramscope.analyze(m, (1, 3, 8, 8))\n"
            "s = paramscope.summary(m, input_size=(1, 3, 8, 8), verbose=0)\n"
            "assert set(a.measurers) == {'torchinfo', 'fvcore', 'flop_counter'}, a.measurers\n"
            "print(repr(a.notes + s.notes))\n")
    proc = fresh_python(code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr == ""
    assert "warning" not in proc.stdout.lower() and "jit.script" not in proc.stdout


def test_the_models_own_warnings_are_still_noted():
    """Only third-party imports are silenced: a warning from the model's forward stays a note."""
    import warnings

    from torch import nn

    import paramscope

    class Warns(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            warnings.warn("the model's own warning")
            return self.conv(x)

    report = paramscope.analyze(Warns(), (1, 3, 8, 8), measure="none")
    assert any("the model's own warning" in note for note in report.notes)
