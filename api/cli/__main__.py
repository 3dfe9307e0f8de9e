"""`python -m api.cli`: the `meimages` command."""

from api.cli import main

raise SystemExit(main())
