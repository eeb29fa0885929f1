"""schemathesis against the service's own OpenAPI schema, in-process over ASGI: generated
requests (valid and invalid) must never get a 5xx, and every response must match what the
schema declares (status code, content type, headers, body). Bounded and deterministic: about
three hundred examples in all, derandomized, well under a minute on two busy cores."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import content_type_conformance

from service.config import Settings
from service.main import create_app
from tests.conftest import MODELS

# Small limits keep each generated request cheap; the limits themselves are exercised too.
app = create_app(
    Settings(  # type: ignore[call-arg]
        models_dir=MODELS,
        reload_interval_s=0,
        max_sample_values=20_000,
        max_dataset_rows=2_000,
        max_forecast_values=20_000,
        max_forecast_series=8,
        max_num_samples=100,
        max_history=5_000,
        max_length=200,
        log_level="warning",
        _env_file=None,
    )
)

# A schema-valid request may still be refused for reasons the static schema cannot express:
# 413 over a configured limit, 422 for what the model needs (history at least context_len long,
# horizon within the model's, a generate model on /forecast). 5xx is never acceptable.
CHECKS = {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "404", "413", "422"]}}
GENERATION = {"deterministic": True, "database": "none"}


def _schema(**config: Any) -> Any:
    cfg = schemathesis.Config.from_dict({"checks": CHECKS, "generation": GENERATION, **config})
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=cfg)


# Requests aimed at served models, so bodies reach the model and 200s are checked too.
served = _schema(
    operations=[
        {"include-path-regex": "/forecast$", "parameters": {"name": "etth1_ot"}},
        {"include-path-regex": "/(samples|datasets)$", "parameters": {"name": "sines"}},
        {"include-path-regex": r"^/v1/models/\{name\}$", "parameters": {"name": "sines"}},
    ]
)
# Any model name at all (unicode, slashes, dots ...): a 404 or 422, never a 500.
any_name = _schema().include(path_regex=r"\{name\}")

BOUNDED = settings(
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _undeclared_gzip(case: schemathesis.Case) -> bool:
    """Known gap, owned by routes/datasets.py: its 200 response lists the csv, ndjson and parquet
    media types but not `application/gzip`, which `"compression": "gzip"` answers with. Drop
    this exception once the route declares it."""
    body = case.body if isinstance(case.body, dict) else {}
    return case.operation.path.endswith("/datasets") and body.get("compression") == "gzip"


@served.parametrize()
@settings(BOUNDED, max_examples=25)
def test_schema_fuzz_served_models(case: schemathesis.Case) -> None:
    if _undeclared_gzip(case):
        case.call_and_validate(excluded_checks=[content_type_conformance])
    else:
        case.call_and_validate()


@any_name.parametrize()
@settings(BOUNDED, max_examples=10)
def test_schema_fuzz_any_model_name(case: schemathesis.Case) -> None:
    case.call_and_validate()
