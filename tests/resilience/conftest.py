"""The fault tests use the shared provider test server (tests/conftest.py)."""
