"""rnngan.client against a real `rnngan serve` process: frame in, frame out (columns, dtypes,
timestamps at hourly, daily and monthly steps, intervals around the median, the numbers of the
raw HTTP call, a panel split under the limits), samples, the sharded download (a shard whose
connection breaks midway, a crashed run resumed: the bytes of one request) and `rnngan forecast`."""

from __future__ import annotations

import dataclasses
import gzip
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rnngan.cli import app
from rnngan.client import BadRequest, Client, DownloadError, NotFound
from tests.conftest import MODELS
from tests.helpers.faults import BreakingTransport
from tests.helpers.server import start_server

LEVEL_COLUMNS = ["etth1_ot-lo-95", "etth1_ot-lo-80", "etth1_ot-hi-80", "etth1_ot-hi-95"]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    # Chunks of 100 series, so that a shard of these small downloads spans several.
    with start_server(MODELS, env={"RNNGAN_DATASET_CHUNK_SERIES": "100"}) as served:
        yield served.base


def _checksum_rows(server: str) -> float:
    """Rows the checksum route generated (its cache misses), from /metrics."""
    for line in httpx.get(f"{server}/metrics").text.splitlines():
        if line.startswith("rnngan_rows_generated_total{") and "datasets/checksum" in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture()
def client(server: str) -> Iterator[Client]:
    with Client(server) as c:
        yield c


