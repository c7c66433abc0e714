"""Adapters: the only code that talks to AWS. Each implements a port of the domain."""
