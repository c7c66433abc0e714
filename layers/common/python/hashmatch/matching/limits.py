"""The limits of POST /v1/match, shared by the service and the provider client (stdlib only)."""

MAX_ITEMS_PER_REQUEST = 1000
# 7 rotations/flips, a trimmed copy and the inner box of a small rotation (hashmatch hash
# --rotations --trim-borders --inner-crop): at most 10 hashes per query with the value.
MAX_ALTERNATES_PER_ITEM = 9
# Values and alternates together: bounds the index lookups of one request at 4x a plain batch.
MAX_HASHES_PER_REQUEST = 4000
# An Idempotency-Key header (POST /v1/match and POST /v1/reports).
MAX_IDEMPOTENCY_KEY_LENGTH = 255
