"""A person deleting everything of theirs: the operator's `purge --user`, self-served."""

from __future__ import annotations

from resolvers.errors import DomainError, InvalidInput
from resolvers.lifecycle.purge import PurgeReport, purge_owner
from resolvers.stores import Caller, Stores

# Typed by the person, so a stray click or a replayed request cannot erase a pool.
CONFIRMATION = "DELETE MY DATA"


class SelfDeletionDisabled(DomainError):
    """This server keeps deletion for its operator (`MEIMAGES_SELF_DELETION=false`)."""

    code = "SELF_DELETION_DISABLED"

    def __init__(self) -> None:
        super().__init__(
            "this server does not let people delete their data themselves; "
            "ask whoever runs it (they can run `meimages purge --user`)"
        )


async def delete_my_data(stores: Stores, caller: Caller, confirmation: str) -> PurgeReport:
    """Everything of the caller, in every space, goes exactly as `purge --user` takes it:
    images, media bytes, history, exports and the data keys."""
    if not stores.config.portability.self_deletion:
        raise SelfDeletionDisabled()
    if confirmation.strip() != CONFIRMATION:
        raise InvalidInput(f"type {CONFIRMATION!r} to confirm", field="confirmation")
    report = await purge_owner(stores, caller.owner_id)
    # Open pages and agent sessions of the owner look again (and find nothing).
    stores.notifier.notify(caller.owner_id)
    return report
