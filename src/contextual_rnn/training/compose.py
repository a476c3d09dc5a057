"""Compose the project's Hydra config outside the command line (tests, notebooks, scripts)."""

from importlib import resources
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

# The package's config folder, the one ``pkg://contextual_rnn.conf`` reads: in a checkout
# src/contextual_rnn/conf links to the repository's conf/, a wheel holds a copy.
CONFIG_PACKAGE = "contextual_rnn.conf"
CONFIG_DIR = Path(str(resources.files(CONFIG_PACKAGE)))


def compose_config(
    overrides: list[str] = (),
    output_dir: str | Path | None = None,
    config_dir: str | Path = CONFIG_DIR,
) -> DictConfig:
    """The config ``python train.py <overrides>`` would run with, writing to ``output_dir``.

    Hydra's runtime values (``${hydra:...}``) resolve as in a real run.
    """
    with initialize_config_dir(str(config_dir), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg
