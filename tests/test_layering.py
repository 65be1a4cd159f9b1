"""Imports flow one way (README, "Layout"): bot, admin → intake → routing → core.

Every `import` in the product's packages, at the top of a module or inside a function, is read
with `ast` and checked against the layer the module belongs to. `product.py` (the composition),
`wsgi.py`, the tests and the benchmarks stand above all of them.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "routing", "intake", "bot", "admin", "fakewechat")
# What each package may import of the project's packages (besides itself).
ALLOWED = {
    "core": set(),
    "routing": {"core"},
    "intake": {"core", "routing"},
    "bot": {"core", "intake", "fakewechat"},  # `flask wechat fake-api` runs the fake server
    "admin": {"core", "intake", "routing"},
    "fakewechat": set(),  # stands alone: WeChat's side of the wire
}


def project_imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every import of a project package in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, name.split(".")[0]) for name in names if name.split(".")[0] in PACKAGES]
    return found


def wrong_arrows(root: Path) -> list[str]:
    wrong = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            for line, target in project_imports(path):
                if target != package and target not in ALLOWED[package]:
                    wrong.append(f"{path.relative_to(root)}:{line} imports {target}")
    return wrong


def test_imports_flow_one_way():
    assert wrong_arrows(ROOT) == []


def test_nothing_imports_the_channels_or_the_desk_but_the_composition():
    for package, allowed in ALLOWED.items():
        assert not {"bot", "admin"} & (allowed - {package}), package


@pytest.mark.parametrize("package, line, allowed", [
    ("core", "from routing.jobs import route_case", False),
    ("core", "    from bot import bp", False),  # inside a function too
    ("bot", "from routing.jobs import route_case", False),
    ("routing", "from intake import clock", False),
    ("routing", "import admin.deploy", False),
    ("intake", "from routing.jobs import route_case", True),
    ("admin", "from intake.cases import open_case", True),
])
def test_the_check_sees_a_wrong_arrow(tmp_path, package, line, allowed):
    (tmp_path / package).mkdir()
    for other in PACKAGES:
        (tmp_path / other).mkdir(exist_ok=True)
    body = f"def f():\n{line}\n" if line.startswith(" ") else f"{line}\n"
    (tmp_path / package / "mod.py").write_text(body, encoding="utf-8")
    assert (wrong_arrows(tmp_path) == []) is allowed
