"""How data leaves: `purge` removes rows for good, `garbage` removes the bytes no row
references any more."""
