"""Trusted documents: the operations of our own clients, known by hash before they run.

The manifest (`api/trusted_documents.json`, Apollo's persisted query manifest format) is
built from `clients/operations/*.graphql` and the web app's `web/src/lib/*.graphql` by
`meimages trusted-documents -o …`; a test keeps the checked-in file current. Each
operation is stored in a canonical form — the operation and the fragments it uses, sorted
by name, printed by graphql-core — and its id is the SHA-256 of that text. A request is
judged by the same canonical form, so a client may send the document formatted as it
likes (or by id: `api.persisted_queries`).

`MEIMAGES_TRUSTED_DOCUMENTS`: `off` ignores the manifest; `allow` lets clients send a
manifest id instead of the text; `require` also refuses every other document, except
GraphiQL's in development (`X-GraphiQL: 1` while GraphiQL is on and production is off).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from graphql import (
    DefinitionNode,
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    parse,
    print_ast,
    visit,
)
from strawberry.extensions import SchemaExtension

from schema.build import FragmentSpreads

Mode = Literal["off", "allow", "require"]
MANIFEST_FORMAT = "apollo-persisted-query-manifest"
NOT_TRUSTED = "QUERY_NOT_IN_PERSISTED_QUERY_LIST"
GRAPHIQL_HEADER = "x-graphiql"
# Where the documents of our own clients live, relative to the repository.
DEFAULT_SOURCES = ("clients/operations", "web/src/lib")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _used_fragments(
    root: DefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> list[FragmentDefinitionNode]:
    used: dict[str, FragmentDefinitionNode] = {}
    todo: list[DefinitionNode] = [root]
    while todo:  # bounded: each fragment is taken once
        spreads = FragmentSpreads()
        visit(todo.pop(), spreads)
        for name in sorted(spreads.names - used.keys()):
            if name in fragments:
                used[name] = fragments[name]
                todo.append(fragments[name])
    return [used[name] for name in sorted(used)]


def canonical_body(document: DocumentNode, operation_name: str | None) -> str | None:
    """The operation that would run with the fragments it uses, in canonical text (None
    when the document does not name exactly one operation to run)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [op for op in operations if op.name and op.name.value == operation_name]
    if len(operations) != 1:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    chosen = operations[0]
    definitions = [chosen, *_used_fragments(chosen, fragments)]
    return print_ast(DocumentNode(definitions=tuple(definitions)))


def manifest_operations(sources: Iterable[str]) -> Iterator[dict[str, str]]:
    """One manifest entry per named operation of the given documents' text."""
    for source in sources:
        document = parse(source)
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.name:
                body = canonical_body(document, definition.name.value)
                assert body is not None
                yield {
                    "id": sha256_hex(body),
                    "name": definition.name.value,
                    "type": definition.operation.value,
                    "body": body,
                }


def build_manifest(files: Iterable[Path]) -> dict[str, Any]:
    """The manifest of the operations in `files`; the same operation in several files
    (the web app and clients/ share some) is listed once."""
    operations: dict[str, dict[str, str]] = {}
    for entry in manifest_operations(path.read_text() for path in sorted(files)):
        operations.setdefault(entry["id"], entry)
    ordered = sorted(operations.values(), key=lambda e: (e["name"], e["id"]))
    return {"format": MANIFEST_FORMAT, "version": 1, "operations": ordered}


def source_files(roots: Iterable[Path]) -> list[Path]:
    return sorted(path for root in roots for path in root.glob("*.graphql"))


def render_manifest(manifest: Mapping[str, Any]) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def shipped_manifest() -> str:
    return resources.files("api").joinpath("trusted_documents.json").read_text()


@dataclass(frozen=True)
class TrustedDocuments:
    """The manifest as the server holds it: canonical text by id, and the mode."""

    mode: Mode = "off"
    bodies: Mapping[str, str] = field(default_factory=dict)
    graphiql_exempt: bool = False

    @classmethod
    def load(cls, mode: Mode, path: Path | None, *, graphiql_exempt: bool) -> TrustedDocuments:
        if mode == "off":
            return cls()
        text = path.read_text() if path is not None else shipped_manifest()
        manifest = json.loads(text)
        if manifest.get("format") != MANIFEST_FORMAT or manifest.get("version") != 1:
            raise ValueError(f"not a persisted query manifest (version 1): {path}")
        bodies = {entry["id"]: entry["body"] for entry in manifest["operations"]}
        return cls(mode, bodies, graphiql_exempt)

    def body(self, document_id: str) -> str | None:
        """The text of a manifest id (None when off, or not listed)."""
        return self.bodies.get(document_id) if self.mode != "off" else None

    def trusts(self, document: DocumentNode, operation_name: str | None) -> bool:
        body = canonical_body(document, operation_name)
        return body is not None and sha256_hex(body) in self.bodies


def _from_graphiql(context: object) -> bool:
    request = getattr(context, "request", None)
    headers = getattr(request, "headers", None)
    if headers is not None and headers.get(GRAPHIQL_HEADER) == "1":
        return True
    params = getattr(context, "connection_params", None)
    return isinstance(params, dict) and str(params.get("X-GraphiQL", "")) == "1"


class TrustedDocumentsOnly(SchemaExtension):
    """`require`: a document that is not in the manifest is refused before validation,
    whichever transport brought it (HTTP, WebSocket, SSE)."""

    def __init__(self, trusted: TrustedDocuments) -> None:
        self.trusted = trusted

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if (
            self.trusted.mode == "require"
            and document is not None
            and not (self.trusted.graphiql_exempt and _from_graphiql(context.context))
            and not self.trusted.trusts(document, context.operation_name)
        ):
            # Set before validation runs: Strawberry then skips it and answers with this.
            context.pre_execution_errors = [
                GraphQLError(
                    "this server runs only the operations of its own clients "
                    "(trusted documents); this document is not one of them",
                    extensions={"code": NOT_TRUSTED},
                )
            ]
        yield
