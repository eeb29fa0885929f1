"""Pictures a person would rather look at than read: real and synthetic windows in one 2-D
projection (PCA and t-SNE, as in TimeGAN's Figure 3) plus a few sample series."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def projection_figure(
    real: np.ndarray,
    fake: np.ndarray,
    features: list[str],
    title: str,
    path: Path,
    n: int = 1000,
    seed: int = 0,
) -> None:
    # Imported here, not at the top: matplotlib and scikit-learn are heavy and only the picture
    # needs them.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    rng = np.random.default_rng(seed)
    r = real[rng.choice(len(real), min(n, len(real)), replace=False)]
    f = fake[rng.choice(len(fake), min(n, len(fake)), replace=False)]
    # TimeGAN's reduction: average over features, one point per window (N, T).
    r2, f2 = r.mean(axis=2), f.mean(axis=2)
    both = np.concatenate([r2, f2])
    pca = PCA(n_components=2, random_state=seed).fit(r2)
    tsne = TSNE(
        n_components=2, perplexity=min(40.0, (len(both) - 1) / 3), init="pca", random_state=seed
    ).fit_transform(both)

    fig, axes = plt.subplots(1, 4, figsize=(20, 4.5))
    for ax, (name, pts_r, pts_f) in zip(
        axes[:2],
        [
            ("PCA", pca.transform(r2), pca.transform(f2)),
            ("t-SNE", tsne[: len(r2)], tsne[len(r2) :]),
        ],
        strict=True,
    ):
        ax.scatter(pts_r[:, 0], pts_r[:, 1], s=4, alpha=0.4, c="tab:red", label="real")
        ax.scatter(pts_f[:, 0], pts_f[:, 1], s=4, alpha=0.4, c="tab:blue", label="synthetic")
        ax.set_title(f"{title}: {name}")
        ax.legend(markerscale=3)
    shown = min(3, real.shape[-1])
    for ax, (label, x) in zip(axes[2:], [("real", r), ("synthetic", f)], strict=True):
        for i in range(4):
            for k in range(shown):
                ax.plot(x[i, :, k], color=f"C{i}", alpha=0.4 + 0.6 * (k == 0), lw=1)
        ax.set_title(f"{label} windows (first {shown} of {len(features)} features)")
        ax.set_ylim(-0.05, 1.05)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
