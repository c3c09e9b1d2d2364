r"""BLEU, computed here and checked against NLTK in the tests. Scores are on a **0-1 scale**
(multiply by 100 for the scale of sacrebleu and most papers).

**Corpus BLEU-n** (Papineni et al., 2002) against all the references of each image:

1. For every order :math:`k = 1 \dots n`, the *modified precision*

   .. math:: p_k = \frac{\sum_{\text{captions}} \sum_{g} \min\big(\text{count}(g),
             \max_{r} \text{count}_r(g)\big)}{\sum_{\text{captions}} \sum_g \text{count}(g)}

   where :math:`g` runs over the k-grams of the generated caption and :math:`r` over its
   references: a k-gram earns credit at most as often as the reference that uses it most.
2. The *brevity penalty* :math:`BP = 1` if the generated words :math:`c` outnumber
   :math:`r`, the summed lengths of the references closest in length to each caption (the
   shorter one on a tie), else :math:`e^{1 - r/c}`.
3. :math:`\text{BLEU-}n = BP \cdot \exp\big(\tfrac{1}{n} \sum_{k=1}^{n} \log p_k\big)`, and 0
   when some :math:`p_k` is 0.

**The cs231n metric**: the mean over captions of the *sentence* BLEU-1 (unigram precision
times brevity penalty, each caption on its own) after dropping ``<START>``, ``<END>`` and
``<UNK>``, as the course's notebooks compute it with NLTK.
"""

from __future__ import annotations

import math
from collections import Counter

SKIPPED = ("<NULL>", "<START>", "<END>", "<UNK>")


def tokens(caption: str) -> list[str]:
    """A caption's words without the special tokens."""
    return [word for word in caption.split() if word not in SKIPPED]


def ngrams(words: list[str], k: int) -> Counter:
    return Counter(tuple(words[i : i + k]) for i in range(len(words) - k + 1))


def clipped_counts(references: list[list[str]], hypothesis: list[str], k: int) -> tuple[int, int]:
    """``(credited k-grams, k-grams)`` of one caption: step 1 of the module docstring."""
    counts = ngrams(hypothesis, k)
    most = Counter()
    for reference in references:
        most |= ngrams(reference, k)  # element-wise maximum
    return sum(min(n, most[g]) for g, n in counts.items()), sum(counts.values())


def closest_length(references: list[list[str]], length: int) -> int:
    return min((len(r) for r in references), key=lambda r: (abs(r - length), r))


def brevity_penalty(hypothesis_length: int, reference_length: int) -> float:
    if hypothesis_length > reference_length:
        return 1.0
    if hypothesis_length == 0:
        return 0.0
    return math.exp(1 - reference_length / hypothesis_length)


def corpus_bleu(
    references: list[list[list[str]]], hypotheses: list[list[str]], max_n: int = 4
) -> dict[str, float]:
    """Corpus BLEU-1 ... BLEU-``max_n`` on a 0-1 scale.

    Args:
        references: For every caption, its references, each a list of words.
        hypotheses: The generated captions, each a list of words.

    Returns:
        ``{"bleu1": ..., "bleu2": ..., ...}``.
    """
    if len(references) != len(hypotheses):
        raise ValueError(
            f"corpus_bleu: {len(hypotheses)} captions but {len(references)} lists of references"
        )
    if any(len(refs) == 0 for refs in references):
        raise ValueError("corpus_bleu: every caption needs at least one reference")
    credited, total = [0] * max_n, [0] * max_n
    length = closest = 0
    for refs, hypothesis in zip(references, hypotheses, strict=True):
        for k in range(1, max_n + 1):
            good, all_ = clipped_counts(refs, hypothesis, k)
            credited[k - 1] += good
            total[k - 1] += all_
        length += len(hypothesis)
        closest += closest_length(refs, len(hypothesis))
    penalty = brevity_penalty(length, closest)
    scores = {}
    for n in range(1, max_n + 1):
        precisions = [credited[k] / total[k] if total[k] else 0.0 for k in range(n)]
        if min(precisions) == 0:
            scores[f"bleu{n}"] = 0.0
        else:
            scores[f"bleu{n}"] = penalty * math.exp(sum(map(math.log, precisions)) / n)
    return scores


def sentence_bleu1(references: list[list[str]], hypothesis: list[str]) -> float:
    """Unigram BLEU of one caption: clipped unigram precision times the brevity penalty."""
    good, all_ = clipped_counts(references, hypothesis, 1)
    if all_ == 0 or good == 0:
        return 0.0
    return brevity_penalty(len(hypothesis), closest_length(references, len(hypothesis))) * (
        good / all_
    )


def cs231n_bleu1(references: list[list[str]], hypotheses: list[str]) -> float:
    """The course's metric: the mean sentence BLEU-1 of captions given as text.

    Args:
        references: For every caption, its reference texts.
        hypotheses: The generated texts.
    """
    if not hypotheses:
        return 0.0
    scores = [
        sentence_bleu1([tokens(r) for r in refs], tokens(hypothesis))
        for refs, hypothesis in zip(references, hypotheses, strict=True)
    ]
    return sum(scores) / len(scores)
