"""The rule every application resumes a run by (``dualnet.apps.resume``), on a small
configuration of its own; each application's tests resume real runs."""

import argparse
from dataclasses import dataclass

import pytest

from dualnet.apps import resume
from dualnet.apps.options import ConfigError

MAY_CHANGE = ("device", "stop_after_steps")


@dataclass
class Settings:
    lr: float = 0.1
    device: str = "cpu"
    stop_after_steps: int | None = None

    def check(self) -> None:
        if self.lr <= 0:
            raise ConfigError(f"lr must be positive, got {self.lr}")


def checkpoint(**config) -> dict:
    return {"config": {"lr": 0.1, "device": "cpu", "stop_after_steps": 3, **config}}


def test_the_stored_configuration_leaves_out_keys_it_does_not_know():
    stored = resume.stored_config(Settings, checkpoint(removed_setting=4))
    assert stored == Settings(lr=0.1, device="cpu", stop_after_steps=3)


def test_only_given_settings_that_may_not_change_contradict():
    previous = Settings(lr=0.1)
    given = {"lr": None, "device": "cuda", "unknown": 5}
    assert resume.contradictions(previous, given, MAY_CHANGE) == []
    assert resume.contradictions(previous, {"lr": 0.2}, MAY_CHANGE) == ["lr"]
    assert resume.contradictions(previous, {"lr": 0.1}, MAY_CHANGE) == []


def test_a_resumed_configuration_applies_what_may_change_and_runs_on():
    config = resume.resumed_config(Settings, checkpoint(), {"device": "cuda"}, MAY_CHANGE)
    assert config == Settings(lr=0.1, device="cuda", stop_after_steps=None)
    with pytest.raises(ConfigError, match=r"cannot resume with lr=0.5: .* made with lr=0.1"):
        resume.resumed_config(Settings, checkpoint(), {"lr": 0.5}, MAY_CHANGE)
    with pytest.raises(ConfigError, match="lr must be positive"):  # the result is checked
        resume.resumed_config(Settings, checkpoint(lr=-1.0), {}, MAY_CHANGE)


def test_a_contradicting_flag_is_a_usage_error_naming_it(capsys):
    parser = argparse.ArgumentParser(prog="dualnet demo train")
    flags = {"lr": "--lr", "device": "--device"}
    resume.refuse_contradicting_flags(Settings(), {"device": "cuda"}, MAY_CHANGE, flags, parser)
    with pytest.raises(SystemExit) as stopped:
        resume.refuse_contradicting_flags(Settings(), {"lr": 0.5}, MAY_CHANGE, flags, parser)
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "--lr 0.5 contradicts the run being resumed, which was made with --lr 0.1" in error
    assert "keeps every setting except --device" in error
