"""``dior config --config FILE / --set KEY=VALUE``: the settings every stage would run with, as YAML.

Each stage's config is built as its command builds it (defaults, then the file's section, then
the overrides; a bare ``key=value`` goes to the stage that has the key), so a mistake is
reported here exactly as the command would report it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from dior_cli import config


def resolved_yaml(config_file: Path | None, overrides: list[str]) -> str:
    """YAML of ``{stage: {key: value}}`` for every stage in :data:`dior_cli.config.STAGES`, in order."""
    import yaml

    groups = config.split_overrides(overrides, tuple(config.STAGES))
    result = {stage: dataclasses.asdict(config.load_config(stage, config_file, groups[stage])) for stage in config.STAGES}
    return yaml.safe_dump(result, sort_keys=False)
