"""The ground floor: tables, database engines, field encryption, blob stores, events."""
