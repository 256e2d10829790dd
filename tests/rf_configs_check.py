"""Every layer output of every built-in config against the gradient measurement (manual run).

``PYTHONPATH=. python tests/rf_configs_check.py [NAME ...] [--size 64]``; the unit test
(tests/test_receptive.py) checks twelve layer outputs per config.
"""

from __future__ import annotations

import sys
import time

from rf_gradient import check_model

import paramscope
from paramscope.analysis import subject_for
from paramscope.api import builtin_targets
from paramscope.perf.receptive import receptive_fields

if __name__ == "__main__":
    args = sys.argv[1:]
    size = 64
    if "--size" in args:
        i = args.index("--size")
        size = int(args[i + 1])
        del args[i:i + 2]
    for name in args or list(builtin_targets()):
        start = time.time()
        default = subject_for(name).graph.input_shape
        shape = (*default[:2], size, size) if default[-1] > size else default
        predicted = receptive_fields(subject_for(name, shape).meta_model(), shape)
        checked, bad = check_model(paramscope.build(name), shape, predicted, dedupe=True)
        print(f"{name} {shape}: {checked} layer outputs checked, {len(bad)} disagreements, unknown ops "
              f"{predicted.unknown_ops or 'none'}; output RF {predicted.output.text()} ({time.time() - start:.0f} s)",
              flush=True)
        for line in bad[:10]:
            print("   ", line)
