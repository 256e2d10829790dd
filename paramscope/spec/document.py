"""A spec document: top-level keys validated, imports and templates linked.

Documents are loaded from YAML files (built-in configs or user paths) with
:mod:`paramscope.spec.yamlsafe`; no code runs.  Template names resolve through
the document's own templates, then its imports'.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from paramscope.errors import SpecError, closest
from paramscope.spec.budget import budgeted, charge
from paramscope.spec.yamlsafe import Map, Seq, line_of, load_file, load_text

TOP_KEYS = ("name", "description", "input", "params", "import", "templates", "layers", "use", "with")
TEMPLATE_KEYS = ("description", "params", "layers")
MAX_IMPORT_DEPTH = 16


@dataclass
class Template:
    name: str
    params: Map
    layers: Seq
    doc: "Document"
    line: int | None
    description: str = ""


@dataclass
class Document:
    data: Map
    file: str
    templates: dict[str, Template] = field(default_factory=dict)  # own + imported

    @property
    def name(self) -> str:
        return self.data.get("name", os.path.splitext(os.path.basename(self.file))[0])

    @property
    def description(self) -> str:
        return self.data.get("description", "")

    @property
    def is_library(self) -> bool:
        return "layers" not in self.data and "use" not in self.data

    def error(self, message: str, key: Any = None, container: Any = None) -> SpecError:
        line = line_of(container if container is not None else self.data, key) if key is not None else None
        return SpecError(message, file=self.file, line=line)


def parse_text(text: str, file: str = "<string>", resolve_import=None) -> Document:
    return _document(load_text(text, file), file, resolve_import, ())


def parse_file(path: str, resolve_import=None, _chain: tuple[str, ...] = (),
               _cache: dict[str, Document] | None = None) -> Document:
    """Parse a spec file and the files it imports (each file once; every parse is charged
    to the active budget's 'files' limit)."""
    with budgeted():
        charge("files")
        return _document(load_file(path), str(path), resolve_import, _chain,
                         {} if _cache is None else _cache)


def _document(data: Any, file: str, resolve_import, chain: tuple[str, ...],
              cache: dict[str, Document] | None = None) -> Document:
    if not isinstance(data, Map):
        what = "list" if isinstance(data, list) else type(data).__name__
        raise SpecError(f"a spec must be a mapping with name, input and layers, got a {what}",
                        file=file, line=getattr(data, "line", None))
    doc = Document(data, file)
    for key in data:
        if key not in TOP_KEYS:
            raise doc.error(f"unknown top-level key {key!r}{closest(key, TOP_KEYS)}; "
                            f"expected {', '.join(TOP_KEYS)}", key)
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            raise doc.error(f"{key} must be a string", key)
    if "layers" in data and "use" in data:
        raise doc.error("give either layers or use (a template), not both", "use")
    if "with" in data and "use" not in data:
        raise doc.error("'with' needs 'use' (the template it configures)", "with")
    for key in ("params", "templates", "with"):
        if key in data and not isinstance(data[key], Map):
            raise doc.error(f"{key} must be a mapping", key)
    if "layers" in data and not isinstance(data["layers"], Seq):
        raise doc.error("layers must be a list of layers", "layers")
    _link_imports(doc, resolve_import, chain, {} if cache is None else cache)
    for tname, tdata in data.get("templates", Map()).items():
        if not isinstance(tdata, Map):
            raise doc.error(f"template {tname!r} must be a mapping with params and layers",
                            tname, data["templates"])
        for key in tdata:
            if key not in TEMPLATE_KEYS:
                raise doc.error(f"template {tname!r}: unknown key {key!r}{closest(key, TEMPLATE_KEYS)}; "
                                f"expected {', '.join(TEMPLATE_KEYS)}", key, tdata)
        params = tdata.get("params", Map())
        layers = tdata.get("layers")
        if not isinstance(params, Map):
            raise doc.error(f"template {tname!r}: params must be a mapping", "params", tdata)
        if not isinstance(layers, Seq) or not layers:
            raise doc.error(f"template {tname!r}: layers must be a non-empty list", "layers"
                            if "layers" in tdata else None, tdata)
        doc.templates[str(tname)] = Template(str(tname), params, layers, doc,
                                             line_of(data["templates"], tname),
                                             str(tdata.get("description", "")))
    return doc


def _link_imports(doc: Document, resolve_import, chain: tuple[str, ...], cache: dict[str, Document]) -> None:
    imports = doc.data.get("import", Seq())
    if isinstance(imports, str):
        imports = [imports]
    if not isinstance(imports, list):
        raise doc.error("import must be a list of spec names or paths", "import")
    if len(chain) > MAX_IMPORT_DEPTH:
        raise doc.error(f"imports nest deeper than {MAX_IMPORT_DEPTH} files (limit 'import depth')", "import")
    for ref in imports:
        if not isinstance(ref, str):
            raise doc.error(f"import entries must be names or paths, got {ref!r}", "import")
        if resolve_import is None:
            raise doc.error(f"cannot import {ref!r} from a spec given as text", "import")
        try:
            path = resolve_import(ref, os.path.dirname(doc.file))
            from paramscope.spec.library import check_import

            check_import(ref, path, os.path.dirname(chain[0] if chain else os.path.realpath(doc.file)))
        except SpecError as err:
            raise err.located(file=doc.file, line=line_of(doc.data, "import"), path="import") from None
        real = os.path.realpath(path)
        if real in chain or real == os.path.realpath(doc.file):
            raise doc.error(f"import cycle: {ref!r} imports this file again", "import")
        imported = cache.get(real)
        if imported is None:
            imported = cache[real] = parse_file(path, resolve_import, chain + (os.path.realpath(doc.file),),
                                                cache)
        for tname, template in imported.templates.items():
            other = doc.templates.get(tname)
            if other is not None and other.doc.file != template.doc.file:
                raise doc.error(f"template {tname!r} is defined by both {other.doc.file} and "
                                f"{template.doc.file}", "import")
            doc.templates[tname] = template
