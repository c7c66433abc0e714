"""Is POST /v1/match an oracle? A provider holding one matching image tries to recover the
indicator's PDQ hash by flipping bits, through the real handlers in-process (template stores in
moto, as tests/integration does).

    .venv/bin/python -m bench.oracle
    .venv/bin/python -m bench.oracle --hours 24 --uploads-per-hour 2000

Attacks (each against a fresh stack, the template's default parameters unless named):

- ``exact``: the deployment discloses exact distances (ProviderDistanceDisclosure=exact). The
  attacker flips one bit of its hash per query: the distance goes down (the bit was wrong) or
  up (it was right), one bit of the indicator per query.
- ``bands-edge``: bands only (the default). The attacker first walks its hash, one flipped bit at
  a time, until the band turns from ``close`` to ``near`` and steps back: it then sits at the
  edge (distance 15 of 31), where flipping one more bit turns the band ``near`` (the bit was
  right) or keeps it ``close`` (it was wrong): again one bit per query, after the walk.
- ``bands-threshold``: the same at the threshold's edge (31: ``near`` or no match at all), which
  no banding can hide; half its probes do not match.

Each prints the queries sent before the first intervention (a 429 or a suspension) and the
indicator bits recovered by then (bits the attack determined, checked against the true hash),
then what the attacker has after waiting out every Retry-After for ``--attack-hours``: with
ProbingSuspendAfter=0 (throttling only), 2 (the default: suspended at the second detection) and
1.

A benign provider's day: ``--hours`` of uploads (``--uploads-per-hour``, batches of 500), a
match share of 0.1 % (re-encoded copies of random indicators, 0-8 bits off), and one viral
indicator re-uploaded ``--viral-per-hour`` times an hour (byte-identical copies: the same
hash) with a few re-encoded variants; it prints the interventions (429s and quarantines): the
goal is none. Goal for the attacks: stopped before 32 bits in every mode.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import REGION, Context, use_moto_environment

ROOT = Path(__file__).resolve().parents[1]
BITS = 256
CLOCK = "HASHMATCH_CLOCK_OFFSET_SECONDS"
PROVIDER = {
    "client_id": "cl_" + "a" * 24,
    "role": "provider",
    "organisation_id": "org_" + "a" * 24,
    "owner": "Benchmark Hosting SA",
    "databases": "known",
    "hash_types": "pdq",
    "principalId": "cl_" + "a" * 24,
}
CURATOR = {
    "client_id": "cl_" + "c" * 24,
    "role": "curator",
    "organisation_id": "org_" + "c" * 24,
    "owner": "EU Centre curation",
    "databases": "known",
    "hash_types": "pdq",
    "principalId": "cl_" + "c" * 24,
}


def event(method: str, path: str, principal: dict[str, str], body: Any) -> dict[str, Any]:
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "stage": "bench",
            "requestId": "bench",
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": principal,
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def flip(value: int, *positions: int) -> int:
    for position in positions:
        value ^= 1 << position
    return value


def hex_of(value: int) -> str:
    return f"{value:064x}"


@dataclass
class Answer:
    status: int
    bands: list[str | None]  # per item: the nearest match's band, None for no match
    distances: list[int | None]
    retry_after: int = 0
    detail: str = ""


class Stack:
    """The template's stores in moto and the handlers, with a movable clock."""

    def __init__(self, environment: dict[str, str]) -> None:
        self.environment = environment
        self.offset = 0.0
        self.queries = 0
        self.interventions = 0
        self.context: Any = Context()

    def advance(self, seconds: float) -> None:
        self.offset += seconds
        os.environ[CLOCK] = str(self.offset)

    def curate(self, values: list[int]) -> None:
        from functions.build_index import app as build_index
        from functions.curate_indicators import app as curate

        for start in range(0, len(values), 500):
            items = [_submission(v, n) for n, v in enumerate(values[start : start + 500])]
            with quiet():
                answer = curate.lambda_handler(
                    event("POST", "/v1/indicators", CURATOR, {"items": items}), self.context
                )
            assert answer["statusCode"] == 200, answer["body"]
        with quiet():
            build_index.lambda_handler({}, self.context)

    def match(self, values: list[int]) -> Answer:
        from functions.match_hashes import app as match_hashes

        body = {"items": [{"type": "pdq", "value": hex_of(v), "quality": 90} for v in values]}
        with quiet():  # the handlers' metrics (EMF lines on stdout)
            response = match_hashes.lambda_handler(
                event("POST", "/v1/match", PROVIDER, body), self.context
            )
        self.queries += len(values)
        status = response["statusCode"]
        payload = json.loads(response["body"])
        if status != 200:
            self.interventions += 1
            headers = response.get("multiValueHeaders") or {}
            retry = int((headers.get("Retry-After") or ["0"])[0])
            return Answer(status, [], [], retry_after=retry, detail=str(payload.get("detail")))
        bands: list[str | None] = []
        distances: list[int | None] = []
        for item in payload["items"]:
            nearest = item["matches"][0] if item["matches"] else None
            bands.append(nearest["band"] if nearest else None)
            distances.append(nearest.get("distance") if nearest else None)
        return Answer(status, bands, distances)

    def quarantines(self) -> int:
        from hashmatch import bootstrap

        return sum(
            1
            for entry in bootstrap.audit_log().entries_from(1)
            if entry.action == "indicator.quarantined"
        )


