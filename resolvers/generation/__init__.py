"""Reference generation: a prompt plus consented MeImages sent to an image model.

Kept import-light on purpose: `resolvers.stores` imports `config` from here.
"""
