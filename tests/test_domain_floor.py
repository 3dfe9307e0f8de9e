"""The domain floor holds rules, not SQL: every query lives in `storage.repositories`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RESOLVERS = Path(__file__).resolve().parent.parent / "resolvers"
SQL_PACKAGES = ("sqlalchemy", "sqlmodel")


def _imported_modules(tree: ast.AST) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def _sql_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [module for module in _imported_modules(tree) if module.split(".")[0] in SQL_PACKAGES]


def test_the_check_sees_every_import_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import sqlalchemy\n"
        "from sqlmodel import col\n"
        "def f():\n"
        "    from sqlalchemy.exc import IntegrityError\n"
        "import storage.db\n",
        encoding="utf-8",
    )
    assert _sql_imports(sample) == ["sqlalchemy", "sqlmodel", "sqlalchemy.exc"]


@pytest.mark.parametrize(
    "path", sorted(RESOLVERS.rglob("*.py")), ids=lambda p: str(p.relative_to(RESOLVERS))
)
def test_no_resolver_module_imports_sql(path: Path) -> None:
    assert _sql_imports(path) == [], f"{path} imports SQL; add a repository method instead"
