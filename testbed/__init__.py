"""What the tests and the benchmarks share to run and call a real meimages server.

`server` starts `meimages serve` processes on loopback, `graphql` calls them (or the
in-process app) as any user, `images` and `media_samples` make the files they upload.
A development package: the product floors (api, schema, resolvers, storage) never
import it, and it is not shipped.
"""
