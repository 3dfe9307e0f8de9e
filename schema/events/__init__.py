"""The events capability: image events, the cursor to start from, the subscription."""
