"""The one place Logger, Tracer and Metrics are created.

Service name and metrics namespace are fixed here rather than read from the environment:
Powertools reads its environment when these objects are built, which is at import time — before
the local stack or a test has set the functions' environment. Log lines carry the function name,
so one service name serves every function. Logs carry ids only, never personal data or content
references.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE_NAME = "hashmatch"

logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)
metrics = Metrics(namespace=SERVICE_NAME, service=SERVICE_NAME)
