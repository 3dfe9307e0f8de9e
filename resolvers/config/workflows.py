"""ComfyUI workflows as this server reads them: API-format JSON with named placeholders.

A workflow file is what ComfyUI's "Export (API)" writes: an object of node id -> node
(`class_type` and `inputs`). The operator puts placeholders where this server fills in
a value, each as a whole string input value:

- `{{prompt}}`: the prompt (this one may also sit inside a longer text, e.g.
  "a portrait photo of {{prompt}}, 85mm");
- `{{reference_1}}`, `{{reference_2}}`, ...: the uploaded reference images, numbered from
  1 without gaps (typically the `image` input of a LoadImage node);
- `{{mask}}` (optional): the uploaded mask image;
- `{{seed}}`, `{{width}}`, `{{height}}`, `{{batch_size}}` (optional): whole numbers.

One more top-level key, `meimages`, is ours and never sent: `name` (the model is
`local/<name>`; default the file name), `description` and `price` (credits per output
image; default 0).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

META_KEY = "meimages"
MODEL_PREFIX = "local/"
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_REFERENCE = re.compile(r"reference_([1-9][0-9]?)")
NUMBERS = ("seed", "width", "height", "batch_size")
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MAX_PRICE = 1_000_000
MAX_FILE_BYTES = 4 * 1024 * 1024


class WorkflowError(ValueError):
    """A workflow file this server cannot use; the message says why, in one line."""


@dataclass(frozen=True)
class Slot:
    """Where one placeholder sits: node id, input name."""

    node: str
    input: str


@dataclass(frozen=True)
class Workflow:
    name: str
    description: str
    price: int
    graph: Mapping[str, Any] = field(repr=False)
    slots: Mapping[str, tuple[Slot, ...]] = field(repr=False)
    references: int = 1

    @property
    def model_id(self) -> str:
        return MODEL_PREFIX + self.name

    @property
    def takes_mask(self) -> bool:
        return "mask" in self.slots

    @property
    def takes_batch(self) -> bool:
        return "batch_size" in self.slots

    def fill(
        self,
        *,
        prompt: str,
        references: list[str],
        mask: str | None,
        seed: int,
        width: int,
        height: int,
        batch_size: int,
    ) -> dict[str, Any]:
        """The graph to queue, every placeholder replaced (file names are as uploaded)."""
        if len(references) != self.references:
            raise ValueError(f"{self.name} takes {self.references} references")
        values: dict[str, Any] = {
            "seed": seed,
            "width": width,
            "height": height,
            "batch_size": batch_size,
        }
        values.update({f"reference_{i}": n for i, n in enumerate(references, start=1)})
        if mask is not None:
            values["mask"] = mask
        graph = copy.deepcopy(dict(self.graph))
        for name, slots in self.slots.items():
            for slot in slots:
                inputs = graph[slot.node]["inputs"]
                if name == "prompt":
                    # A function, so a backslash or "{{" in the prompt is taken literally.
                    inputs[slot.input] = _PLACEHOLDER.sub(
                        lambda m: prompt if m.group(1) == "prompt" else m.group(0),
                        inputs[slot.input],
                    )
                elif name == "mask" and mask is None:
                    raise ValueError(f"{self.name} needs a mask")
                else:
                    inputs[slot.input] = values[name]
        return graph


def _string_inputs(graph: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    for node_id, node in graph.items():
        for key, value in node["inputs"].items():
            if isinstance(value, str):
                yield node_id, key, value


def parse_workflow(text: str, default_name: str) -> Workflow:
    """The workflow in `text`, or WorkflowError with the reason."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise WorkflowError(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise WorkflowError("expected a JSON object of node id -> node (ComfyUI's API format)")
    meta = data.pop(META_KEY, {})
    if not isinstance(meta, dict):
        raise WorkflowError(f"{META_KEY!r} must be an object (name, description, price)")
    if unknown := sorted(set(meta) - {"name", "description", "price"}):
        raise WorkflowError(f"unknown key {unknown[0]!r} in {META_KEY!r}")
    if "nodes" in data and "links" in data:
        raise WorkflowError(
            "this is ComfyUI's UI format; export the workflow with 'Export (API)' instead"
        )
    if not data:
        raise WorkflowError("the workflow has no nodes")
    for node_id, node in data.items():
        if (
            not isinstance(node, dict)
            or not isinstance(node.get("class_type"), str)
            or not isinstance(node.get("inputs"), dict)
        ):
            raise WorkflowError(f"node {node_id!r} is not a node (class_type and inputs)")
    slots: dict[str, list[Slot]] = {}
    for node_id, key, value in _string_inputs(data):
        found = _PLACEHOLDER.findall(value)
        for name in found:
            if name != "prompt" and (len(found) > 1 or _PLACEHOLDER.fullmatch(value) is None):
                raise WorkflowError(
                    f"node {node_id!r} input {key!r}: {{{{{name}}}}} must be the whole value"
                )
            if name not in ("prompt", "mask", *NUMBERS) and not _REFERENCE.fullmatch(name):
                raise WorkflowError(f"node {node_id!r} input {key!r}: unknown placeholder {name}")
            if name in ("prompt", *NUMBERS, "mask") and Slot(node_id, key) in slots.get(name, []):
                continue
            slots.setdefault(name, []).append(Slot(node_id, key))
    if "prompt" not in slots:
        raise WorkflowError("no {{prompt}} placeholder")
    numbers = sorted(
        int(m.group(1)) for name in slots if (m := _REFERENCE.fullmatch(name)) is not None
    )
    if not numbers:
        raise WorkflowError("no {{reference_1}} placeholder")
    if numbers != list(range(1, len(numbers) + 1)):
        raise WorkflowError("reference placeholders must be numbered 1, 2, ... without gaps")
    if len(numbers) > 8:
        raise WorkflowError("at most 8 reference placeholders")
    name = meta.get("name", default_name)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise WorkflowError(
            f"name {name!r} must be 1-64 of a-z, 0-9, '.', '_', '-' (starting with a letter "
            "or digit)"
        )
    description = meta.get("description", f"ComfyUI workflow {name} on this server's engine.")
    if not isinstance(description, str) or not description.strip():
        raise WorkflowError("description must be a non-empty string")
    price = meta.get("price", 0)
    if not isinstance(price, int) or isinstance(price, bool) or not 0 <= price <= MAX_PRICE:
        raise WorkflowError(f"price must be a whole number of credits from 0 to {MAX_PRICE}")
    return Workflow(
        name=name,
        description=description.strip(),
        price=price,
        graph=data,
        slots={k: tuple(v) for k, v in slots.items()},
        references=len(numbers),
    )


def load_workflows(paths: tuple[str, ...] | list[str]) -> tuple[Workflow, ...]:
    """Every file's workflow; WorkflowError naming the file and the reason."""
    workflows: list[Workflow] = []
    for raw in paths:
        path = Path(raw).expanduser()
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise WorkflowError(f"{raw}: larger than {MAX_FILE_BYTES} bytes")
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise WorkflowError(f"{raw}: cannot be read ({type(exc).__name__})") from None
        try:
            workflow = parse_workflow(text, path.stem.lower())
        except WorkflowError as exc:
            raise WorkflowError(f"{raw}: {exc}") from None
        if any(w.name == workflow.name for w in workflows):
            raise WorkflowError(f"{raw}: a second workflow named {workflow.name!r}")
        workflows.append(workflow)
    return tuple(workflows)