def _panel(freq: str, lengths: dict[str, int], seed: int = 0) -> pd.DataFrame:
    """Series ending on different dates, rows shuffled."""
    rng = np.random.default_rng(seed)
    frames = []
    for k, (uid, n) in enumerate(lengths.items()):
        stamps = (
            pd.date_range("2020-01-01", periods=n, freq=freq)
            + pd.tseries.frequencies.to_offset(freq) * k
        )
        y = 30 + 8 * np.sin(np.arange(n) * 2 * np.pi / 24) + rng.normal(0, 1, n) + 5 * k
        frames.append(pd.DataFrame({"unique_id": uid, "ds": stamps, "y": y}))
    panel = pd.concat(frames, ignore_index=True)
    return panel.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _raw(server: str, panel: pd.DataFrame, body: dict[str, object]) -> list[dict[str, object]]:
    """The forecast of the raw HTTP API for the panel's series in id order."""
    series = [
        {"id": str(uid), "values": g.sort_values("ds")["y"].tolist()}
        for uid, g in panel.groupby("unique_id", sort=True)
    ]
    r = httpx.post(
        f"{server}/v1/models/etth1_ot/forecast", json={"series": series, **body}, timeout=60
    )
    assert r.status_code == 200, r.text
    return r.json()["forecasts"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("freq", ["h", "D", "MS"])
def test_client_forecast_round_trip(server: str, client: Client, freq: str) -> None:
    panel = _panel(freq, {"b": 200, "a": 180, "c": 240})
    fc = client.forecast("etth1_ot", panel, h=12, level=[80, 95], num_samples=100, seed=3)
    assert list(fc.columns) == ["unique_id", "ds", "etth1_ot", *LEVEL_COLUMNS]
    assert [str(t) for t in fc.dtypes] == ["object", "datetime64[ns]"] + ["float64"] * 5
    assert fc["unique_id"].tolist() == ["a"] * 12 + ["b"] * 12 + ["c"] * 12
    for uid, g in fc.groupby("unique_id"):
        last = panel.loc[panel["unique_id"] == uid, "ds"].max()
        expected = pd.date_range(last, periods=13, freq=freq)[1:]
        assert g["ds"].tolist() == list(expected)
    # The same numbers as the raw HTTP call (series in id order, the most recent values).
    raw = _raw(
        server,
        panel,
        {"horizon": 12, "num_samples": 100, "seed": 3, "quantiles": [0.025, 0.1, 0.5, 0.9, 0.975]},
    )
    assert fc["etth1_ot"].tolist() == [v for f in raw for v in f["mean"]]  # type: ignore[union-attr]
    for column, key in zip(LEVEL_COLUMNS, ["0.025", "0.1", "0.9", "0.975"], strict=True):
        assert fc[column].tolist() == [v for f in raw for v in f["quantiles"][key]]  # type: ignore[index]
    # The intervals nest around the median.
    median = np.concatenate([f["quantiles"]["0.5"] for f in raw])  # type: ignore[index]
    lo95, lo80, hi80, hi95 = (fc[c].to_numpy() for c in LEVEL_COLUMNS)
    assert (lo95 <= lo80).all() and (lo80 <= median).all()
    assert (median <= hi80).all() and (hi80 <= hi95).all() and (lo80 < hi80).all()


def test_client_forecast_quantiles_and_samples(client: Client) -> None:
    panel = _panel("h", {"x": 170, "y": 200})
    fc, paths = client.forecast(
        "etth1_ot",
        panel,
        h=6,
        quantiles=[0.1, 0.5, 0.9],
        num_samples=50,
        seed=1,
        return_samples=True,
    )
    assert list(fc.columns) == [
        "unique_id",
        "ds",
        "etth1_ot",
        "etth1_ot-q-0.1",
        "etth1_ot-q-0.5",
        "etth1_ot-q-0.9",
    ]
    assert list(paths.columns) == ["unique_id", "ds", "sample", "etth1_ot"]
    assert len(paths) == 2 * 50 * 6 and paths["sample"].max() == 49
    by_step = paths.groupby(["unique_id", "ds"])["etth1_ot"]
    np.testing.assert_allclose(by_step.median().to_numpy(), fc["etth1_ot-q-0.5"], rtol=1e-6)
    np.testing.assert_allclose(by_step.mean().to_numpy(), fc["etth1_ot"], rtol=1e-6)
    assert (paths.groupby(["unique_id", "ds"]).size() == 50).all()


def test_client_forecast_split_panel_equals_one_request(server: str, client: Client) -> None:
    panel = _panel("h", {f"s{i:02d}": 168 + 3 * i for i in range(10)})
    requests: list[int] = []
    client._http.event_hooks["request"].append(
        lambda r: requests.append(1) if r.url.path.endswith("/forecast") else None
    )
    client._limits = dataclasses.replace(client.limits(), max_forecast_series=3)
    fc = client.forecast("etth1_ot", panel, h=24, quantiles=[0.5], num_samples=40, seed=9)
    assert len(requests) == 4  # 3 + 3 + 3 + 1 series
    raw = _raw(server, panel, {"horizon": 24, "num_samples": 40, "seed": 9, "quantiles": [0.5]})
    assert fc["etth1_ot-q-0.5"].tolist() == [v for f in raw for v in f["quantiles"]["0.5"]]  # type: ignore[index]


def test_client_forecast_server_errors_carry_detail(client: Client) -> None:
    with pytest.raises(NotFound, match="Model 'nope' not found"):
        client.forecast("nope", _panel("h", {"a": 200}))
    # A history of huge values passes the frame checks; the server's 422 comes back whole.
    panel = _panel("h", {"a": 200}).assign(y=1e31)
    with pytest.raises(BadRequest, match=r"series 'a': history values are too large"):
        client.forecast("etth1_ot", panel, h=4)


def test_client_sample_is_the_samples_route(server: str, client: Client) -> None:
    frame = client.sample("sines", n=3, length=5, seed=2)
    assert list(frame.columns) == [
        "series_id",
        "step",
        "sine_1",
        "sine_2",
        "sine_3",
        "sine_4",
        "sine_5",
    ]
    assert [str(t) for t in frame.dtypes] == ["int64", "int32"] + ["float32"] * 5
    raw = httpx.post(
        f"{server}/v1/models/sines/samples", json={"n": 3, "length": 5, "seed": 2}
    ).json()
    expected = np.asarray(raw["samples"], dtype=np.float32).reshape(15, 5)
    np.testing.assert_array_equal(frame.iloc[:, 2:].to_numpy(), expected)


def _one_request(server: str, body: dict[str, object]) -> bytes:
    r = httpx.post(f"{server}/v1/models/sines/datasets", json=body, timeout=120)
    assert r.status_code == 200
    return r.content


N = 3001  # series, in shards of 750/751; csv ~1.4 kB a series


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_client_download_shard_broken_midway_resumes(server: str, tmp_path: Path, fmt: str) -> None:
    transport = BreakingTransport(offset=1500, after_bytes=500_000)  # shard 2, about half
    computed_before = _checksum_rows(server)
    with Client(server, transport=transport) as c:
        c._sleep = lambda s: None
        summary = c.download(
            "sines",
            tmp_path / f"s.{fmt}",
            n=N,
            seed=4,
            format=fmt,  # type: ignore[arg-type]
            shards=4,
            progress=False,
        )
    assert transport.broken == 1 and summary.resumed_pieces == 1
    assert summary.rows == N * 24 and summary.version >= 1
    # Every piece, the kept part of the broken one too, was checked from the server's cache.
    assert _checksum_rows(server) == computed_before
    expected = _one_request(server, {"n": N, "seed": 4, "format": fmt})
    assert (tmp_path / f"s.{fmt}").read_bytes() == expected
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # parts removed


def test_client_download_crashed_run_resumes(server: str, tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    transport = BreakingTransport(offset=750, after_bytes=300_000)  # shard 1
    with Client(server, transport=transport, retries=0) as c:
        with pytest.raises(DownloadError, match="shard 1: the connection broke 1 times"):
            c.download("sines", out, n=N, seed=5, shards=4, workers=1, progress=False)
    parts = tmp_path / ".s.csv.parts"
    assert (parts / "state.json").is_file() and not out.exists()
    with Client(server) as c:
        summary = c.download("sines", out, n=N, seed=5, shards=4, progress=False)
    assert summary.resumed_pieces == 1 and not parts.exists()
    assert out.read_bytes() == _one_request(server, {"n": N, "seed": 5, "format": "csv"})
    # Parts of another request are never mixed in.
    with Client(server, transport=BreakingTransport(offset=0, after_bytes=1000), retries=0) as c:
        with pytest.raises(DownloadError):
            c.download("sines", out, n=N, seed=6, shards=2, workers=1, progress=False)
    with Client(server) as c, pytest.raises(DownloadError, match="holds parts of another request"):
        c.download("sines", out, n=N, seed=7, shards=2, progress=False)


def test_client_download_parquet_and_gzip(server: str, client: Client, tmp_path: Path) -> None:
    client.download(
        "sines", tmp_path / "p", n=1001, seed=1, format="parquet", shards=3, progress=False
    )
    parts = sorted((tmp_path / "p").iterdir())
    assert [p.name for p in parts] == [f"part-0000{k}.parquet" for k in range(3)]
    whole = pd.read_parquet(
        io.BytesIO(_one_request(server, {"n": 1001, "seed": 1, "format": "parquet"}))
    )
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "p"), whole)
    client.download(
        "sines", tmp_path / "g.csv.gz", n=1001, seed=1, shards=3, compression="gzip", progress=False
    )
    plain = _one_request(server, {"n": 1001, "seed": 1, "format": "csv"})
    assert gzip.decompress((tmp_path / "g.csv.gz").read_bytes()) == plain


