"""Statistics: counters per day and dimension, without personal data."""
