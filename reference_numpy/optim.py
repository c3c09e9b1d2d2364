r"""Update rules in the classic form ``rule(w, dw, config) -> (next_w, config)``.

``w`` is a parameter array, ``dw`` the gradient of the loss with respect to it, and ``config``
a dict of hyperparameters and of the rule's state (a velocity, moving averages, a step count).
Missing entries take the defaults listed for each rule.

As in the classic assignments, a rule **updates the dict it is given in place** (it fills in the
missing defaults and stores the new state under the same keys) and returns that same dict, so
both ``next_w, config = rule(w, dw, config)`` and the notebooks'
``next_w, _ = rule(w, dw, config=config); config['velocity']`` work. The arrays are never
modified: ``w`` is left as it is, and each state entry is *replaced* by a new array, so an array
the caller put into ``config`` keeps its values. Pass ``config=None`` (or ``{}``) to start fresh.
The learning rate must not be negative.

With equal hyperparameters every rule follows ``torch.optim``'s trajectory (SGD, SGD with
momentum, RMSprop, Adam): ``tests/reference_numpy/test_optim.py`` runs both side by side. The
update of each is derived on the docs page "Update rules".
"""

from __future__ import annotations

import numpy as np

from reference_numpy.validation import check_array, check_real, check_shape


def _start(func: str, w, dw, config: dict | None, defaults: dict) -> dict:
    """Check the arguments, fill the missing defaults into ``config`` and return it (a new dict
    when ``config`` is ``None``)."""
    check_array(func, "w", w)
    check_shape(func, "dw", dw, w.shape, "(the shape of w)")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ValueError(f"{func}: config must be a dict or None, got {type(config).__name__}")
    for key, default in defaults.items():
        config[key] = check_real(func, f"config[{key!r}]", config.get(key, default))
    if config["learning_rate"] < 0:
        raise ValueError(
            f"{func}: config['learning_rate'] must be >= 0, got {config['learning_rate']!r} "
            "(a negative rate climbs the loss)"
        )
    return config


def sgd(w: np.ndarray, dw: np.ndarray, config: dict | None = None):
    r"""Stochastic gradient descent: :math:`w \leftarrow w - \eta\, \overline{w}`.

    Args:
        w: Parameters, any shape.
        dw: Gradient, the shape of ``w``.
        config: ``{'learning_rate': 1e-2}``.

    Returns:
        ``(next_w, config)``; ``config`` is the dict passed in, defaults filled in.
    """
    config = _start("sgd", w, dw, config, {"learning_rate": 1e-2})
    return w - config["learning_rate"] * dw, config


def sgd_momentum(w: np.ndarray, dw: np.ndarray, config: dict | None = None):
    r"""SGD with momentum: a velocity that averages past gradients.

    .. math::

        v \leftarrow \mu v - \eta\, \overline{w}, \qquad w \leftarrow w + v .

    (``torch.optim.SGD`` keeps :math:`b = -v/\eta` instead; with a constant learning rate the
    two give the same steps.)

    Args:
        w: Parameters, any shape.
        dw: Gradient, the shape of ``w``.
        config: ``{'learning_rate': 1e-2, 'momentum': 0.9, 'velocity': zeros like w}``.

    Returns:
        ``(next_w, config)``: the dict passed in, now holding the new ``velocity``.
    """
    config = _start("sgd_momentum", w, dw, config, {"learning_rate": 1e-2, "momentum": 0.9})
    velocity = config.get("velocity", np.zeros_like(w))
    check_shape("sgd_momentum", "config['velocity']", velocity, w.shape, "(the shape of w)")
    velocity = config["momentum"] * velocity - config["learning_rate"] * dw
    config["velocity"] = velocity
    return w + velocity, config


def rmsprop(w: np.ndarray, dw: np.ndarray, config: dict | None = None):
    r"""RMSProp: divide each step by a moving root mean square of the gradient.

    .. math::

        s \leftarrow \rho s + (1 - \rho)\, \overline{w}^2, \qquad
        w \leftarrow w - \eta\, \frac{\overline{w}}{\sqrt{s} + \epsilon} .

    Args:
        w: Parameters, any shape.
        dw: Gradient, the shape of ``w``.
        config: ``{'learning_rate': 1e-2, 'decay_rate': 0.99, 'epsilon': 1e-8,
            'cache': zeros like w}`` (``decay_rate`` is ``torch.optim.RMSprop``'s ``alpha``).

    Returns:
        ``(next_w, config)``: the dict passed in, now holding the new ``cache`` :math:`s`.
    """
    defaults = {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}
    config = _start("rmsprop", w, dw, config, defaults)
    cache = config.get("cache", np.zeros_like(w))
    check_shape("rmsprop", "config['cache']", cache, w.shape, "(the shape of w)")
    rho = config["decay_rate"]
    cache = rho * cache + (1 - rho) * dw**2
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def adam(w: np.ndarray, dw: np.ndarray, config: dict | None = None):
    r"""Adam: momentum and RMSProp together, with bias correction.

    With step count :math:`t` (starting at 1),

    .. math::

        m \leftarrow \beta_1 m + (1 - \beta_1)\, \overline{w}, \qquad
        v \leftarrow \beta_2 v + (1 - \beta_2)\, \overline{w}^2, \qquad
        w \leftarrow w - \eta\, \frac{m / (1 - \beta_1^t)}{\sqrt{v / (1 - \beta_2^t)} + \epsilon} .

    Args:
        w: Parameters, any shape.
        dw: Gradient, the shape of ``w``.
        config: ``{'learning_rate': 1e-3, 'beta1': 0.9, 'beta2': 0.999, 'epsilon': 1e-8,
            'm': zeros like w, 'v': zeros like w, 't': 0}``.

    Returns:
        ``(next_w, config)``: the dict passed in, now holding the new ``m``, ``v`` and ``t``.
    """
    defaults = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    config = _start("adam", w, dw, config, defaults)
    m = config.get("m", np.zeros_like(w))
    v = config.get("v", np.zeros_like(w))
    check_shape("adam", "config['m']", m, w.shape, "(the shape of w)")
    check_shape("adam", "config['v']", v, w.shape, "(the shape of w)")
    t = int(config.get("t", 0)) + 1
    beta1, beta2 = config["beta1"], config["beta2"]
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    config.update(m=m, v=v, t=t)
    return w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"]), config


UPDATE_RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}
"""Every update rule by name, as ``Solver`` looks them up."""
