"""The limits of POST /v1/match, shared by the service and the provider client (stdlib only)."""

MAX_ITEMS_PER_REQUEST = 1000
# 7 rotations/flips and a trimmed copy (hashmatch hash --rotations --trim-borders).
MAX_ALTERNATES_PER_ITEM = 8
# Values and alternates together: bounds the index lookups of one request at 4x a plain batch.
MAX_HASHES_PER_REQUEST = 4000
# An Idempotency-Key header (POST /v1/match and POST /v1/reports).
MAX_IDEMPOTENCY_KEY_LENGTH = 255
