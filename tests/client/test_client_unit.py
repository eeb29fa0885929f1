"""rnngan.client without a server: the retry policy (503 with Retry-After, connection errors, never
a 4xx), errors carrying the server's detail, manifests with fields this version does not know,
bad frames refused before any request, and where an interrupted csv/ndjson piece is cut."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from rnngan.client import (
    BadRequest,
    Client,
    ConnectionFailed,
    InputError,
    Limits,
    NotFound,
    Unavailable,
)
from rnngan.client.pieces import whole_series
from tests.conftest import MODELS, SHIPPED

ETTH1_OT = json.loads(
    (MODELS / "etth1_ot" / str(SHIPPED["etth1_ot"]) / "manifest.json").read_text()
)


def _client(handler: Callable[[httpx.Request], httpx.Response], **options: object) -> Client:
    client = Client("http://rnngan.test", transport=httpx.MockTransport(handler), **options)  # type: ignore[arg-type]
    client._sleep = lambda s: None
    return client


def test_client_retries_503_after_retry_after() -> None:
    calls: list[str] = []
    waits: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) < 3:
            return httpx.Response(503, json={"detail": "busy"}, headers={"Retry-After": "2"})
        return httpx.Response(200, json={"models": []})

    client = _client(handler, retries=3)
    client._sleep = waits.append
    assert client.models() == []
    assert len(calls) == 3 and waits == [2.0, 2.0]


def test_client_503_on_every_try_is_unavailable_with_detail() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"detail": "The service is still loading its models."})

    with pytest.raises(Unavailable) as info:
        _client(handler, retries=2).models()
    assert info.value.status_code == 503
    assert info.value.detail == "The service is still loading its models."
    assert str(info.value) == "503 from GET /v1/models: The service is still loading its models."


def test_client_never_retries_4xx() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(422, json={"detail": "horizon 99 is beyond this model's limit."})

    with pytest.raises(BadRequest, match="horizon 99 is beyond") as info:
        _client(handler, retries=5).request("POST", "/v1/models/x/forecast", json={})
    assert info.value.status_code == 422 and len(calls) == 1


def test_client_404_is_not_found() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"detail": "Model 'nope' not found; served models: a."})

    with pytest.raises(NotFound, match="Model 'nope' not found"):
        _client(handler).model("nope")


def test_client_retries_connection_errors_then_fails() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ConnectError("connection refused")

    with pytest.raises(ConnectionFailed, match="tried 3 times"):
        _client(handler, retries=2).models()
    assert len(calls) == 3


def test_client_limits_default_on_an_older_server() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"detail": "Not Found"})

    assert _client(handler).limits() == Limits()


def test_client_manifest_ignores_fields_it_does_not_know() -> None:
    newer = {**ETTH1_OT, "added_later": {"x": 1}, "scaler": {**ETTH1_OT["scaler"], "new": 2}}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=newer)

    manifest = _client(handler).model("etth1_ot")
    assert manifest.name == "etth1_ot" and manifest.horizon == 24 and manifest.context_len == 168


# --- bad frames: refused before any forecast request ---


@pytest.fixture()
def offline() -> tuple[Client, list[str]]:
    """A client whose server knows etth1_ot and fails the test on any forecast request."""
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        if request.url.path == "/v1/models/etth1_ot":
            return httpx.Response(200, json=ETTH1_OT)
        if request.url.path == "/v1/limits":
            return httpx.Response(404, json={"detail": "Not Found"})
        return httpx.Response(500, json={"detail": "no request should get here"})

    return _client(handler), sent


def _panel(n: int = 200, ids: tuple[str, ...] = ("a", "b")) -> pd.DataFrame:
    stamps = pd.date_range("2024-01-01", periods=n, freq="h")
    return pd.concat(
        pd.DataFrame({"unique_id": u, "ds": stamps, "y": np.sin(np.arange(n) / 4) + k})
        for k, u in enumerate(ids)
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda df: df.drop(columns="y"), r"df has no column\(s\) \['y'\]"),
        (lambda df: df.rename(columns={"ds": "time"}), r"no column\(s\) \['ds'\]"),
        (
            lambda df: pd.concat([df, df.iloc[[5]]]),
            r"2 rows repeat an \(unique_id, ds\) pair, e.g. \('a', 2024-01-01 05:00:00\)",
        ),
        (
            lambda df: df.assign(y=df["y"].astype(object).where(df.index != 7, "n/a")),
            r"column 'y' has 2 infinite or non-numeric value\(s\), first for series 'a' "
            r"at 2024-01-01 07:00:00; correct them \(blank cells are filled\)",
        ),
        (
            lambda df: df.assign(y=df["y"].where(df.unique_id != "b")),
            r"series 'b' has no y value",
        ),
        (lambda df: df.iloc[150:], r"1 of 2 series have fewer than the 168 values .* 'a' with 50"),
        (lambda df: df.assign(ds="yesterday"), "column 'ds' is neither datetimes nor integers"),
    ],
    ids=["missing-y", "missing-ds", "duplicate", "text", "all-blank", "short", "bad-ds"],
)
def test_client_forecast_bad_frame_refused_before_request(
    offline: tuple[Client, list[str]], change: Callable[[pd.DataFrame], pd.DataFrame], message: str
) -> None:
    client, sent = offline
    with pytest.raises(InputError, match=message):
        client.forecast("etth1_ot", change(_panel()), h=24)
    assert "/v1/models/etth1_ot/forecast" not in sent


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"h": 25}, r"h = 25 is outside this model's horizon of 1 … 24 steps"),
        ({"h": 0}, r"h = 0 is outside"),
        ({"level": [80, 100]}, r"levels must lie strictly between 0 and 100"),
        ({"quantiles": [0.5, 1.0]}, r"quantiles must lie strictly between 0 and 1"),
        ({"level": [80], "quantiles": [0.5]}, r"either level= or quantiles="),
        ({"num_samples": 5000}, r"num_samples must be 1 … 2000"),
        (
            {"X_df": pd.DataFrame({"unique_id": ["a"], "ds": [0], "temp": [1.0]})},
            r"model 'etth1_ot' has no future covariates \(its manifest lists none\); drop X_df",
        ),
        ({"freq": "hourly"}, r"freq='hourly' is not a pandas frequency alias"),
    ],
    ids=["h-over", "h-zero", "level", "quantile", "both", "num-samples", "x-df", "freq"],
)
def test_client_forecast_bad_options_refused_before_request(
    offline: tuple[Client, list[str]], options: dict[str, object], message: str
) -> None:
    client, sent = offline
    with pytest.raises(InputError, match=message):
        client.forecast("etth1_ot", _panel(), **options)  # type: ignore[arg-type]
    assert "/v1/models/etth1_ot/forecast" not in sent


# --- cutting an interrupted piece back to its whole series ---


def _csv(first: int, count: int, length: int, header: bool) -> bytes:
    lines = ["series_id,step,x"] if header else []
    lines += [f"{i},{t},0.5" for i in range(first, first + count) for t in range(length)]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("first", [0, 7])
@pytest.mark.parametrize("cut", [3, 40, 57])
def test_client_interrupted_csv_keepswhole_series(tmp_path: Path, first: int, cut: int) -> None:
    full = _csv(first, 10, 4, header=first == 0)
    prefix = b"earlier piece\n"
    file = tmp_path / "shard.csv"
    file.write_bytes(prefix + full[: len(full) * cut // 100])
    whole, end = whole_series(file, len(prefix), first, "csv")
    kept = file.read_bytes()[len(prefix) : end]
    if whole == 0:
        assert end == len(prefix)
    else:
        assert kept == _csv(first, whole, 4, header=first == 0)
    # Every series before the last one seen is kept (that one may be incomplete: fetched again).
    rows_seen = file.read_bytes()[len(prefix) :].count(b"\n") - (first == 0)
    series_seen = -(-rows_seen // 4)
    assert whole == max(0, series_seen - 1)


def test_client_interrupted_ndjson_with_string_ids(tmp_path: Path) -> None:
    rows = [
        json.dumps({"store": f"synthetic-{i}", "t": t}) for i in range(3, 9) for t in range(3 + i)
    ]
    data = ("\n".join(rows) + "\n").encode()
    file = tmp_path / "shard.ndjson"
    file.write_bytes(data[:-20])  # the last row cut off mid-way
    whole, end = whole_series(file, 0, 3, "ndjson")
    assert whole == 5  # synthetic-3 … synthetic-7; synthetic-8 may be incomplete
    assert (
        file.read_bytes()[:end]
        == ("\n".join(rows[: sum(3 + i for i in range(3, 8))]) + "\n").encode()
    )


# --- known-future covariates: sent per series when the manifest lists them ---


def _covariate_client(sent: list[dict[str, object]], freq: str | None = "h") -> Client:
    manifest = {
        **ETTH1_OT,
        "freq": freq,
        "covariates": {"future": ["temp"]},
        "onnx": {**ETTH1_OT["onnx"], "inputs": ["history", "noise", "covariates"]},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models/etth1_ot":
            return httpx.Response(200, json=manifest)
        if request.url.path == "/v1/limits":
            return httpx.Response(404, json={"detail": "Not Found"})
        body = json.loads(request.content)
        sent.append(body)
        h = body["horizon"]
        forecasts = [
            {
                "id": s["id"],
                "mean": [0.0] * h,
                "quantiles": {repr(q): [0.0] * h for q in body["quantiles"]},
            }
            for s in body["series"]
        ]
        return httpx.Response(200, json={"model": "etth1_ot", "version": 2, "forecasts": forecasts})

    return _client(handler)


def test_client_forecast_sends_x_df_as_future_covariates() -> None:
    sent: list[dict[str, object]] = []
    panel = _panel(n=170).assign(temp=lambda d: np.arange(len(d), dtype=float))
    future = pd.DataFrame(
        {
            "unique_id": np.repeat(["a", "b"], 3),
            "ds": list(pd.date_range("2024-01-08 02:00", periods=3, freq="h")) * 2,
            "temp": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    fc = _covariate_client(sent).forecast("etth1_ot", panel, h=3, X_df=future)
    assert len(fc) == 6
    (body,) = sent
    first = body["series"][0]  # type: ignore[index]
    assert first["future"] == {"temp": [1.0, 2.0, 3.0]}
    assert first["covariates"] == {"temp": [float(v) for v in range(2, 170)]}  # the last 168
    assert len(first["timestamps"]) == 168


@pytest.mark.parametrize(
    ("x_df", "message"),
    [
        (None, r"model 'etth1_ot' needs X_df with the future values of \['temp'\]"),
        (
            pd.DataFrame(
                {"unique_id": ["a"], "ds": [pd.Timestamp("2024-01-08 02:00")], "temp": [1.0]}
            ),
            r"X_df lacks finite values of \['temp'\] for 5 horizon step\(s\), e.g. series 'a' at "
            r"2024-01-08 03:00:00",
        ),
        (pd.DataFrame({"unique_id": ["a"], "ds": [0]}), r"X_df has no column\(s\) \['temp'\]"),
    ],
    ids=["missing", "short", "no-column"],
)
def test_client_forecast_bad_x_df_refused_before_request(
    x_df: pd.DataFrame | None, message: str
) -> None:
    sent: list[dict[str, object]] = []
    panel = _panel(n=170).assign(temp=1.0)
    with pytest.raises(InputError, match=message):
        _covariate_client(sent).forecast("etth1_ot", panel, h=3, X_df=x_df)
    assert sent == []


@pytest.mark.parametrize("first", [0, 7])
@pytest.mark.parametrize("cut", [2, 35, 50, 76, 100])
@pytest.mark.parametrize("multiple", [None, 3])
def test_client_interrupted_csv_cut_to_whole_chunks(
    tmp_path: Path, first: int, cut: int, multiple: int | None
) -> None:
    """With each series' row count known, a complete last series is kept; with the server's
    chunk size, the cut goes back to a whole number of chunks (their digests are cached)."""
    full = _csv(first, 10, 4, header=first == 0)
    file = tmp_path / "shard.csv"
    file.write_bytes(full[: len(full) * cut // 100])
    whole, end = whole_series(file, 0, first, "csv", rows_per_series=4, multiple=multiple)
    rows_seen = file.read_bytes().count(b"\n") - (first == 0)
    expected = max(0, rows_seen // 4)
    if multiple:
        expected -= expected % multiple
    assert whole == expected
    assert file.read_bytes()[:end] == (_csv(first, whole, 4, header=first == 0) if whole else b"")


def test_client_interrupted_csv_received_whole_is_kept_whole(tmp_path: Path) -> None:
    """Every series of the request arrived (its complete digest is the one cached): no cut back
    to whole chunks."""
    file = tmp_path / "shard.csv"
    file.write_bytes(_csv(7, 10, 4, header=False))
    assert whole_series(file, 0, 7, "csv", rows_per_series=4, multiple=3, total=10) == (
        10,
        file.stat().st_size,
    )
    assert whole_series(file, 0, 7, "csv", rows_per_series=4, multiple=3, total=11)[0] == 9  # type: ignore[index]


def test_client_read_timeout_is_not_retried() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ReadTimeout("timed out")

    with pytest.raises(ConnectionFailed, match=r"no answer within 60 s \(not retried"):
        _client(handler, retries=3).models()
    assert len(calls) == 1


def test_client_forecast_reads_quarters_spelled_as_text() -> None:
    """The table a model was trained on (`rnngan train --data` reads "1998 Q1" as dates) can be
    sent as it is: the stamps go out as the quarters' first days, and the horizon's stamps are
    the next quarters."""
    sent: list[dict[str, object]] = []
    quarters = pd.period_range("1960Q1", periods=170, freq="Q")
    panel = pd.DataFrame(
        {
            "unique_id": "a",
            "ds": [f"{p.year} Q{p.quarter}" for p in quarters],
            "y": np.sin(np.arange(170) / 4),
            "temp": np.arange(170, dtype=float),
        }
    )
    future = pd.DataFrame(
        {"unique_id": "a", "ds": ["2002 Q3", "2002 Q4", "2003 Q1"], "temp": [1.0, 2.0, 3.0]}
    )
    fc = _covariate_client(sent).forecast("etth1_ot", panel, h=3, X_df=future)
    (body,) = sent
    stamps = body["series"][0]["timestamps"]  # type: ignore[index]
    assert stamps[-1].startswith("2002-04-01")  # 2002 Q2, the last quarter sent
    assert fc["ds"].tolist() == [
        pd.Timestamp(d) for d in ("2002-07-01", "2002-10-01", "2003-01-01")
    ]
    assert body["series"][0]["future"] == {"temp": [1.0, 2.0, 3.0]}  # type: ignore[index]


def test_client_forecast_steps_a_timetable_over_nights_and_weekends() -> None:
    """A series on business hours (09:00-16:30 every half hour, weekdays) sent without an id
    column, as `rnngan train --data` takes one series: it is one series, 'series', and its
    horizon's stamps are the next times of the timetable (Monday morning after a Friday's
    last), not the evening."""
    sent: list[dict[str, object]] = []
    days = pd.bdate_range("2024-01-01", "2024-02-09")  # ends on a Friday
    stamps = [d + pd.Timedelta(hours=9, minutes=30 * k) for d in days for k in range(16)]
    history = pd.DataFrame({"ds": stamps, "y": np.sin(np.arange(len(stamps)) / 5)})
    history = history.assign(temp=0.0)
    future = pd.DataFrame({"ds": pd.to_datetime(["2024-02-12 09:00", "2024-02-12 09:30"])})
    future = future.assign(temp=[1.0, 2.0], other=0)
    fc = _covariate_client(sent, freq=None).forecast("etth1_ot", history, h=2, X_df=future)
    assert fc["unique_id"].tolist() == ["series", "series"]
    assert fc["ds"].tolist() == list(future["ds"])
    assert sent[0]["series"][0]["future"] == {"temp": [1.0, 2.0]}  # type: ignore[index]
    # a model with a frequency steps by it, as the server does for its calendar features
    evening = future.assign(ds=pd.to_datetime(["2024-02-09 17:30", "2024-02-09 18:30"]))
    fc = _covariate_client([], freq="h").forecast("etth1_ot", history, h=2, X_df=evening)
    assert fc["ds"].tolist() == list(evening["ds"])


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (_panel().rename(columns={"unique_id": "Unique_ID"}), r"df has no column\(s\)"),
        (_panel().drop(columns="unique_id"), r"df has no column\(s\) \['unique_id'\]"),
    ],
    ids=["other-case", "repeated-stamps"],
)
def test_a_frame_without_its_id_column_is_one_series_only_when_it_can_be(
    offline: tuple[Client, list[str]], frame: pd.DataFrame, message: str
) -> None:
    """Not a typo'd id column (a column of that name in another case), nor a frame whose
    stamps repeat (several series): those are the missing-column error."""
    client, _ = offline
    with pytest.raises(InputError, match=message):
        client.forecast("etth1_ot", frame, h=24)


def test_blank_covariates_are_filled_and_stamps_of_any_unit_show_their_gaps(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A blank covariate in a series whose y is complete is interpolated; an hour missing
    from stamps held in microseconds (pandas 3 parses text so) is inserted."""
    sent: list[dict[str, object]] = []
    panel = _panel(n=170, ids=("a",)).assign(temp=lambda d: np.arange(len(d), dtype=float))
    panel.loc[160, "temp"] = np.nan
    panel = panel.drop(index=[165]).assign(ds=lambda d: d["ds"].astype("datetime64[us]"))
    future = pd.DataFrame(
        {"unique_id": "a", "ds": pd.date_range("2024-01-08 02:00", periods=2, freq="h")}
    ).assign(temp=[1.0, 2.0])
    with caplog.at_level("WARNING", logger="rnngan.client"):
        _covariate_client(sent).forecast("etth1_ot", panel, h=2, X_df=future)
    assert "1 row missing from the 'h' frequency inserted; 1 blank temp value filled" in (
        caplog.text
    )
    temp = sent[0]["series"][0]["covariates"]["temp"]  # type: ignore[index]
    assert len(temp) == 168 and temp[-10] == 160.0 and temp[-5] == 165.0


