"""Static attributes that condition a forecast (#16.2): a tiny forecaster trained with
`rnngan train --data … --task forecast --static-cols …` (a few steps), exported with
`rnngan export`, served by the test app; the manifest records the attributes, the ONNX graph
matches torch, the request carries them per series (`static`), and every 422 they can earn.
Models without static attributes keep their manifests and answers (test_forecast_covariates.py
and the shipped models)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import torch
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from examples.tables import static_panel
from rnngan.cli import app as cli
from rnngan.client import Client, InputError
from rnngan.core.manifest import Covariates, Manifest
from service.config import Settings
from service.main import create_app
from tests.helpers.forecaster import train_and_export

CONTEXT, HORIZON = 48, 12


def _panel() -> pd.DataFrame:
    frame = static_panel(entities=4, rows=24 * 25)
    frame["indoor"] = frame["building"].map({"b0": True, "b1": False, "b2": True, "b3": False})
    return frame


def _train(tmp: Path, data: Path, name: str, *extra: str) -> None:
    train_and_export(
        tmp, data, name, *extra, id_col="building", target="load", context=CONTEXT, horizon=HORIZON
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    tmp = tmp_path_factory.mktemp("static")
    _panel().to_csv(tmp / "buildings.csv", index=False)
    _train(tmp, tmp / "buildings.csv", "buildings", "--static-cols", "kind,floors,indoor")
    _train(tmp, tmp / "buildings.csv", "auto", "--static-cols", "auto", "--calendar", "auto")
    app = create_app(Settings(models_dir=tmp / "models", _env_file=None))  # type: ignore[call-arg]
    with TestClient(app) as client:
        yield client, tmp


def _hours(n: int) -> list[str]:
    return [t.isoformat() for t in pd.date_range("2024-03-01", periods=n, freq="h")]


def _body(static: Any = None, **series: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": "a",
        "values": [100.0 + 10 * math.sin(i / 24 * 2 * math.pi) for i in range(60)],
        "static": {"kind": "office", "floors": 3, "indoor": True} if static is None else static,
    }
    item.update(series)
    return {"series": [{k: v for k, v in item.items() if v is not None}], "num_samples": 20}


def test_static_attributes_in_the_manifest_and_graph(served: tuple[TestClient, Path]) -> None:
    client, tmp = served
    manifest = Manifest.read(tmp / "models" / "buildings" / "1" / "manifest.json")
    assert manifest.covariates is not None
    assert manifest.covariates.model_dump() == {
        "calendar": [],
        "future": [],
        "static": [
            {"name": "kind", "kind": "categorical", "categories": ["home", "office", "shop"]},
            {"name": "floors", "kind": "numeric", "categories": None},
            {"name": "indoor", "kind": "categorical", "categories": ["false", "true"]},
        ],
    }
    assert manifest.covariates.columns == [
        "kind=home",
        "kind=office",
        "kind=shop",
        "floors",
        "indoor=false",
        "indoor=true",
    ]
    assert manifest.onnx.inputs == ["history", "noise", "covariates"]
    info = client.get("/v1/models/buildings").json()
    assert [a["name"] for a in info["covariates"]["static"]] == ["kind", "floors", "indoor"]
    # "auto": the discrete columns constant within each building (floors is a count, indoor a
    # boolean, kind text), after the calendar features
    auto = Manifest.read(tmp / "models" / "auto" / "1" / "manifest.json")
    assert auto.covariates is not None and auto.covariates.calendar == ["hour", "weekday"]
    assert sorted(a.name for a in auto.covariates.static) == ["floors", "indoor", "kind"]


def test_checkpoint_config_holds_the_resolved_attributes(served: tuple[TestClient, Path]) -> None:
    _, tmp = served
    from training.checkpoint import Checkpoint

    ckpt = Checkpoint.load(tmp / "runs" / "auto" / "checkpoint.pt")
    d = ckpt.config.data
    assert sorted(d.static_cols) == ["floors", "indoor", "kind"]  # "auto" resolved
    assert "kind=office" in d.static_channels and "floors" in d.static_channels
    # every member of the ensemble holds the same statistics; the first's are checked
    first = "members.0.generator." if "members.0.generator.cov_loc" in ckpt.generator else ""
    loc = ckpt.generator[first + "cov_loc"].numpy()
    scale = ckpt.generator[first + "cov_scale"].numpy()
    members = {k.split(".")[1] for k in ckpt.generator if k.startswith("members.")}
    for j in sorted(members):  # load_graph refuses members whose statistics differ
        for name, want in (("cov_loc", loc), ("cov_scale", scale)):
            assert np.array_equal(want, ckpt.generator[f"members.{j}.generator.{name}"].numpy())
    at = d.static_channels.index("floors") + 4  # after hour and weekday's sin and cos
    floors = _panel().groupby("building")["floors"].first().to_numpy(dtype=float)
    assert loc[at] == pytest.approx(floors.mean(), rel=1e-5)  # each building once
    assert scale[at] == pytest.approx(floors.std(), rel=1e-5)
    onehot = [4 + i for i, c in enumerate(d.static_channels) if "=" in c]
    assert np.all(loc[onehot] == 0) and np.all(scale[onehot] == 1)


def test_onnx_matches_torch_with_static_channels(served: tuple[TestClient, Path]) -> None:
    _, tmp = served
    from training.checkpoint import Checkpoint
    from training.families import family_for

    ckpt = Checkpoint.load(tmp / "runs" / "buildings" / "checkpoint.pt")
    graph = family_for(ckpt.config).graph(ckpt).eval()
    g = torch.Generator().manual_seed(0)
    history = 100 + 10 * torch.randn(3, CONTEXT, generator=g)
    noise = torch.randn(3, 5, HORIZON, 8, generator=g)
    onehots = torch.tensor([[0, 1, 0, 3, 0, 1], [1, 0, 0, 1, 1, 0], [0, 0, 1, 5, 0, 1]])
    cov = onehots[:, None, :].float().expand(-1, CONTEXT + HORIZON, -1).contiguous()
    with torch.no_grad():
        want = graph(history, noise, cov).numpy()
    session = ort.InferenceSession(
        str(tmp / "models" / "buildings" / "1" / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    got = session.run(
        None, {"history": history.numpy(), "noise": noise.numpy(), "covariates": cov.numpy()}
    )[0]
    assert np.max(np.abs(got - want) / (1 + np.abs(want))) < 1e-5
    assert not np.allclose(want[0], want[1])  # the attributes move the forecast


def test_forecast_with_static_attributes(served: tuple[TestClient, Path]) -> None:
    client, _ = served
    office = client.post("/v1/models/buildings/forecast", json=_body())
    assert office.status_code == 200, office.text
    mean = office.json()["forecasts"][0]["mean"]
    assert len(mean) == HORIZON and np.isfinite(mean).all()
    shop = client.post(
        "/v1/models/buildings/forecast",
        json=_body({"kind": "shop", "floors": 3, "indoor": True}),
    )
    assert shop.status_code == 200
    assert not np.allclose(mean, shop.json()["forecasts"][0]["mean"])  # it reads them
    again = client.post("/v1/models/buildings/forecast", json=_body())
    assert again.json() == office.json()  # same body, same numbers
    # a boolean attribute also takes the words the trainer read as booleans; a float that is a
    # whole number is that number
    words = client.post(
        "/v1/models/buildings/forecast",
        json=_body({"kind": "office", "floors": 3.0, "indoor": "yes"}),
    )
    assert words.json() == office.json()


@pytest.mark.parametrize(
    ("static", "detail"),
    [
        (
            {},
            "series 'a': 'static' must have exactly the attributes ['kind', 'floors', 'indoor']; "
            "missing: ['kind', 'floors', 'indoor'].",
        ),
        (
            {"kind": "office", "floors": 3, "indoor": True, "city": "x"},
            "series 'a': 'static' must have exactly the attributes ['kind', 'floors', 'indoor']; "
            "unknown: ['city'].",
        ),
        (
            {"kind": "office", "indoor": True},
            "series 'a': 'static' must have exactly the attributes ['kind', 'floors', 'indoor']; "
            "missing: ['floors'].",
        ),
        (
            {"kind": "factory", "floors": 3, "indoor": True},
            "series 'a': static 'kind' is 'factory', not a category this model was trained on: "
            "['home', 'office', 'shop'].",
        ),
        (
            {"kind": "office", "floors": "three", "indoor": True},
            "series 'a': static 'floors' is numeric; give a number, not 'three'.",
        ),
        (
            {"kind": "office", "floors": True, "indoor": True},
            "series 'a': static 'floors' is numeric; give a number, not True.",
        ),
        (
            {"kind": "office", "floors": 3, "indoor": "maybe"},
            "series 'a': static 'indoor' is 'maybe', not a category this model was trained on: "
            "['false', 'true'].",
        ),
        (
            {"kind": True, "floors": 3, "indoor": True},
            "series 'a': static 'kind' is True, not a category this model was trained on: "
            "['home', 'office', 'shop'].",
        ),
    ],
)
def test_forecast_static_422(
    served: tuple[TestClient, Path], static: dict[str, Any], detail: str
) -> None:
    client, _ = served
    r = client.post("/v1/models/buildings/forecast", json=_body(static))
    assert r.status_code == 422 and r.json() == {"detail": detail}


def test_forecast_without_static_is_422(served: tuple[TestClient, Path]) -> None:
    client, _ = served
    body = _body()
    del body["series"][0]["static"]
    r = client.post("/v1/models/buildings/forecast", json=body)
    assert r.status_code == 422 and r.json() == {
        "detail": "series 'a': this model needs 'static' with the series' value of each static "
        "attribute ['kind', 'floors', 'indoor']."
    }


def test_forecast_static_wrong_json_type_is_422(served: tuple[TestClient, Path]) -> None:
    client, _ = served
    r = client.post(
        "/v1/models/buildings/forecast",
        json=_body({"kind": ["office"], "floors": 3, "indoor": True}),
    )
    assert r.status_code == 422 and r.json() == {
        "detail": "Invalid request: field 'series.0.static': Value error, static 'kind' must be "
        "a string, a number or a boolean, not list."
    }
    raw = json.dumps(_body({"kind": "office", "floors": float("nan"), "indoor": True}))
    r = client.post(
        "/v1/models/buildings/forecast",
        content=raw.encode(),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422 and r.json() == {
        "detail": "series 'a': static 'floors' must be a finite number."
    }


def test_future_values_sent_to_a_static_only_model_is_422(
    served: tuple[TestClient, Path],
) -> None:
    client, _ = served
    r = client.post("/v1/models/buildings/forecast", json=_body(future={"promo": [1.0] * 12}))
    assert r.status_code == 422 and r.json() == {
        "detail": "series 'a': this model has no known-future columns (its covariates are "
        "static attributes given in 'static'); drop 'future'."
    }


def test_static_sent_to_models_without_them_is_422(
    served: tuple[TestClient, Path], client: TestClient
) -> None:
    """A shipped model without covariates, and one whose covariates are calendar only."""
    values = [20.0 + 5 * math.sin(i / 24 * 2 * math.pi) for i in range(200)]
    body = {"series": [{"id": "h", "values": values, "static": {"kind": "office"}}]}
    r = client.post("/v1/models/etth1_ot/forecast", json=body)
    assert r.status_code == 422 and r.json() == {
        "detail": "series 'h': model 'etth1_ot' reads no static attributes (it was trained "
        "without --static-cols); drop 'static'."
    }


def test_calendar_model_without_static_takes_none(tmp_path: Path) -> None:
    """A covariates section without static attributes is the one of before: same JSON."""
    section = {"calendar": ["hour"], "future": ["promo"]}
    cov = Covariates.model_validate(section)
    assert cov.model_dump() == section and cov.static == []
    assert json.loads(cov.model_dump_json()) == section


def test_client_and_cli_send_static(served: tuple[TestClient, Path], tmp_path: Path) -> None:
    test_client, _ = served
    transport: httpx.BaseTransport = test_client._transport  # type: ignore[attr-defined]
    frame = _panel().rename(columns={"building": "unique_id", "time": "ds", "load": "y"})
    df = frame.groupby("unique_id").head(60)
    static_df = frame.groupby("unique_id")[["kind", "floors", "indoor"]].first().reset_index()
    with Client("http://testserver", transport=transport) as client:
        assert [a.name for a in client.model("buildings").covariates.static] == [  # type: ignore[union-attr]
            "kind",
            "floors",
            "indoor",
        ]
        fc = client.forecast("buildings", df[["unique_id", "ds", "y"]], static_df=static_df, seed=2)
        from_df = client.forecast("buildings", df, seed=2)  # the columns of df itself
        pd.testing.assert_frame_equal(fc, from_df)
        series = []
        for uid, g in df.groupby("unique_id"):
            g = g.tail(CONTEXT)
            row = static_df.set_index("unique_id").loc[uid]
            series.append(
                {
                    "id": uid,
                    "values": g["y"].tolist(),
                    "timestamps": [t.strftime("%Y-%m-%dT%H:%M:%S") for t in g["ds"]],
                    "static": {
                        "kind": row["kind"],
                        "floors": float(row["floors"]),
                        "indoor": bool(row["indoor"]),
                    },
                }
            )
        raw = test_client.post(
            "/v1/models/buildings/forecast",
            json={
                "series": series,
                "horizon": HORIZON,
                "quantiles": [0.025, 0.1, 0.9, 0.975],
                "seed": 2,
            },
        )
        assert raw.status_code == 200, raw.text
        expected = [v for f in raw.json()["forecasts"] for v in f["mean"]]
        assert np.allclose(fc["buildings"].to_numpy(), expected)
        with pytest.raises(
            InputError, match=r"df has no column\(s\) \['kind', 'floors', 'indoor'\]"
        ):
            client.forecast("buildings", df[["unique_id", "ds", "y"]])
        with pytest.raises(InputError, match="change within a series"):
            bad = df.copy()
            bad.loc[bad.index[0], "kind"] = "shop"
            client.forecast("buildings", bad)
        # calendar features and static attributes together
        both = client.forecast("auto", df, static_df=static_df, seed=2)
        assert np.isfinite(both["auto"].to_numpy()).all()


def test_client_refuses_static_df_for_a_model_without_them(client: TestClient) -> None:
    transport: httpx.BaseTransport = client._transport  # type: ignore[attr-defined]
    df = pd.DataFrame(
        {"unique_id": "x", "ds": pd.date_range("2024-01-01", periods=200, freq="h"), "y": 1.0}
    )
    with Client("http://testserver", transport=transport) as c:
        with pytest.raises(InputError, match="has no static attributes"):
            c.forecast("etth1_ot", df, static_df=pd.DataFrame({"unique_id": ["x"], "k": ["a"]}))


def test_static_column_errors(tmp_path: Path) -> None:
    from rnngan.core.tables.spec import TableError
    from training.config import ConfigError
    from training.config_tables import table_config
    from training.data.table_forecast import load_table_forecast

    frame = _panel()
    frame.to_csv(tmp_path / "b.csv", index=False)

    def load(static: str) -> Any:
        cfg = table_config(
            tmp_path / "b.csv", id_col="building", time_col="time", task="forecast",
            target="load", context_len=48, horizon=12, static_cols=static,
        )  # fmt: skip
        return load_table_forecast(cfg.data)

    with pytest.raises(TableError, match="static column 'nope' is not in the table"):
        load("nope")
    with pytest.raises(ConfigError, match="must not include the target or future columns"):
        load("kind,load")
    with pytest.raises(TableError, match="'time' is the id, time, target"):
        load("time")
    frame["mood"] = np.arange(len(frame)) % 2
    frame.to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(TableError, match="static column 'mood' changes within an entity"):
        load("mood")
    data = load("kind")
    first = data.entities[0].covariates
    assert first is not None and first.shape[1] == 3
    assert np.all(first == first[0]) and first[0].tolist() == [0.0, 1.0, 0.0]  # b0: office


def test_cli_forecast_sends_static_from_a_file(
    served: tuple[TestClient, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rnngan.client

    test_client, _ = served
    transport: httpx.BaseTransport = test_client._transport  # type: ignore[attr-defined]
    real = rnngan.client.Client
    monkeypatch.setattr(
        rnngan.client, "Client", lambda url, key=None: real(url, key, transport=transport)
    )
    frame = _panel().rename(columns={"building": "unique_id", "time": "ds", "load": "y"})
    frame.groupby("unique_id").head(60)[["unique_id", "ds", "y"]].to_csv(
        tmp_path / "panel.csv", index=False
    )
    static_df = frame.groupby("unique_id")[["kind", "floors", "indoor"]].first().reset_index()
    static_df.to_csv(tmp_path / "static.csv", index=False)
    args = ["forecast", "--url", "http://testserver", "--model", "buildings"]
    args += ["--input", str(tmp_path / "panel.csv"), "--out", str(tmp_path / "fc.csv")]
    result = CliRunner().invoke(cli, [*args, "--static", str(tmp_path / "static.csv")])
    assert result.exit_code == 0, result.output
    fc = pd.read_csv(tmp_path / "fc.csv")
    assert len(fc) == 4 * HORIZON and np.isfinite(fc["buildings"]).all()
    result = CliRunner().invoke(cli, args)  # without them: the client says what is missing
    assert result.exit_code != 0 and "static attributes are ['kind', 'floors', 'indoor']" in (
        result.output
    )


def test_openapi_example_and_card_of_a_static_model(served: tuple[TestClient, Path]) -> None:
    client, _ = served
    schema = client.get("/openapi.json").json()
    op = schema["paths"]["/v1/models/{name}/forecast"]["post"]
    example = op["requestBody"]["content"]["application/json"]["examples"]["buildings"]["value"]
    assert example["series"][0]["static"] == {"kind": "home", "floors": 0.0, "indoor": "false"}
    r = client.post("/v1/models/buildings/forecast", json=example)
    assert r.status_code == 200, r.text
    card = client.get("/v1/models/buildings/card")
    assert card.status_code == 200
    assert "static attributes: kind (home / office / shop), floors (numeric)" in card.text
    assert "&quot;static&quot;: {&quot;kind&quot;: &quot;home&quot;" in card.text