def test_client_cli_forecast(server: str, client: Client, tmp_path: Path) -> None:
    panel = _panel("h", {"a": 200, "b": 190})
    panel.to_csv(tmp_path / "panel.csv", index=False)
    result = CliRunner().invoke(
        app,
        [
            "forecast",
            "--url",
            server,
            "--model",
            "etth1_ot",
            "--input",
            str(tmp_path / "panel.csv"),
            "--h",
            "24",
            "--out",
            str(tmp_path / "fc.csv"),
            "--seed",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "etth1_ot: 2 series × 24 steps" in result.output
    got = pd.read_csv(tmp_path / "fc.csv", parse_dates=["ds"])
    expected = client.forecast("etth1_ot", panel, h=24, seed=2)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
    # A blank value: mended as training mends one (said on the terminal), or refused with
    # --no-fill, as the library's fill=False refuses it.
    holed = panel.copy()
    holed.loc[100, "y"] = float("nan")
    holed.to_csv(tmp_path / "holed.csv", index=False)
    common = ["forecast", "--url", server, "--model", "etth1_ot", "--input"]
    common += [str(tmp_path / "holed.csv"), "--h", "24", "--out", str(tmp_path / "fc2.csv")]
    assert CliRunner().invoke(app, common).exit_code == 0
    refused = CliRunner().invoke(app, [*common, "--no-fill"])
    assert refused.exit_code == 2 and "fill or drop them" in refused.output, refused.output
    # Two forecast models on the server: without --model, the command says to pick one.
    result = CliRunner().invoke(
        app, ["forecast", "--url", server, "--input", str(tmp_path / "panel.csv"), "--out", "x.csv"]
    )
    assert result.exit_code == 2 and "pick one with --model" in result.output


def test_client_example_round_trip(server: str, tmp_path: Path) -> None:
    from examples import client_roundtrip

    client_roundtrip.main(["--url", server, "--out-dir", str(tmp_path)])
    forecast = pd.read_csv(tmp_path / "forecast.csv")
    assert list(forecast.columns) == ["unique_id", "ds", "etth1_ot", *LEVEL_COLUMNS]
    assert len(forecast) == 4 * 24
    assert (tmp_path / "forecast.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_client_forecast_integer_stamps_and_categorical_ids(client: Client) -> None:
    panel = _panel("h", {"a": 170, "b": 175})
    panel["ds"] = panel.groupby("unique_id").cumcount().astype("int64") * 5 + 100
    panel["unique_id"] = panel["unique_id"].astype("category")
    fc = client.forecast("etth1_ot", panel, h=3, level=[50])
    assert [str(t) for t in fc.dtypes[:2]] == ["category", "int64"]
    last = panel.groupby("unique_id", observed=True)["ds"].max()
    assert fc["ds"].tolist() == [last["a"] + 5 * i for i in (1, 2, 3)] + [
        last["b"] + 5 * i for i in (1, 2, 3)
    ]
    assert list(fc.columns[2:]) == ["etth1_ot", "etth1_ot-lo-50", "etth1_ot-hi-50"]


def test_client_cli_download(server: str, tmp_path: Path) -> None:
    out = tmp_path / "s.ndjson"
    result = CliRunner().invoke(
        app,
        [
            "download",
            "--url",
            server,
            "--model",
            "sines",
            "--n",
            "450",
            "--seed",
            "3",
            "--format",
            "ndjson",
            "--shards",
            "3",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "10800 rows" in result.output and "3 shards" in result.output
    assert out.read_bytes() == _one_request(server, {"n": 450, "seed": 3, "format": "ndjson"})
    result = CliRunner().invoke(
        app, ["download", "--url", server, "--model", "etth1_ot", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 2
    assert "model 'etth1_ot' is a forecast model; it has no data sets" in result.output
