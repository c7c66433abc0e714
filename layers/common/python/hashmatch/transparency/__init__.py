"""The yearly transparency report (COM(2022) 209 Art. 83-84): built from the counters, published
once and immutably, served to the public. docs/transparency.md describes every figure."""
