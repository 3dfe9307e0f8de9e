"""Operating a server: backup, restore, verify, and the erasures a restore replays."""
