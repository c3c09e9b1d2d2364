"""Each setting declared once (``dualnet.apps.settings``), on a small configuration of its own:
the flags built from the fields, the ranges checked, and the rule a run is resumed by; each
application's tests resume real runs, and ``test_vocabulary.py`` compares every ``--help``
with its dataclass."""

import argparse
from dataclasses import dataclass

import pytest

from dualnet.apps.settings import (
    ConfigError,
    Range,
    add_setting_flags,
    check_settings,
    contradictions,
    flags,
    given_settings,
    may_change,
    refuse_contradicting_flags,
    resumed_config,
    setting,
    stored_config,
)


@dataclass(kw_only=True)
class Settings:
    lr: float = setting(0.1, help="learning rate", range=Range(float, 0, low_open=True))
    device: str = setting("cpu", help="where", choices=("cpu", "cuda"), may_change=True)
    stop_after_steps: int | None = setting(None, help="stop", range=Range(int, 1), may_change=True)
    steps: int = setting(help="steps", range=Range(int, 1))
    out_dir: str = setting("runs", help="folder", flag="--out", may_change=True)
    hidden: str = setting("x", help="not on the command line", flag="")

    def check(self) -> None:
        check_settings(self)


def checkpoint(**config) -> dict:
    stored = {"lr": 0.1, "device": "cpu", "stop_after_steps": 3, "steps": 5}
    return {"config": {**stored, **config}}


def test_the_flags_come_from_the_fields():
    assert flags(Settings) == {
        "lr": "--lr",
        "device": "--device",
        "stop_after_steps": "--stop-after-steps",
        "steps": "--steps",
        "out_dir": "--out",
        "hidden": "",
    }
    assert may_change(Settings) == ("device", "stop_after_steps", "out_dir")
    parser = argparse.ArgumentParser()
    add_setting_flags(parser, Settings)
    helps = {a.dest: a.help for a in parser._actions if a.dest != "help"}
    assert helps == {
        "lr": "learning rate (0.1)",
        "device": "where (cpu)",
        "stop_after_steps": "stop",
        "steps": "steps (see the defaults below)",
        "out_dir": "folder (runs)",
    }
    args = parser.parse_args(["--lr", "0.5", "--out", "elsewhere"])
    assert given_settings(args, Settings) == {
        "lr": 0.5,
        "device": None,
        "stop_after_steps": None,
        "steps": None,
        "out_dir": "elsewhere",
    }


def test_a_number_outside_its_range_is_refused_naming_the_flag(capsys):
    parser = argparse.ArgumentParser(prog="demo")
    add_setting_flags(parser, Settings)
    with pytest.raises(SystemExit):
        parser.parse_args(["--steps", "0"])
    assert "argument --steps: must be at least 1, got 0" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"--lr must be greater than 0, got -1.0"):
        Settings(steps=3, lr=-1.0).check()
    with pytest.raises(ConfigError, match=r"--device must be one of cpu, cuda, got 'tpu'"):
        Settings(steps=3, device="tpu").check()


def test_the_stored_configuration_leaves_out_keys_it_does_not_know():
    stored = stored_config(Settings, checkpoint(removed_setting=4))
    assert stored == Settings(lr=0.1, device="cpu", stop_after_steps=3, steps=5)


def test_only_given_settings_that_may_not_change_contradict():
    previous = Settings(lr=0.1, steps=5)
    given = {"lr": None, "device": "cuda", "unknown": 5}
    assert contradictions(previous, given) == []
    assert contradictions(previous, {"lr": 0.2}) == ["lr"]
    assert contradictions(previous, {"lr": 0.1}) == []


def test_a_resumed_configuration_applies_what_may_change_and_runs_on():
    config = resumed_config(Settings, checkpoint(), {"device": "cuda"})
    assert config == Settings(lr=0.1, device="cuda", stop_after_steps=None, steps=5)
    stopped_again = resumed_config(Settings, checkpoint(), {"stop_after_steps": 4})
    assert stopped_again == Settings(lr=0.1, stop_after_steps=4, steps=5)
    with pytest.raises(ConfigError, match=r"cannot resume with lr=0.5: .* made with lr=0.1"):
        resumed_config(Settings, checkpoint(), {"lr": 0.5})
    with pytest.raises(ConfigError, match="--lr must be greater than 0"):  # checked
        resumed_config(Settings, checkpoint(lr=-1.0), {})


def test_a_contradicting_flag_is_a_usage_error_naming_it(capsys):
    parser = argparse.ArgumentParser(prog="dualnet demo train")
    refuse_contradicting_flags(Settings(steps=5), {"device": "cuda"}, parser)
    with pytest.raises(SystemExit) as stopped:
        refuse_contradicting_flags(Settings(steps=5), {"lr": 0.5}, parser)
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "--lr 0.5 contradicts the run being resumed, which was made with --lr 0.1" in error
    assert "keeps every setting except --device, --stop-after-steps, --out" in error
