"""The post-hoc scores of docs/quality.md (after TimeGAN's metrics code): discriminative and
predictive scores from small GRUs, autocorrelation and cross-correlation errors. Shared by the
generation report (generation.py) and the quality verdict (quality.py).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from training.evaluate import progress


class _PostHocGRU(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.rnn = nn.GRU(input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, last = self.rnn(x)
        return self.head(h), self.head(last[-1])  # per step (B, T, O), final (B, O)


def _hidden(n_features: int) -> int:
    return max(1, n_features // 2)


def discriminative_score(
    real: np.ndarray,
    fake: np.ndarray,
    *,
    steps: int = 2000,
    batch_size: int = 128,
    seed: int = 0,
    hidden_size: int | None = None,
) -> float:
    """|accuracy - 0.5| of a post-hoc GRU classifier on a held-out 20 % of real and synthetic
    (hidden F/2 as the protocol says, unless `hidden_size` is given)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    n = min(len(real), len(fake))
    x = torch.from_numpy(np.concatenate([real[:n], fake[:n]]).astype(np.float32))
    y = torch.cat([torch.ones(n), torch.zeros(n)])
    order = torch.randperm(2 * n, generator=g)
    cut = int(0.8 * 2 * n)
    train_idx, test_idx = order[:cut], order[cut:]
    model = _PostHocGRU(x.shape[-1], hidden_size or _hidden(x.shape[-1]), 1)
    opt = torch.optim.Adam(model.parameters())
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(steps):
        idx = train_idx[torch.randint(0, len(train_idx), (batch_size,), generator=g)]
        _, logit = model(x[idx])
        loss = loss_fn(logit.squeeze(-1), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        progress.advance()
    with torch.no_grad():
        _, logit = model(x[test_idx])
        accuracy = ((logit.squeeze(-1) > 0).float() == y[test_idx]).float().mean().item()
    return abs(accuracy - 0.5)


def predictive_score(
    train_on: np.ndarray,
    test_on: np.ndarray,
    *,
    steps: int = 5000,
    batch_size: int = 128,
    seed: int = 0,
) -> float:
    """MAE on `test_on` of a GRU trained on `train_on` to predict the last feature one step ahead
    from the other features (TimeGAN's train-on-synthetic, test-on-real); from its own past when
    there is only one feature."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    # Univariate data have no other features: the inputs are the feature's own past.
    inputs = slice(None) if train_on.shape[-1] == 1 else slice(None, -1)
    x_train = torch.from_numpy(train_on[:, :-1, inputs].astype(np.float32))
    y_train = torch.from_numpy(train_on[:, 1:, -1:].astype(np.float32))
    n_in = x_train.shape[-1]
    model = _PostHocGRU(n_in, _hidden(train_on.shape[-1]), 1)
    opt = torch.optim.Adam(model.parameters())
    for _ in range(steps):
        idx = torch.randint(0, len(x_train), (batch_size,), generator=g)
        pred, _ = model(x_train[idx])
        loss = (torch.sigmoid(pred) - y_train[idx]).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        progress.advance()
    with torch.no_grad():
        x_test = torch.from_numpy(test_on[:, :-1, inputs].astype(np.float32))
        y_test = torch.from_numpy(test_on[:, 1:, -1:].astype(np.float32))
        pred, _ = model(x_test)
        return (torch.sigmoid(pred) - y_test).abs().mean().item()


def autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Mean over windows of each feature's autocorrelation at lags 1 … max_lag: (max_lag, F)."""
    centred = x - x.mean(axis=1, keepdims=True)
    var = (centred**2).sum(axis=1)  # (N, F)
    out = []
    with warnings.catch_warnings():  # a feature constant in every window has no ACF: 0
        warnings.simplefilter("ignore", RuntimeWarning)
        for lag in range(1, max_lag + 1):
            cov = (centred[:, lag:] * centred[:, :-lag]).sum(axis=1)
            ratio = np.where(var > 1e-12, cov / np.maximum(var, 1e-12), np.nan)
            out.append(np.nanmean(ratio, axis=0))
    return np.nan_to_num(np.asarray(out))


def autocorrelation_error(real: np.ndarray, fake: np.ndarray, max_lag: int = 10) -> float:
    """Mean |ACF_real − ACF_synthetic| over lags 1 … max_lag and features."""
    lag = min(max_lag, real.shape[1] - 1)
    return float(np.mean(np.abs(autocorrelation(real, lag) - autocorrelation(fake, lag))))


def cross_correlation_error(real: np.ndarray, fake: np.ndarray) -> float:
    """Mean |corr_real − corr_synthetic| over feature pairs (Pearson over all steps)."""
    if real.shape[-1] < 2:
        return 0.0

    def corr(x: np.ndarray) -> np.ndarray:
        flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
        return np.nan_to_num(np.corrcoef(flat, rowvar=False))

    upper = np.triu_indices(real.shape[-1], k=1)
    return float(np.mean(np.abs(corr(real)[upper] - corr(fake)[upper])))