def _submission(value: int, number: int) -> dict[str, Any]:
    return {
        "hash_type": "pdq",
        "hash": hex_of(value),
        "database": "known",
        "media_type": "image",
        "provenance": {
            "authority": "Bundeskriminalamt",
            "member_state": "DE",
            "assessment_reference": f"BENCH-{number}",
            "assessed_at": "2026-03-01T10:00:00Z",
        },
    }


@contextmanager
def quiet() -> Iterator[None]:
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextmanager
def fresh_stack(**parameters: str) -> Iterator[Stack]:
    from moto import mock_aws

    from hashmatch import bootstrap
    from hashmatch.settings import clear_settings_cache
    from hashmatch_devtools.localstack.inprocess import provision_in_process

    with mock_aws():
        stores = provision_in_process(
            ROOT / "template.yaml",
            region=REGION,
            stack_name="oracle",
            parameter_overrides={"Stage": "local", **parameters},
        )
        saved = dict(os.environ)
        os.environ.update(stores.environment)
        os.environ[CLOCK] = "0"
        clear_settings_cache()
        bootstrap.reset()
        try:
            yield Stack(stores.environment)
        finally:
            os.environ.clear()
            os.environ.update(saved)
            clear_settings_cache()
            bootstrap.reset()


# --- the attacker -----------------------------------------------------------------------------


@dataclass
class Outcome:
    queries_before_stop: int | None
    bits_at_stop: int
    queries_total: int
    bits_total: int
    suspended: bool


class Attacker:
    """Holds ``start`` (a near copy of the indicator); learns bits; honours Retry-After."""

    def __init__(self, stack: Stack, truth: int, start: int, mode: str, hours: float) -> None:
        self.stack = stack
        self.truth = truth
        self.current = start
        self.mode = mode
        self.deadline = hours * 3600
        self.learned: dict[int, int] = {}  # bit position -> the indicator's bit, as inferred
        self.first_stop: tuple[int, int] | None = None
        self.suspended = False
        self.walked: set[int] = set()

    def correct_bits(self) -> int:
        return sum(1 for pos, bit in self.learned.items() if (self.truth >> pos) & 1 == bit)

    def ask(self, value: int) -> Answer | None:
        """One query; None when the attacker gives up (suspended, or out of time)."""
        while True:
            answer = self.stack.match([value])
            if answer.status == 200:
                return answer
            if self.first_stop is None:
                self.first_stop = (self.stack.queries - 1, self.correct_bits())
            if "suspended" in answer.detail:
                self.suspended = True
                return None
            if self.stack.offset + answer.retry_after > self.deadline:
                return None
            self.stack.advance(answer.retry_after + 1)

    def run(self) -> Outcome:
        if self.mode == "exact":
            self._exact()
        else:
            self._edge("near" if self.mode == "bands-edge" else None)
        queries_at, bits_at = self.first_stop or (self.stack.queries, self.correct_bits())
        return Outcome(
            queries_at if self.first_stop else None,
            bits_at,
            self.stack.queries,
            self.correct_bits(),
            self.suspended,
        )

    def _exact(self) -> None:
        first = self.ask(self.current)
        if first is None or first.distances[0] is None:
            return
        base = first.distances[0]
        for position in range(BITS):
            answer = self.ask(flip(self.current, position))
            if answer is None:
                return
            distance = answer.distances[0]
            # Closer: the flipped bit is the indicator's; farther (or gone): ours was right.
            mine = (self.current >> position) & 1
            self.learned[position] = 1 - mine if distance is not None and distance < base else mine

    def _edge(self, outside: str | None) -> None:
        """Walk to the edge where the band turns to ``outside`` (None: no match), step back
        inside, then probe one bit at a time."""
        inside_band = "close" if outside == "near" else "near"
        rng = random.Random(11)
        order = list(range(BITS))
        rng.shuffle(order)
        # Walk: flip bits until the answer is outside the band; undo the last flip.
        for position in order:
            candidate = flip(self.current, position)
            answer = self.ask(candidate)
            if answer is None:
                return
            self.walked.add(position)
            band = answer.bands[0]
            if band == outside:
                break  # one past the edge: the current hash sits on it
            self.current = candidate
        # Probe: from the edge, a flip that crosses it was a bit the indicator has.
        for position in order:
            if position in self.walked:
                continue
            answer = self.ask(flip(self.current, position))
            if answer is None:
                return
            mine = (self.current >> position) & 1
            crossed = answer.bands[0] == outside
            still_inside = answer.bands[0] == inside_band
            if crossed:
                self.learned[position] = mine  # farther: ours agreed with the indicator
            elif still_inside:
                self.learned[position] = 1 - mine


