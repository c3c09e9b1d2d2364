"""Run by ``torchrun`` in the data-parallel test: train on the synthetic splits with the
configuration given as JSON on the command line."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from classify_helpers import synthetic_splits  # noqa: E402

from dualnet.apps import classify  # noqa: E402

if __name__ == "__main__":
    config = classify.ClassifyConfig(**json.loads(sys.argv[1]))
    classify.train(config, splits=synthetic_splits())
