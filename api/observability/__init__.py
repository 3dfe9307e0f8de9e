"""Seeing what a server does: metrics, traces, logs and readiness (the request id they
all carry is `api.request_id`, which the error bodies carry too).

Each module holds one of them; `api.app` and `api.wiring` plug them in.
"""