def test_timetable_next_needs_a_timetable() -> None:
    from rnngan.client.stamps import timetable_next

    days = pd.bdate_range("2024-01-01", periods=10)
    stamps = pd.Series([d + pd.Timedelta(hours=h) for d in days for h in (9, 12, 15)])
    ahead = timetable_next(stamps, 4)  # the last is Friday 15:00
    assert ahead is not None
    assert ahead.tolist() == [pd.Timestamp(f"2024-01-15 {h}:00") for h in (9, 12, 15)] + [
        pd.Timestamp("2024-01-16 09:00")
    ]
    utc = timetable_next(stamps.dt.tz_localize("UTC"), 1)
    assert utc is not None and str(utc.iloc[0]) == "2024-01-15 09:00:00+00:00"
    hourly = pd.Series(pd.date_range("2024-01-01", periods=24 * 9, freq="h"))
    assert timetable_next(hourly, 3) is None  # evenly spaced: its frequency steps it
    one_day_missing = hourly[(hourly.dt.day != 3)].reset_index(drop=True)
    assert timetable_next(one_day_missing, 3) is None  # no break in the day: no timetable
    # two sessions a week (Tuesday, Thursday at 09:00 and 15:00): 24 steps are 12 weeks
    sessions = pd.date_range("2024-01-01", periods=70, freq="D")
    sessions = sessions[sessions.dayofweek.isin([1, 3])]
    twice = pd.Series([d + pd.Timedelta(hours=h) for d in sessions for h in (9, 15)])
    ahead = timetable_next(twice, 24)
    assert ahead is not None and len(ahead) == 24
    assert set(ahead.dt.dayofweek) == {1, 3} and set(ahead.dt.hour) == {9, 15}
    odd = pd.concat([stamps, pd.Series([pd.Timestamp("2024-01-03 20:00")])]).sort_values()
    assert timetable_next(odd.reset_index(drop=True), 3) is None  # a time outside it


