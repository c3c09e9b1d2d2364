"""Run by ``torchrun`` in the GAN data-parallel test: train on the first 256 embedded training
digits with the configuration given as JSON on the command line."""

import json
import sys

from dualnet.apps import gan

if __name__ == "__main__":
    config = gan.GanConfig(**json.loads(sys.argv[1]))
    digits = gan.load_digits("embedded")
    images, labels = digits.train
    few = gan.Digits("embedded", train=(images[:256], labels[:256]), test=digits.test)
    gan.train(config, digits=few)
