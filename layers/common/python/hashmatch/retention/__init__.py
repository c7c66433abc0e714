"""Retention: one policy for every data class, legal holds, and the erasure that enforces both."""