def test_yyyymmdd_integers_are_dates_for_a_model_with_a_frequency() -> None:
    """The table a daily model was trained on (`rnngan train --data` reads 20240131 as a
    date) sent as it is: its stamps go out as dates and the horizon's are the next days, not
    20240132; for a model without a frequency, integers stay steps."""
    days = pd.date_range("2023-06-01", periods=200, freq="D")
    panel = pd.DataFrame(
        {"unique_id": "a", "ds": days.strftime("%Y%m%d").astype(int), "y": 1.0, "temp": 0.0}
    )
    ahead = pd.date_range(days[-1], periods=3, freq="D")[1:]
    future = pd.DataFrame(
        {"unique_id": "a", "ds": ahead.strftime("%Y%m%d").astype(int), "temp": [1.0, 2.0]}
    )
    sent: list[dict[str, object]] = []
    fc = _covariate_client(sent, freq="D").forecast("etth1_ot", panel, h=2, X_df=future)
    assert fc["ds"].tolist() == list(ahead)
    assert sent[0]["series"][0]["timestamps"][-1].startswith("2023-12-17")  # type: ignore[index]
    steps = _covariate_client([], freq=None).forecast("etth1_ot", panel, h=2, X_df=future)
    assert steps["ds"].tolist() == [20231218, 20231219]


