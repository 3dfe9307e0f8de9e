"""The rules: one module per capability, plain async functions over `storage`."""
