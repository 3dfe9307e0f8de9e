"""An import-linter contract of our own: no import circle between any two modules of the
given packages (imports inside functions included). import-linter's `acyclic_siblings`
judges whole subpackages against each other; this one judges modules, the level at which
a circle forces an import into a function body."""

from __future__ import annotations

from typing import Any

from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


class AcyclicModulesContract(Contract):
    type_name = "acyclic_modules"

    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: Any, verbose: bool) -> ContractCheck:
        modules = {
            module
            for package in self.packages  # type: ignore[attr-defined]
            for module in (package, *graph.find_descendants(package))
        }
        circles: dict[frozenset[str], list[str]] = {}
        for importer in sorted(modules):
            for imported in sorted(graph.find_modules_directly_imported_by(importer) & modules):
                back = graph.find_shortest_chain(importer=imported, imported=importer)
                if back:
                    circle = [importer, *back]
                    circles.setdefault(frozenset(circle), circle)
        return ContractCheck(kept=not circles, metadata={"circles": list(circles.values())})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for circle in check.metadata["circles"]:
            output.print_error(" -> ".join(circle))
            output.new_line()