def test_integer_years_are_dates_for_a_yearly_model() -> None:
    """A yearly table kept with integer years (`rnngan train --data` reads 1960 as 1960-01-01
    for a yearly model): its stamps go out as dates and the horizon's are the next years' 1
    January; a daily model's integers in that range stay steps (they are no yyyymmdd)."""
    years = list(range(1800, 2000))
    panel = pd.DataFrame({"unique_id": "a", "ds": years, "y": 1.0, "temp": 0.0})
    future = pd.DataFrame({"unique_id": "a", "ds": [2000, 2001], "temp": [1.0, 2.0]})
    sent: list[dict[str, object]] = []
    fc = _covariate_client(sent, freq="YS-JAN").forecast("etth1_ot", panel, h=2, X_df=future)
    assert fc["ds"].tolist() == [pd.Timestamp("2000-01-01"), pd.Timestamp("2001-01-01")]
    assert sent[0]["series"][0]["timestamps"][-1].startswith("1999-01-01")  # type: ignore[index]
    daily = _covariate_client([], freq="D").forecast("etth1_ot", panel, h=2, X_df=future)
    assert daily["ds"].tolist() == [2000, 2001]


def test_mend_touches_only_the_series_that_need_it() -> None:
    """Five series, the second and fourth with holes (a blank value; a missing row and a blank
    at its end): those two are mended, the other three come back as they were, in order."""
    from rnngan.client.gaps import mend

    hours = pd.date_range("2024-01-01", periods=30, freq="h")
    frames = []
    for k in range(5):
        y = np.arange(30, dtype=np.float64) + 100 * k
        frame = pd.DataFrame({"id": f"s{k}", "ds": hours, "y": y})
        if k == 1:
            frame.loc[10, "y"] = np.nan
        if k == 3:
            frame = frame.drop(index=5)
            frame.loc[29, "y"] = np.nan
        frames.append(frame)
    panel = pd.concat(frames, ignore_index=True)
    ids, stamps, columns = mend(
        panel["id"].to_numpy(), panel["ds"], {"y": panel["y"].to_numpy()}, "y", "h"
    )
    out = pd.DataFrame({"id": ids, "ds": stamps, "y": columns["y"]})
    assert out["id"].drop_duplicates().tolist() == ["s0", "s1", "s2", "s3", "s4"]
    for k in (0, 2, 4):
        pd.testing.assert_frame_equal(
            out[out["id"] == f"s{k}"].reset_index(drop=True), frames[k].reset_index(drop=True)
        )
    s1 = out[out["id"] == "s1"]
    assert len(s1) == 30 and s1["y"].iloc[10] == 110.0  # interpolated
    s3 = out[out["id"] == "s3"]  # the blank last row cut, the missing hour 5 inserted
    assert s3["ds"].tolist() == list(hours[:29]) and s3["y"].iloc[5] == 305.0


