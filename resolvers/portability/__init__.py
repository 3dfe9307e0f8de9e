"""Take your data with you: export a pool and its history as a zip, import one anywhere."""
