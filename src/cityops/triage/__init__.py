"""Triage: text classification of incoming reports (see docs/triage-classifier.md).

Public API::

    from cityops.triage import TextClassifier
    model = TextClassifier.train(records, labels, fields=("subject", "detail"))
    model.save("topics.model"); model = TextClassifier.load("topics.model")
    model.predict_top_k([("小区噪音扰民", "晚上施工……")], k=3)
"""

from cityops.triage.classifier import TextClassifier, TrainOptions
from cityops.triage.features import FeatureConfig

__all__ = ["FeatureConfig", "TextClassifier", "TrainOptions"]
