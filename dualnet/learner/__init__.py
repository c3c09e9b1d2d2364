"""Learn by doing: check a learner's own implementation, write exercise skeletons, grade a
folder of hand-ins.

* :func:`check_implementation` (``dualnet check --impl FILE``): every registered component a
  learner's module defines, checked with the learner's functions in place of the reference's,
  each disagreement named and diagnosed (:mod:`dualnet.learner.check`,
  :mod:`dualnet.learner.diagnosis`);
* :mod:`dualnet.learner.exercise` (``dualnet exercise``): a file to fill in, with the
  reference's signatures and docstrings and no line of its code;
* :mod:`dualnet.learner.grade` (``dualnet grade DIR``): every hand-in of a folder, each in
  its own process, in one table.
"""

from dualnet.learner.check import (
    DEFAULT_TIMEOUT,
    STATUSES,
    Finding,
    LearnerResult,
    check_implementation,
)
from dualnet.learner.handin import HandinError

__all__ = [
    "DEFAULT_TIMEOUT",
    "STATUSES",
    "Finding",
    "HandinError",
    "LearnerResult",
    "check_implementation",
]
