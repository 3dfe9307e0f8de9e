"""Media, one job per module: `sanitising` (what the bytes are, re-encoding them clean),
`uploads` (storing them and handing out media ids), `transforms` (variants made on the
fly), `delivery` (what a URL may still serve, and its bytes), `signed_urls`."""