def test_mend_takes_stamps_within_a_thousandth_of_a_step_as_on_it() -> None:
    """Clock jitter (a stamp 2 s off its hour, the last one early) does not stop the missing
    row from being inserted, as training inserts it; the stamps given are kept, the inserted
    one is a whole number of steps after the first (as training's). Stamps 10 % off their
    step, or two on one step, are not a grid."""
    from rnngan.client.gaps import mend

    hours = pd.date_range("2024-01-01", periods=30, freq="h")
    jitter = pd.to_timedelta(np.where(np.arange(30) % 3 == 0, 2, -1), unit="s")
    stamps = pd.Series(hours + jitter).drop(index=5).reset_index(drop=True)
    y = np.arange(30.0)[np.arange(30) != 5]
    ids, out, columns = mend(np.repeat("a", 29), stamps, {"y": y}, "y", "h")
    assert len(out) == 30 and out.iloc[5] == stamps[0] + pd.Timedelta(hours=5)
    assert columns["y"][5] == 5.0
    assert out.drop(index=5).reset_index(drop=True).equals(stamps)
    for bad in (
        stamps.where(stamps.index != 10, stamps[10] + pd.Timedelta(minutes=6)),  # 10 % off
        stamps.where(stamps.index != 10, stamps[9] + pd.Timedelta(seconds=1)),  # two on one
    ):
        _, kept, _ = mend(np.repeat("a", 29), bad, {"y": y.copy()}, "y", "h")
        assert len(kept) == 29  # nothing inserted


def test_the_client_mends_by_the_rules_training_uses() -> None:
    """The client's share limits for inserted rows and its timetable rule are training's
    (training/data/forecast_calendar.py): written twice (the client does not import training),
    kept equal here."""
    from rnngan.client import gaps, stamps
    from training.data import forecast_calendar as training

    assert gaps.MOST_INSERTED == training.MOST_INSERTED
    assert gaps.MOST_INSERTED_SERIES == training.MOST_INSERTED_ENTITY
    assert gaps.ON_STEP == training.ON_STEP
    assert stamps.TIMETABLE_DAYS == training.TIMETABLE_DAYS
    from rnngan.cli.table_args import ONE_SERIES_ID
    from rnngan.client.forecast import ONE_SERIES

    assert ONE_SERIES == ONE_SERIES_ID  # a frame without an id column is one series alike
