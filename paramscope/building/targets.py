"""What a TARGET string names: a built-in config, a YAML file, or a Python factory.

- ``resnet50``                   built-in config (``paramscope list``)
- ``path/to/net.yaml``           a spec file
- ``package.module:callable``    a factory, imported and called (user code runs
                                  only for this explicit form)
- ``path/to/file.py:callable``   a factory defined in a Python file
- ``hf:gpt2`` / ``hf:bert:masked-lm``  a transformers model from its config class (see paramscope.building.hf)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from paramscope.errors import TargetError
from paramscope.spec.library import builtin_path, is_spec_path

_FACTORY = re.compile(r"^(?P<module>[A-Za-z_][\w.]*|.+\.py):(?P<attr>[A-Za-z_][\w.]*)$")


@dataclass(frozen=True)
class Target:
    text: str
    kind: str  # "spec" | "factory" | "hf"
    path: str = ""  # spec file, or .py file of a file factory
    module: str = ""  # dotted module of a factory
    attr: str = ""  # callable name of a factory

    @property
    def label(self) -> str:
        return self.text


def parse_target(text: str) -> Target:
    """Classify ``text``; raise TargetError with a suggestion when nothing matches."""
    if not isinstance(text, str) or not text.strip():
        raise TargetError("empty target; give a built-in name, a YAML path or module:callable")
    text = text.strip()
    if text.startswith("hf:"):
        from paramscope.building.hf import split_name

        name, head = split_name(text)
        return Target(text, "hf", module=name, attr=head)
    match = _FACTORY.match(text)
    if match and not text.endswith((".yaml", ".yml")):
        module, attr = match.group("module"), match.group("attr")
        if module.endswith(".py"):
            if not os.path.isfile(module):
                raise TargetError(f"factory file {module!r} does not exist")
            return Target(text, "factory", path=module, attr=attr)
        return Target(text, "factory", module=module, attr=attr)
    if is_spec_path(text):
        if os.path.exists(text) and not os.path.isfile(text):
            raise TargetError(f"spec {text!r} is not a regular file (a directory or a device?)")
        if not os.path.isfile(text):
            raise TargetError(f"spec file {text!r} does not exist")
        return Target(text, "spec", path=text)
    return Target(text, "spec", path=str(builtin_path(text)))


def load_factory(target: Target) -> Any:
    """Import the factory's module (user code runs here) and return the callable."""
    import importlib
    import importlib.util
    import sys

    from paramscope.spec.yamlsafe import FILES_READ

    if target.path:  # --output must never replace the factory's own file
        FILES_READ.add(os.path.realpath(target.path))
    try:
        if target.path:
            name = "_paramscope_factory_" + re.sub(r"\W", "_", os.path.abspath(target.path))
            spec = importlib.util.spec_from_file_location(name, target.path)
            if spec is None or spec.loader is None:
                raise TargetError(f"cannot load {target.path!r} as Python")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            directory = os.path.dirname(os.path.abspath(target.path))
            sys.path.insert(0, directory)
            try:
                spec.loader.exec_module(module)
            finally:
                sys.path.remove(directory)
        else:
            if os.getcwd() not in sys.path and "" not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(target.module)
    except TargetError:
        raise
    except ModuleNotFoundError as err:
        raise TargetError(f"{target.text}: module {err.name!r} not found") from None
    except SyntaxError as err:
        raise TargetError(f"{target.text}: syntax error in {err.filename}:{err.lineno}") from None
    except Exception as err:  # the user's module raised while importing
        from paramscope.sandbox import safe_text

        raise TargetError(f"{target.text}: importing raised {type(err).__name__}: {safe_text(err)[:300]}") from None
    obj: Any = module
    for part in target.attr.split("."):
        if not hasattr(obj, part):
            from paramscope.errors import closest

            hint = closest(part, [n for n in dir(obj) if not n.startswith("_")])
            raise TargetError(f"{target.text}: {part!r} not found in {target.module or target.path}{hint}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise TargetError(f"{target.text}: {target.attr!r} is not callable")
    return obj
