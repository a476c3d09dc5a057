"""``python train.py <overrides> --explain``: every value of a run's config and its source.

Hydra composes a run's config from many files (``--info defaults`` lists them, a later
file overriding an earlier one) and the command line. This prints each resulting
value with the file that set it last (or ``command line``), and for an interpolation,
what it points to: e.g. ``model.optimizer.lr: 0.001  # conf/data/art.yaml`` shows that
choosing the task set the learning rate.
"""

from pathlib import Path

from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import OmegaConf

from contextual_rnn.training.arguments import search_path
from contextual_rnn.training.compose import compose_config


def leaves(node, prefix: str = "") -> dict[str, object]:
    """Flattened ``a.b.c -> value`` of a plain container (lists are values)."""
    if not isinstance(node, dict) or not node:
        return {prefix: node}
    flat = {}
    for key, value in node.items():
        flat.update(leaves(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def origins(overrides: list[str], config_dir: Path) -> dict[str, str]:
    """key -> the config file (or the command line) that set it last."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    folders = [config_dir, *search_path(parsed)]
    with initialize_config_dir(str(config_dir), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        defaults = loader.compute_defaults_list("train", overrides, RunMode.RUN).defaults
    found: dict[str, str] = {}
    for entry in defaults:
        path = entry.config_path
        if path is None or path.startswith("hydra/") or entry.package.startswith("hydra"):
            continue
        file = next((f / f"{path}.yaml" for f in folders if (f / f"{path}.yaml").is_file()), None)
        if file is None:
            continue
        content = OmegaConf.to_container(OmegaConf.load(file), resolve=False) or {}
        content.pop("defaults", None)
        for key in leaves(content, entry.package):
            if key:
                found[key] = str(file.relative_to(file.parents[len(Path(path).parts)]))
    for override in parsed:
        group = any((folder / override.key_or_group).is_dir() for folder in folders)
        if not override.is_hydra_override() and not group:
            for key in list(found):
                if key == override.key_or_group or key.startswith(override.key_or_group + "."):
                    found.pop(key)
            found[override.key_or_group] = "command line"
    return found


def explain(overrides: list[str], config_dir: Path) -> str:
    cfg = compose_config(overrides, config_dir=config_dir)
    raw = leaves(OmegaConf.to_container(cfg, resolve=False))
    where = origins(overrides, config_dir)
    lines = []
    for key, value in raw.items():
        if key.startswith("hydra"):
            continue
        source = next((where[k] for k in (key, *parents(key)) if k in where), "?")
        shown = value
        if isinstance(value, str) and "${" in value:
            resolved = "(set when the run starts)"  # the run's folder, Hydra's runtime values
            if "hydra:" not in value and "output_dir" not in value:
                resolved = OmegaConf.select(cfg, key)
            shown = f"{resolved}  (= {value})"
        lines.append(f"{key}: {shown}  # {source}")
    return "\n".join(lines)


def parents(key: str) -> list[str]:
    parts = key.split(".")
    return [".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]
