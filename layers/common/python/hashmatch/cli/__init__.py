"""The `hashmatch` command line."""
