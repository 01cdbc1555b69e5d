"""The layer rule, read from the code: every first-party import, at module level and inside
functions, points down (docs/ARCHITECTURE.md draws the same picture).

    roof      wakeword/cli (the commands and the demo job): may import everything
    4         orchestrator/                       the server: training, TFF, evaluation, export
    3         data_tools/                         fleets, synthesis, importers
    2         device_client/                      a phone: its store, pipeline, microphone
    1         models/                             the architectures
    ground    wakeword/ (all else)                audio, features, errors, detector, TFLite format
    bench/    imports anything but the CLI
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOF_MODULES = ("wakeword.cli", "wakeword.__main__")
RANK = {"ground": 0, "models": 1, "device_client": 2, "data_tools": 3, "orchestrator": 4, "roof": 5}
SOURCES = ("wakeword", "models", "device_client", "data_tools", "orchestrator", "bench")


def layer(module: str) -> str | None:
    """The layer of a dotted module name (None: not first-party)."""
    top = module.split(".")[0]
    if top == "wakeword":
        roof = any(module == r or module.startswith(r + ".") for r in ROOF_MODULES)
        return "roof" if roof else "ground"
    return top if top in RANK or top == "bench" else None


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in a file, wherever it stands."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}:{node.lineno}: relative import; write it absolute"
            found += [(node.lineno, node.module)] + [
                (node.lineno, f"{node.module}.{alias.name}") for alias in node.names
            ]
    return found


def allowed(source: str, target: str) -> bool:
    if source == "bench":
        return target != "roof"
    if target == "bench":
        return False
    return source == target or RANK[target] < RANK[source]


def violations(root: Path) -> list[str]:
    out = []
    for package in SOURCES:
        for path in sorted((root / package).rglob("*.py")):
            module = ".".join(path.relative_to(root).with_suffix("").parts)
            source = layer(module)
            for line, name in imports(path):
                target = layer(name)
                if target is not None and not allowed(source, target):
                    out.append(f"{path.relative_to(root)}:{line}: {source} imports {name} ({target})")
    return sorted(set(out))


def test_every_import_points_down():
    assert violations(REPO) == []


def test_the_check_finds_a_hidden_upward_import(tmp_path):
    """An import inside a function counts as much as one at the top: the rule cannot pass vacuously."""
    for package in SOURCES:
        (tmp_path / package).mkdir()
    (tmp_path / "wakeword" / "stream.py").write_text("def f():\n    from orchestrator.export import x\n")
    (tmp_path / "models" / "net.py").write_text("import device_client.store\n")
    (tmp_path / "bench" / "b.py").write_text("from wakeword.cli import progress\n")
    (tmp_path / "orchestrator" / "fed.py").write_text("from wakeword import features\nimport models\n")
    assert violations(tmp_path) == [
        "bench/b.py:1: bench imports wakeword.cli (roof)",
        "bench/b.py:1: bench imports wakeword.cli.progress (roof)",
        "models/net.py:1: models imports device_client.store (device_client)",
        "wakeword/stream.py:2: ground imports orchestrator.export (orchestrator)",
        "wakeword/stream.py:2: ground imports orchestrator.export.x (orchestrator)",
    ]


def test_the_roof_is_where_the_docs_say():
    text = (REPO / "docs" / "ARCHITECTURE.md").read_text()
    for name in (ROOF_MODULES[0], *RANK):
        assert name.replace("wakeword.", "wakeword/") in text or name in text
