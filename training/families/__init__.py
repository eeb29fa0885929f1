"""The model families and the one table from a run config to its family.

Each family is one module (its networks, or shared ones from training/networks.py, its trainer
and the graph it exports) with a class implementing `Family` (training/families/base.py), which
declares the configs it takes (task, data sets, `model.kind`). The stages (train, evaluate,
export) call `family_for(config)` and ask the family; none decides by itself. A new family is
one module and one line in FAMILIES.
"""

from __future__ import annotations

from torch import nn

from training.checkpoint import Checkpoint
from training.config import ConfigError, RunConfig
from training.families.base import Family
from training.families.forgan import ForGAN
from training.families.images import ImageGAN, TextImageGAN, UncondImageGAN
from training.families.rcgan import RCGAN
from training.families.table_forecast import TableForecast
from training.families.table_gan import TableGAN
from training.families.timegan import TimeGAN

FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        RCGAN(),  # generate, built-in series, model.kind = "rcgan"
        TimeGAN(),  # generate, built-in series, model.kind = "timegan"
        ForGAN(),  # forecast, one column of a built-in series
        TableGAN(),  # generate, the user's own table
        TableForecast(),  # forecast, a target column of the user's own table
        ImageGAN(),  # image, digits, model.kind = "image" (one-hot label)
        UncondImageGAN(),  # image, digits, model.kind = "image", image.conditioning = "none"
        TextImageGAN(),  # image, digits, model.kind = "text_image" (a prompt)
    )
}
# The families that train data-parallel (training/distributed.py), named by the error of others.
DATA_PARALLEL: tuple[str, ...] = tuple(name for name, f in FAMILIES.items() if f.data_parallel)


def family_for(config: RunConfig) -> Family:
    """The one family that trains `config` (a ConfigError names the options otherwise)."""
    found = [family for family in FAMILIES.values() if family.accepts(config)]
    if len(found) != 1:
        raise ConfigError(
            f"task={config.task!r}, data.dataset={config.data.dataset!r}, "
            f"model.kind={config.model.kind!r} match {len(found)} model families "
            f"({', '.join(f.name for f in found) or 'none'}); families: {', '.join(FAMILIES)}"
        )
    return found[0]


def build_graph(ckpt: Checkpoint) -> nn.Module:
    """The checkpoint's exported module, in eval mode: noise (and history or condition) in,
    real units out."""
    return family_for(ckpt.config).graph(ckpt).eval()
