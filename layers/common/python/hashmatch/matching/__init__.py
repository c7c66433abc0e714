"""Provider matching: the query model, the matcher over the index snapshot, the match service
(quality gate, thresholds, match events, counters) and the API's request and response models.

``limits`` holds the request limits and imports nothing, so the provider client can batch by
them without the service's dependencies.
"""
