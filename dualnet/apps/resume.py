"""Resuming a run: the configuration its checkpoint stored, and the settings that may change.

Every application (classification, GANs, captioning) stores its whole configuration, a
dataclass, in each checkpoint. A resumed run is that configuration with the settings given
again applied. A setting that differs from the stored one is refused, named, unless the
application lists it in its ``MAY_CHANGE_ON_RESUME`` (the device, the output folder, the
progress bar and the like: what changes where the run happens, not what it computes).

The three places that check are the command line (:func:`refuse_contradicting_flags`: a usage
error naming the flag), the configuration (:func:`resumed_config`) and the training loop when
it restores a checkpoint (:func:`check_same_run`), so that a run resumed from Python is held
to the same rule.
"""

from __future__ import annotations

from dataclasses import asdict, fields, replace

from dualnet.apps.options import ConfigError


def stored_config(kind: type, checkpoint: dict):
    """The ``kind`` configuration a checkpoint was made with; keys that ``kind`` does not know
    (from another version of the project) are left out."""
    known = {f.name for f in fields(kind)}
    return kind(**{k: v for k, v in checkpoint["config"].items() if k in known})


def contradictions(previous, settings: dict, may_change: tuple[str, ...]) -> list[str]:
    """The names of ``settings`` (those not ``None``) that differ from the configuration
    ``previous`` and are not in ``may_change``."""
    stored = asdict(previous)
    return [
        name
        for name, value in settings.items()
        if value is not None and name in stored and name not in may_change and stored[name] != value
    ]


def check_same_run(previous, settings: dict, may_change: tuple[str, ...]) -> None:
    """Refuse ``settings`` that would make the run of ``previous`` another run.

    Raises:
        ConfigError: naming the first contradicting setting, its value and the stored one.
    """
    wrong = contradictions(previous, settings, may_change)
    if wrong:
        name = wrong[0]
        raise ConfigError(
            f"cannot resume with {name}={settings[name]!r}: the checkpoint was made with "
            f"{name}={getattr(previous, name)!r} (a resumed run keeps every setting except "
            f"{', '.join(may_change)})"
        )


def resumed_config(kind: type, checkpoint: dict, settings: dict, may_change: tuple[str, ...]):
    """The configuration of ``checkpoint``'s run with ``settings`` (those not ``None``)
    applied, checked; a stop given for the stopped piece does not carry over.

    Raises:
        ConfigError: if a setting contradicts the checkpoint (:func:`check_same_run`) or the
            result is not a valid configuration.
    """
    previous = stored_config(kind, checkpoint)
    check_same_run(previous, settings, may_change)
    changes = {k: v for k, v in settings.items() if v is not None}
    config = replace(previous, stop_after_steps=None, **changes)
    config.check()
    return config


def refuse_contradicting_flags(
    previous, settings: dict, may_change: tuple[str, ...], flags: dict[str, str], parser
) -> None:
    """A usage error (``parser.error``, exit status 2) naming the first command-line flag
    whose value contradicts the run being resumed; ``flags`` maps settings to flags."""
    wrong = contradictions(previous, settings, may_change)
    if wrong:
        name = wrong[0]
        kept = ", ".join(flags[n] for n in may_change if n in flags)
        parser.error(
            f"{flags[name]} {settings[name]} contradicts the run being resumed, which was made "
            f"with {flags[name]} {getattr(previous, name)}; a resumed run keeps every setting "
            f"except {kept}"
        )
