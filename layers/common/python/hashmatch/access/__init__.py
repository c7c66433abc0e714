"""API clients, roles and who may call which route."""
