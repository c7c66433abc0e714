"""The audit log: append-only, hash-chained, verifiable; erased behind a checkpoint."""
