"""Client side of hashmatch: what runs on a provider's own machine (never in the cloud).

Image decoding and hashing live in :mod:`hashmatch_client.imaging`, the only module of the
project that imports PIL; it is not imported here so that ``import hashmatch.client`` stays cheap.
"""
