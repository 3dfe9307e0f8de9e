"""Take your data with you: export and import in GraphQL."""
