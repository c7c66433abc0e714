"""HTTP concerns shared by every API function: the resolver, problem+json, the caller."""
