"""schemathesis against the app's own OpenAPI (in-process ASGI): every operation, positive and negative generated
inputs, anonymous and analyst callers; never a 5xx, never NaN/Infinity in a JSON body; at least 1,000 cases.

Nothing is excluded: binary routes (tiles, exports, GeoPackage) get the same not-a-server-error check, and the JSON
check applies wherever the response says it is JSON. Derandomized (fixed seed) so a failure reproduces.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.api.conftest import auth  # noqa: E402
from tests.conftest import need  # noqa: E402

#: cases per operation, per generation mode, per caller (anonymous / analyst)
PER_OPERATION = int(os.environ.get("CRIMEMAP_SCHEMATHESIS_EXAMPLES", "25"))
MIN_CASES = 1_000


def _schemathesis():
    try:
        import schemathesis
    except ImportError:
        need(False, "schemathesis (pip install -e '.[dev]')")
    return schemathesis


def _refuse_constant(c: str):
    raise AssertionError(f"{c} in a JSON body")


def _check(case, response, failures: list[str]) -> None:
    """Record a 5xx or a non-strict JSON body with the exact request and response."""
    status = response.status_code
    ctype = response.headers.get("content-type", "")
    ctype = ctype[0] if isinstance(ctype, list) else ctype
    problem = None
    if status >= 500:
        problem = f"{status} server error"
    elif "json" in ctype and status != 304 and response.content:
        try:
            json.loads(response.content, parse_constant=_refuse_constant)
        except AssertionError as e:
            problem = str(e)
        except ValueError as e:
            problem = f"invalid JSON ({e})"
    if problem:
        try:
            request = case.as_curl_command()
        except Exception:  # noqa: BLE001 — the report matters more than the curl form
            request = f"{case.method} {case.formatted_path} query={case.query!r} headers={case.headers!r}"
        failures.append(f"{problem}\n  request: {request}\n  response: {status} {ctype} "
                        f"{response.content[:600]!r}")


def _fuzz(op, mode, who, key, counts, failures) -> None:
    """``PER_OPERATION`` derandomized cases of one operation in one mode for one caller."""
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hsettings

    headers = auth(who) if who else None

    @hsettings(max_examples=PER_OPERATION, deadline=None, derandomize=True, database=None,
               suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case):
        counts[key] += 1
        _check(case, case.call(headers=headers), failures)

    run()


def _has_invalid_inputs(op) -> bool:
    """Whether schemathesis can generate a schema-violating request: any query parameter, or a path parameter that
    is more than an unconstrained string (a bare path string has no invalid value, and Hypothesis would spend
    seconds proving that)."""
    for p in op.definition.raw.get("parameters", []):
        if p.get("in") == "query":
            return True
        sch = p.get("schema", {})
        if p.get("in") == "path" and (sch.get("type") != "string" or
                                      set(sch) & {"minLength", "maxLength", "pattern", "enum", "format"}):
            return True
    return False


def test_openapi_fuzz_never_5xx_nor_nan(web_app):
    schemathesis = _schemathesis()
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_asgi("/openapi.json", web_app)
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 10, [op.label for op in operations]
    failures: list[str] = []
    counts: dict[str, int] = {}
    unsatisfiable: list[str] = []
    took: dict[str, float] = {}
    t0 = time.perf_counter()
    for op in operations:
        modes = [GenerationMode.POSITIVE]
        if _has_invalid_inputs(op):
            modes.append(GenerationMode.NEGATIVE)
        else:
            print(f"{op.label}: no invalid input to generate (only unconstrained strings); positive cases only")
        for mode in modes:
            for who in (None, "analyst"):
                key = f"{op.label} [{mode.value}, {who or 'anonymous'}]"
                counts[key] = 0
                started = time.perf_counter()
                try:
                    _fuzz(op, mode, who, key, counts, failures)
                except Exception as e:  # noqa: BLE001
                    # an operation with no parameters has no invalid input to generate: said, not hidden
                    if type(e).__name__ == "Unsatisfiable" and (counts[key] or mode is GenerationMode.NEGATIVE):
                        unsatisfiable.append(key)
                        continue
                    raise
                finally:
                    took[key] = time.perf_counter() - started
    elapsed = time.perf_counter() - t0
    total = sum(counts.values())
    summary = f"{total} cases over {len(operations)} operations in {elapsed:.1f}s"
    print(summary)
    for k, n in counts.items():
        print(f"  {n:5d} {took[k]:6.1f}s  {k}{'  (no more inputs to generate)' if k in unsatisfiable else ''}")
    assert not failures, f"{len(failures)} failing cases ({summary}):\n" + "\n".join(dict.fromkeys(failures))
    assert total >= MIN_CASES, summary
    assert all(n for k, n in counts.items() if "positive" in k), [k for k, n in counts.items() if not n]
