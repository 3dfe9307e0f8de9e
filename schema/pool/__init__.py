"""The pool capability: MeImage and the profile, their queries and mutations."""