def attack(mode: str, hours: float, seed: int, **parameters: str) -> Outcome:
    rng = random.Random(seed)
    truth = rng.getrandbits(BITS)
    start = flip(truth, *rng.sample(range(BITS), 8))  # the attacker's image: 8 bits off
    decoys = [rng.getrandbits(BITS) for _ in range(200)]
    if mode == "exact":
        parameters = {"ProviderDistanceDisclosure": "exact", **parameters}
    with fresh_stack(**parameters) as stack:
        stack.curate([truth, *decoys])
        return Attacker(stack, truth, start, mode, hours).run()


# --- a benign provider's day ------------------------------------------------------------------


def benign_day(hours: int, uploads_per_hour: int, viral_per_hour: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    indicators = [rng.getrandbits(BITS) for _ in range(500)]
    viral = indicators[0]
    # The viral image's copies in circulation: the original and a few re-encodings.
    viral_copies = [
        viral,
        *[flip(viral, *rng.sample(range(BITS), rng.randint(1, 6))) for _ in range(3)],
    ]
    matched = sent = 0
    with fresh_stack() as stack:
        stack.curate(indicators)
        started = stack.interventions
        for _hour in range(hours):
            uploads: list[int] = []
            for _ in range(uploads_per_hour):
                if rng.random() < 0.001:  # a re-encoded copy of some indicator
                    known = rng.choice(indicators[1:])
                    uploads.append(flip(known, *rng.sample(range(BITS), rng.randint(0, 8))))
                else:
                    uploads.append(rng.getrandbits(BITS))
            # Mostly byte-identical re-uploads; now and then one of the re-encodings.
            uploads += [
                viral if rng.random() < 0.9 else rng.choice(viral_copies)
                for _ in range(viral_per_hour)
            ]
            rng.shuffle(uploads)
            for start in range(0, len(uploads), 500):
                answer = stack.match(uploads[start : start + 500])
                sent += len(uploads[start : start + 500])
                matched += sum(1 for band in answer.bands if band is not None)
            stack.advance(3600)
        return {
            "hours": hours,
            "queries": sent,
            "matched": matched,
            "throttled": stack.interventions - started,
            "quarantined": stack.quarantines(),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=24, help="length of the benign day")
    parser.add_argument("--uploads-per-hour", type=int, default=2000)
    parser.add_argument("--viral-per-hour", type=int, default=60)
    parser.add_argument("--attack-hours", type=float, default=24.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    use_moto_environment("ERROR")
    began = time.perf_counter()
    print(
        "attack                           stopped after   bits then   after waiting   bits then"
        "  suspended"
    )
    print("                                 (queries)       (of 256)    (queries)       (of 256)")
    for mode in ("exact", "bands-edge", "bands-threshold"):
        for suspend in ("0", "2", "1"):
            outcome = attack(mode, args.attack_hours, args.seed, ProbingSuspendAfter=suspend)
            label = f"{mode}, suspend after {suspend}"
            stopped = (
                "never" if outcome.queries_before_stop is None else outcome.queries_before_stop
            )
            print(
                f"{label:32} {stopped!s:>13}   {outcome.bits_at_stop:>9}   "
                f"{outcome.queries_total:>13}   {outcome.bits_total:>9}  {outcome.suspended}",
                flush=True,
            )
    print(
        f"(after waiting: the attacker honours every Retry-After for {args.attack_hours:g} h; "
        "goal: stopped before 32 bits)"
    )
    day = benign_day(args.hours, args.uploads_per_hour, args.viral_per_hour, args.seed)
    print(
        f"benign day: {day['hours']} h, {day['queries']:,} queries, {day['matched']:,} matched "
        f"({args.viral_per_hour}/h re-uploads of one viral image): {day['throttled']} throttled "
        f"requests, {day['quarantined']} quarantined indicators -> "
        f"{day['throttled'] + day['quarantined']} interventions (goal: 0)"
    )
    print(f"ran in {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
