"""The event log of pool changes, one job per module, read in this order:

- `log`: the table's contract — writing an event in the change's transaction, reading
  an owner's events back decoded, and why per-owner seq order is commit order;
- `payload`: what an event records itself (its keys, declared once);
- `snapshot`: the image's state as the change left it (encoded and decoded here only);
- `retention`: pruning old events and the horizon readers check their cursor against;
- `fanout`: one reader per owner log shared by this process's subscribers, handing
  them one object per event;
- `forms`: what the floors above make of that object, each made once;
- `listen`: PostgreSQL LISTEN, turning other instances' commits into local wake-ups.
"""
