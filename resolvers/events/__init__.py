"""Live changes of the pool: `cursors` (positions in an owner's log) and `feed`
(following the log as domain events)."""
