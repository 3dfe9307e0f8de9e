"""Seeing what a server does: metrics, traces, logs, request ids and readiness.

Each module holds one of them; `api.app` and `api.wiring` plug them in.
"""
