"""Run by ``torchrun`` in the captioning data-parallel test: train on the tiny embedded set
with the configuration given as JSON on the command line."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from caption_helpers import tiny_prepared  # noqa: E402

from dualnet.apps.caption.config import CaptionConfig  # noqa: E402
from dualnet.apps.caption.train import train  # noqa: E402

if __name__ == "__main__":
    config = CaptionConfig(**json.loads(sys.argv[1]))
    train(config, tiny_prepared(config.cell))
