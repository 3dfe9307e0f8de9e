"""What the floors above make of one logged event, made once for every subscriber.

A `LoggedEvent` is shared: the feed hands every subscriber of an owner the same object
(replays included, see `fanout`). Each floor above keeps what it derives from it (the
domain event, the GraphQL object, an execution's result, the encoded frame) in the
event's `forms`, under a `Form` key it declares itself, so this floor never knows their
types and each form is built once however many subscribers send it. A form that needs
the forms itself (to add its own) keeps a weak reference to them (`FormsRef`): no cycle,
so an event and its forms are freed as soon as the last holder lets go of the event.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")


@dataclass(frozen=True)
class Form(Generic[T]):
    """The key of one derived form: a name its floor declares, and what tells apart
    several forms of that name (e.g. one execution result per document and caller)."""

    name: str
    detail: Hashable = None


class EventForms:
    """The derived forms of one logged event, by key. Lives as long as the event."""

    __slots__ = ("__weakref__", "_made")

    def __init__(self) -> None:
        self._made: dict[Form[Any], Any] | None = None

    def get(self, form: Form[T]) -> T | None:
        if self._made is None:
            return None
        return cast("T | None", self._made.get(form))

    def put(self, form: Form[T], value: T) -> None:
        if self._made is None:
            self._made = {}
        self._made[form] = value

    def drop(self, form: Form[Any]) -> None:
        if self._made is not None:
            self._made.pop(form, None)

    def made(self, form: Form[T], make: Callable[[], T]) -> T:
        """The form, made by `make` the first time it is asked for."""
        known = self.get(form)
        if known is None:
            known = make()
            self.put(form, known)
        return known


# A weak reference to an event's forms, as a form keeps it; None once the event is gone.
FormsRef = Callable[[], EventForms | None]


def no_forms() -> EventForms | None:
    """The `FormsRef` of an event that shares no forms."""
    return None


def made(forms: EventForms | None, form: Form[T], make: Callable[[], T]) -> T:
    """`forms.made(form, make)`, or `make()` when there are no forms to keep it in."""
    return make() if forms is None else forms.made(form, make)
