"""Reports: filing (validated, idempotent, queued), intake (stored with its history), read-back."""
