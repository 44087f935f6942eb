"""ModelConfig: round trip through plain primitives, refusals, the label map."""

from __future__ import annotations

import json

import pytest

from dior_cli.errors import ConfigError
from dior_cli.model.config import LABEL_TO_CLASS, ModelConfig
from dior_cli.records import CAR, PEDESTRIAN


def test_paper_defaults():
    config = ModelConfig()
    assert (config.backbone, config.embedding_dim, config.num_classes) == ("resnet50", 1024, 3)  # DIOR sec. 4.1


def test_round_trip_through_json():
    config = ModelConfig(backbone="resnet18", num_identities=7, box_score_thresh=0.3)
    values = json.loads(json.dumps(config.to_dict()))
    assert ModelConfig.from_dict(values) == config


def test_ints_for_float_fields_are_stored_as_floats():
    assert ModelConfig(box_score_thresh=0).to_dict()["box_score_thresh"] == 0.0
    assert isinstance(ModelConfig(box_score_thresh=0).box_score_thresh, float)


@pytest.mark.parametrize(
    "values, match",
    [
        ({"bakbone": "resnet50"}, "unknown model config key"),
        ({"backbone": "vgg16"}, "backbone"),
        ({"num_classes": 91}, "num_classes"),
        ({"embedding_dim": "1024"}, "embedding_dim"),
        ({"min_size": 900, "max_size": 800}, "min_size"),
    ],
)
def test_bad_values_are_refused(values, match):
    with pytest.raises(ConfigError, match=match):
        ModelConfig.from_dict(values)


def test_labels_map_to_mots_classes_and_the_map_is_read_only():
    assert dict(LABEL_TO_CLASS) == {1: CAR, 2: PEDESTRIAN}
    with pytest.raises(TypeError):
        LABEL_TO_CLASS[3] = 10  # type: ignore[index]
