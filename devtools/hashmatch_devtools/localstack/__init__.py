"""The local stack behind `make run` / `hashmatch serve`: template.yaml run on one machine.

moto (server mode) holds every store the template declares, created from the template itself;
an API Gateway emulator serves the template's routes by calling the same handlers in-process;
SQS pollers and schedule timers drive the other functions. Nothing in here lists the project's
resources or functions: a function added to the template runs without touching this package.

Modules: ``template`` (reading template.yaml), ``resources`` (the stores, created in moto),
``moto_server``, ``environment`` (the one process environment), ``lambda_runtime`` (handlers
in-process), ``api_gateway`` (the API emulator), ``pollers`` and ``schedules`` (the other
triggers), ``control_api`` (``/_local/...``), ``stack`` (the lifecycle: start and stop),
``banner``, ``state_file``, ``logs``; ``inprocess`` (the stores in ``mock_aws``, for tests).

Import :class:`LocalStack` from ``hashmatch_devtools.localstack.stack`` (this package imports no
moto, so that importing ``hashmatch_devtools.localstack.errors`` stays cheap).
"""
