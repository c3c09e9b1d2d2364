"""The README's Python examples run, and the error it quotes is the error the code raises."""

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_the_tour_runs_and_the_two_backends_agree(capsys):
    namespace: dict = {}
    runnable = [block for block in python_blocks() if not block.lstrip().startswith(">>>")]
    assert len(runnable) == 2
    for block in runnable:
        exec(block, namespace)  # noqa: S102 - the README's own examples
    printed = float(capsys.readouterr().out.strip())
    assert printed < 1e-12


def test_the_quoted_error_is_the_real_one():
    from reference_numpy.layers import affine_forward

    quoted = re.search(r"ValueError: (.*)", README.read_text()).group(1)
    x, w = np.zeros((4, 3, 2)), np.zeros((6, 5))
    with pytest.raises(ValueError) as error:
        affine_forward(x, w, np.zeros(1))
    assert str(error.value) == quoted
