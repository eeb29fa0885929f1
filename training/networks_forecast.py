"""The networks of the default forecaster (training/families/panel_forecast.py has the design):
per-window scaling, the generator over horizon patches on the seasonal-naive base, the exported
graph (any horizon; with covariates, a third input (S, C + H, n_cov)), the conditional
discriminator and the fair sample CRPS."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MAX_LAGS = 7
ZCLIP = 30.0
_MAX_STEPS = 4096  # longest horizon the graph's index buffers cover


def n_lags(context: int, season: int) -> int:
    return max(1, min(MAX_LAGS, context // season))


def encoder_patch(context: int, season: int, patch_len: int) -> int:
    return season if 1 < season < context and context % season == 0 else patch_len


def check_shape(context: int, horizon: int, season: int) -> None:
    if season < 1 or context < 2 * season:
        raise ValueError(
            f"context_len ({context}) must be at least 2 × season ({season}): the forecaster "
            "scales each window by its own seasonal-naive error and reads whole seasons"
        )


def fill_history(history: torch.Tensor, season: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A history (B, C) whose oldest values may be missing (NaN, a series shorter than C padded
    on the left; at least its last season present) -> (filled (B, C), observed (B, C) 0/1).
    Each missing value takes the value of the same phase in the earliest observed season (the
    value one season later, repeated back to the start), so the seasonal lags of a short series
    are its earliest observed season. A full history comes back unchanged. One gather whatever
    C and the season: no data-dependent loop in the exported graph."""
    observed = torch.logical_not(torch.isnan(history))
    c = history.shape[1]
    first = torch.argmax(observed.to(torch.int64), dim=1, keepdim=True)  # (B, 1), 0 when full
    index = torch.arange(c, device=history.device).unsqueeze(0)  # (1, C)
    # first + ((i - first) mod season), kept non-negative before the remainder
    phase = torch.remainder(index - first + season * (c // season + 1), season)
    source = torch.where(index < first, (first + phase).clamp(max=c - 1), index)
    filled = torch.gather(history, 1, source)
    # Anything still missing (a history without a full last season: the service refuses those)
    # becomes 0.
    filled = torch.where(torch.isnan(filled), torch.zeros_like(filled), filled)
    return filled, observed.to(history.dtype)


def window_scale(
    history: torch.Tensor, season: int, observed: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """loc (B, 1) = mean of the last season; scale (B, 1) = mean |x_t - x_{t-season}| over the
    window's observed pairs (its std over the observed values when that is negligible or there
    are fewer pairs than a season, then 1). `observed` (B, C) 0/1 marks the values that were not
    filled in (`fill_history`); None: all of them."""
    loc = history[:, -season:].mean(dim=1, keepdim=True)
    diff = (history[:, season:] - history[:, :-season]).abs()
    if observed is None:
        mae = diff.mean(dim=1, keepdim=True)
        centred = history - history.mean(dim=1, keepdim=True)
        std = torch.sqrt((centred * centred).mean(dim=1, keepdim=True))
    else:
        pairs = observed[:, season:] * observed[:, :-season]
        count = pairs.sum(dim=1, keepdim=True)
        mae = (diff * pairs).sum(dim=1, keepdim=True) / count.clamp_min(1)
        # Fewer observed pairs than a season (a history under two seasons; under 4 pairs for
        # short seasons): a mean of so few differences can collapse, so such a window is scaled
        # by its std instead.
        mae = torch.where(count >= max(season, 4), mae, torch.zeros_like(mae))
        n = observed.sum(dim=1, keepdim=True).clamp_min(1)
        mean = (history * observed).sum(dim=1, keepdim=True) / n
        centred = (history - mean) * observed
        std = torch.sqrt((centred * centred).sum(dim=1, keepdim=True) / n)
    tiny = 1e-6 * loc.abs() + 1e-20
    scale = torch.where(mae > tiny, mae, std)
    return loc, torch.where(scale > tiny, scale, torch.ones_like(scale))


def scaled_window(
    window: torch.Tensor, context: int, season: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A window (B, C [+ H]) whose history (its first C values) may start with NaN ->
    (z (B, C [+ H]) in the history's units, clipped to ±ZCLIP, loc (B, 1), scale (B, 1)): the
    missing history values filled (`fill_history`) and left out of the scale."""
    history, observed = fill_history(window[:, :context], season)
    loc, scale = window_scale(history, season, observed)
    full = torch.cat([history, window[:, context:]], dim=1)
    return torch.clamp((full - loc) / scale, -ZCLIP, ZCLIP), loc, scale


# TSMixup's share (training/families/panel_forecast.py): every window of a panel with few
# distinct training windows, half of a large panel's, log-linear in between. Measured on
# bench-panel's panels (trials, 4 seeds): mixing all windows rather than half lowered the
# `short` panel's (2,290 windows as counted today) test MASE ratio from 0.867 to 0.811 and CRPS
# ratio from 0.752 to 0.697, left `mixed` (4,779) within noise (0.846 / 0.671 -> 0.840 /
# 0.669), and cost the larger panels: energy (59,136) 0.761 / 0.592 -> 0.764 / 0.595 and a
# 400-series panel 0.794 / 0.621 -> 0.804 / 0.627 (2 seeds each). Between the thresholds
# (bench-covariates' panel, 6,500 windows; bench-static's, 9,800) the interpolated share is
# used but was never compared.
MIX_ALL_BELOW, MIX_HALF_FROM = 5_000, 50_000


def mix_share(n_windows: int) -> float:
    """The share of each batch's windows mixed, for a panel of `n_windows` training windows."""
    if n_windows <= MIX_ALL_BELOW:
        return 1.0
    if n_windows >= MIX_HALF_FROM:
        return 0.5
    t = math.log(n_windows / MIX_ALL_BELOW) / math.log(MIX_HALF_FROM / MIX_ALL_BELOW)
    return round(1.0 - 0.5 * t, 3)


def mix_windows(
    window: torch.Tensor, context: int, season: int, share: float, rng: torch.Generator
) -> torch.Tensor:
    """Training windows (B, C + H) in the user's units, histories possibly NaN-padded -> their
    scaled windows (`scaled_window`), a `share` of them replaced by TSMixup
    (training/families/panel_forecast.py): λ z_i + (1 - λ) z_p(i) (λ uniform in [0, 1), p a
    random permutation of the batch) of the two scaled windows, missing where either history
    is, then filled and scaled by its observed values like any window (so a mixed short history
    is treated as the graph treats one at inference). Share 0: no draws from `rng`."""
    z, _, _ = scaled_window(window, context, season)
    if share <= 0:
        return z
    b = z.shape[0]
    partner = torch.randperm(b, generator=rng)
    lam = torch.rand(b, 1, generator=rng, dtype=z.dtype)
    chosen = torch.rand(b, 1, generator=rng) < share
    if not bool(chosen.any()):
        return z
    holes = torch.isnan(window)
    zn = torch.where(holes, torch.full_like(z, float("nan")), z)
    mixed, _, _ = scaled_window(lam * zn + (1 - lam) * zn[partner], context, season)
    return torch.where(chosen, mixed, z)


class PanelGenerator(nn.Module):
    """z-units history (B, C) and noise (B, N, Hp, L) with Hp a multiple of `patch` ->
    sample paths (B, N, Hp) in z units."""

    def __init__(
        self,
        *,
        context: int,
        horizon: int,
        season: int,
        latent_dim: int,
        hidden: int,
        patch: int,
        enc_patch: int,
        n_cov: int = 0,
    ) -> None:
        super().__init__()
        self.context, self.season, self.patch, self.latent = context, season, patch, latent_dim
        self.enc_patch, self.n_cov = enc_patch, n_cov
        k = n_lags(context, season)
        self.k = k
        # Covariates (n_cov > 0): the encoder reads each history patch's covariates beside its
        # values; each horizon patch reads its steps' covariates and their change since the
        # seasonal-naive base step (the base of step t is history step C - season + t mod season).
        cov_in = 2 * patch * n_cov
        self.encoder = nn.GRU(enc_patch * (1 + n_cov), hidden, batch_first=True)
        self.init = nn.Linear(hidden, hidden)
        self.gru = nn.GRU(patch * k + cov_in + patch * latent_dim + 1, hidden, batch_first=True)
        self.head = nn.Sequential(
            nn.Linear(hidden + patch * k + cov_in, hidden), nn.Tanh(), nn.Linear(hidden, patch)
        )
        if n_cov:  # the train parts' mean and std of each channel (calendar ones: 0, 1)
            self.register_buffer("cov_loc", torch.zeros(n_cov))
            self.register_buffer("cov_scale", torch.ones(n_cov))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)
        # Lag j of horizon step t: history index C - season * j + (t mod season).
        offsets = context - season * torch.arange(1, k + 1)
        phase = torch.arange(_MAX_STEPS) % season
        self.register_buffer("lag_index", phase[:, None] + offsets[None, :], persistent=False)
        n_trained = -(-horizon // patch)
        pos = torch.arange(_MAX_STEPS // patch + 1, dtype=torch.float32) / max(n_trained - 1, 1)
        self.register_buffer("pos", pos[:, None], persistent=False)

    def lags(self, z: torch.Tensor, steps: int) -> torch.Tensor:
        """(B, steps, K) same-phase values 1 … K seasons back (lag 1: the seasonal naive)."""
        idx = self.lag_index[:steps]
        return z.index_select(1, idx.reshape(-1)).reshape(z.shape[0], steps, self.k)

    def scale_cov(self, covariates: torch.Tensor) -> torch.Tensor:
        """(B, T, n_cov) in the user's units -> standardised, clipped to ±ZCLIP."""
        return torch.clamp((covariates - self.cov_loc) / self.cov_scale, -ZCLIP, ZCLIP)

    def forward(
        self, z: torch.Tensor, noise: torch.Tensor, cov: torch.Tensor | None = None
    ) -> torch.Tensor:
        """`cov` (B, C + Hp, n_cov) standardised covariates when n_cov > 0."""
        b, n, hp = z.shape[0], noise.shape[1], noise.shape[2]
        m = hp // self.patch
        enc_in = z.reshape(b, -1, self.enc_patch)
        if self.n_cov:
            assert cov is not None, "this forecaster reads covariates"
            ch = cov[:, : self.context]  # (B, C, n_cov)
            enc_in = torch.cat([enc_in, ch.reshape(b, -1, self.enc_patch * self.n_cov)], dim=-1)
        _, h_enc = self.encoder(enc_in)
        h0 = torch.tanh(self.init(h_enc[0]))  # (B, hidden)
        h0 = h0.unsqueeze(1).expand(-1, n, -1).reshape(1, b * n, h0.shape[-1])
        lags = self.lags(z, hp)  # (B, Hp, K)
        lp = lags.reshape(b, m, self.patch * self.k)
        if self.n_cov:
            assert cov is not None
            future = cov[:, self.context : self.context + hp]  # (B, Hp, n_cov)
            base = ch.index_select(1, self.lag_index[:hp, 0])  # (B, Hp, n_cov)
            steps = torch.cat([future, future - base], dim=-1)  # (B, Hp, 2 n_cov)
            lp = torch.cat([lp, steps.reshape(b, m, 2 * self.patch * self.n_cov)], dim=-1)
        cond = torch.cat([lp, self.pos[:m].unsqueeze(0).expand(b, -1, -1)], dim=-1)
        cond = cond.unsqueeze(1).expand(-1, n, -1, -1).reshape(b * n, m, cond.shape[-1])
        nz = noise.reshape(b * n, m, self.patch * self.latent)
        out, _ = self.gru(torch.cat([cond, nz], dim=-1), h0)
        lpn = lp.unsqueeze(1).expand(-1, n, -1, -1).reshape(b * n, m, lp.shape[-1])
        delta = self.head(torch.cat([out, lpn], dim=-1)).reshape(b, n, hp)
        return lags[..., 0].unsqueeze(1) + delta


class PanelForecastGraph(nn.Module):
    """What is exported: history (S, C), noise (S, N, H, L) -> forecast (S, N, H) in the
    history's units; the scaling, lags and seasonal-naive base are computed in the graph. A
    history may start with NaN (a series shorter than C, padded on the left; its last season
    present): `scaled_window` fills it and scales by the observed values."""

    def __init__(self, generator: PanelGenerator) -> None:
        super().__init__()
        self.generator = generator

    def z_paths(
        self, z: torch.Tensor, noise: torch.Tensor, cov: torch.Tensor | None = None
    ) -> torch.Tensor:
        """`cov` (B, C + H, n_cov) standardised, when the generator reads covariates."""
        p = self.generator.patch
        h = noise.shape[2]
        padded = F.pad(noise, (0, 0, 0, p - 1))
        whole = (h + p - 1) // p * p
        if cov is not None:  # padded like the noise, to whole horizon patches
            cov = F.pad(cov, (0, 0, 0, p - 1))[:, : self.generator.context + whole]
        return self.generator(z, padded[:, :, :whole], cov)[:, :, :h]

    def scaled_inputs(
        self, history: torch.Tensor, covariates: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(z, loc, scale, standardised covariates): the history scaled by its own level and
        seasonal-naive error, what `z_paths` reads; `unscaled` maps its paths back."""
        z, loc, scale = scaled_window(history, self.generator.context, self.generator.season)
        cov = self.generator.scale_cov(covariates) if covariates is not None else None
        return z, loc, scale, cov

    @staticmethod
    def unscaled(paths: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """Scaled paths (S, N, H) in the history's units."""
        return loc.unsqueeze(1) + scale.unsqueeze(1) * paths

    def forward(
        self, history: torch.Tensor, noise: torch.Tensor, covariates: torch.Tensor | None = None
    ) -> torch.Tensor:
        """`covariates` (S, C + H, n_cov) in the user's units (calendar channels as computed by
        rnngan/core/calendar.py), for models that read them."""
        z, loc, scale, cov = self.scaled_inputs(history, covariates)
        return self.unscaled(self.z_paths(z, noise, cov), loc, scale)


class PanelDiscriminator(nn.Module):
    """Conditional critic (training only): a GRU over patches of the last `context` history
    steps and the future; per patch [z, z one season earlier, share of future steps]."""

    def __init__(
        self,
        *,
        context: int,
        horizon: int,
        season: int,
        disc_context: int,
        patch: int,
        hidden: int,
        n_cov: int = 0,
    ) -> None:
        super().__init__()
        span = min(disc_context + horizon, context + horizon - season)
        self.patch = patch if span >= patch else 1
        self.span = span // self.patch * self.patch
        self.season, self.horizon, self.n_cov = season, horizon, n_cov
        future = torch.zeros(context + horizon)
        future[context:] = 1.0
        flags = future[-self.span :].reshape(-1, self.patch).mean(dim=1)
        self.register_buffer("flags", flags[:, None])
        self.gru = nn.GRU(2 * self.patch + 1 + self.patch * n_cov, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 1)

    def forward(
        self, z: torch.Tensor, future: torch.Tensor, cov: torch.Tensor | None = None
    ) -> torch.Tensor:
        """`cov` (B, C + H, n_cov) standardised covariates when n_cov > 0 (judged with them)."""
        full = torch.cat([z, future], dim=1)
        b, m, s = full.shape[0], self.span // self.patch, self.season
        cur = full[:, -self.span :].reshape(b, m, self.patch)
        lag = full[:, -self.span - s : full.shape[1] - s].reshape(b, m, self.patch)
        parts = [cur, lag, self.flags.expand(b, -1, -1)]
        if self.n_cov:
            assert cov is not None
            parts.append(cov[:, -self.span :].reshape(b, m, self.patch * self.n_cov))
        _, h = self.gru(torch.cat(parts, dim=-1))
        return self.out(h[0]).squeeze(-1)


def fair_crps(paths: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Fair sample CRPS, paths (B, K, H), truth (B, H), averaged over B and H."""
    k = paths.shape[1]
    err = (paths - truth.unsqueeze(1)).abs().mean(dim=1)
    spread = (paths.unsqueeze(1) - paths.unsqueeze(2)).abs().sum(dim=(1, 2)) / (k * (k - 1))
    return (err - 0.5 * spread).mean()


class EnsembleGraph(nn.Module):
    """K forecasters' graphs exported as one (same inputs and output as PanelForecastGraph):
    sample path i comes from member i mod K, so any number of paths (one included) draws on the
    members in turn and a request's quantiles are those of the members' mixture. Each member
    reads its own share of the noise: the noise is repeated to N + K - 1 paths (every member
    gets at least one, for any N ≥ 1) and member j takes paths j, j + K, …; the outputs are
    put back in path order with one gather."""

    def __init__(self, members: list[PanelForecastGraph]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(
        self, history: torch.Tensor, noise: torch.Tensor, covariates: torch.Tensor | None = None
    ) -> torch.Tensor:
        k = len(self.members)
        n = noise.shape[1]
        padded = noise.repeat(1, k, 1, 1)[:, : n + k - 1]
        # Scaled once: the members share the scaling and the covariates' train-part statistics
        z, loc, scale, cov = self.members[0].scaled_inputs(history, covariates)
        outs = [m.z_paths(z, padded[:, j::k], cov) for j, m in enumerate(self.members)]
        # member j holds ceil((n + k - 1 - j) / k) paths; path i is member i mod k's (i // k)-th
        member = torch.arange(k, device=noise.device)
        counts = torch.div(n + 2 * k - 2 - member, k, rounding_mode="floor")
        offsets = torch.cumsum(counts, 0) - counts
        i = torch.arange(n, device=noise.device)
        index = offsets.index_select(0, torch.remainder(i, k)) + torch.div(
            i, k, rounding_mode="floor"
        )
        paths = torch.cat(outs, dim=1).index_select(1, index)
        return PanelForecastGraph.unscaled(paths, loc, scale)
