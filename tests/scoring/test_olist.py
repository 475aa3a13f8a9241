"""Real data: the Olist marketing funnel, validated on the latest quarter of leads by first contact."""

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.scoring.features import FeatureBuilder
from tandem.scoring.model import TrainConfig, model_train
from tests.scoring.realdata import olist


@pytest.mark.shared_data
def test_olist_time_split_beats_naive_bayes(shared_data: Path) -> None:
    # given Olist MQLs (origin, landing page, weekday of first contact), validated on the latest 25 %
    table = olist(shared_data)
    builder = FeatureBuilder.fit(table.spec, table.inputs)
    matrix = builder.transform(table.inputs)
    # when
    model = model_train(matrix, table.y, times=table.times, config=TrainConfig(split="time", validation_share=0.25))
    # then validation holds the 2,000 latest leads and the model ranks them better than naive Bayes
    scores = model.metrics["validation"]
    assert model.metrics["validation_rows"] == 2000
    assert scores[model.kind]["auc"] > scores["naive_bayes"]["auc"]
    assert model.activation.active
