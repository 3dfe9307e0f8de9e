"""What a cached answer may not cover: the schema's word on fields tied to the clock.

A stored answer is replayed while the owner's data version is unchanged. These fields
can change without any write (a credit hold or a PENDING generation lapses after a
while), so no version vouches for them. Each entry is a schema coordinate `Type.field`;
the query cache (api/) checks at start-up that every one exists in the schema.
"""

from __future__ import annotations

CLOCK_DEPENDENT_FIELDS = frozenset(
    # An export's progress and URL change as its background build runs.
    {
        "Profile.credits",
        "Query.generation",
        "Query.generations",
        "Query.dataExport",
        "Query.dataExports",
    }
)
