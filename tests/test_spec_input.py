"""--input replaces the spec's own input before the spec is resolved (resolved once)."""

from __future__ import annotations

NO_INPUT = "name: noinput\nlayers:\n  - conv: {out_channels: 8, kernel_size: 3}\n"
SMALL = ("name: small\ninput: [3, 4, 4]\nparams: {k: 3}\n"
         "layers:\n  - conv: {out_channels: 8, kernel_size: \"${k}\"}\n")


def test_spec_without_input_works_with_input(cli, write_spec):
    path = str(write_spec(NO_INPUT))
    for command in ("summary", "show"):
        args = [command, path, "--input", "3x32x32"] + (["--measure", "none"] if command == "summary" else [])
        result = cli(*args)
        assert result.code == 0, result.err
    assert "1×8×30×30" in cli("summary", path, "--input", "3x32x32", "--measure", "none").out


def test_spec_without_input_and_without_input_option_says_so(cli, write_spec):
    path = str(write_spec(NO_INPUT))
    for extra in ([], ["--batch", "2"]):
        result = cli("summary", path, "--measure", "none", *extra)
        assert result.code == 2 and "spec has no input shape" in result.err


def test_input_applies_before_resolution(cli, write_spec):
    """A kernel too large for the spec's own 4×4 input is fine at the requested 16×16."""
    path = str(write_spec(SMALL))
    result = cli("summary", path, "--set", "k=7", "--input", "16", "--measure", "none")
    assert result.code == 0, result.err
    assert "1×8×10×10" in result.out
    shown = cli("show", path, "--set", "k=7", "--input", "16")
    assert shown.code == 0 and "8×10×10" in shown.out


def test_malformed_input_is_located_for_sweeps_too(cli, write_spec):
    path = str(write_spec("name: b\ninput: [3, x]\nlayers: [relu]\n"))
    for args in (["sweep", path, "--input", "8,16"], ["summary", path, "--measure", "none"]):
        result = cli(*args)
        assert result.code == 2 and "spec.yaml:2:" in result.err and "input must be" in result.err
