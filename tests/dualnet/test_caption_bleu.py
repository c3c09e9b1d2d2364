"""BLEU: the project's corpus BLEU-1..4 and the cs231n metric against NLTK on the same tokens,
and a worked example computed by hand."""

import math

import numpy as np
import pytest
from nltk.translate import bleu_score

from dualnet.apps.caption import bleu

pytestmark = pytest.mark.captioning

VOCABULARY = ["a", "red", "blue", "disk", "star", "and", "the", "is", ","]


def random_corpus(seed: int, n: int = 30):
    rng = np.random.default_rng(seed)

    def sentence(low, high):
        return [VOCABULARY[i] for i in rng.integers(0, len(VOCABULARY), rng.integers(low, high))]

    references = [[sentence(3, 12) for _ in range(rng.integers(1, 6))] for _ in range(n)]
    # hypotheses share words with their first reference, so every precision is positive; they
    # have at least 4 words because NLTK counts a caption without k-grams as one k-gram (its
    # denominator is max(1, count)), where BLEU's definition (and sacrebleu) counts none
    hypotheses = [
        refs[0][: rng.integers(2, len(refs[0]) + 1)] + sentence(2, 6) for refs in references
    ]
    return references, hypotheses


@pytest.mark.parametrize("seed", range(4))
def test_corpus_bleu_equals_nltk(seed):
    references, hypotheses = random_corpus(seed)
    ours = bleu.corpus_bleu(references, hypotheses)
    for n in range(1, 5):
        theirs = bleu_score.corpus_bleu(references, hypotheses, weights=(1 / n,) * n)
        assert ours[f"bleu{n}"] == pytest.approx(theirs, rel=1e-12, abs=1e-15)
        assert 0 < ours[f"bleu{n}"] < 1


def test_sentence_bleu1_and_the_cs231n_metric_equal_nltk():
    references, hypotheses = random_corpus(7, n=20)
    expected = [
        bleu_score.sentence_bleu(refs, hyp, weights=(1,))
        for refs, hyp in zip(references, hypotheses, strict=True)
    ]
    for refs, hyp, value in zip(references, hypotheses, expected, strict=True):
        assert bleu.sentence_bleu1(refs, hyp) == pytest.approx(value, rel=1e-12)
    texts = [[" ".join(r) + " <END>" for r in refs] for refs in references]
    hyps = ["<START> " + " ".join(h) + " <UNK> <END>" for h in hypotheses]
    assert bleu.cs231n_bleu1(texts, hyps) == pytest.approx(np.mean(expected), rel=1e-12)


def test_a_caption_shorter_than_n_adds_no_n_grams_unlike_nltk():
    references = [["a red disk and a blue star".split()]] * 2
    hypotheses = [["a", "red", "disk"], "a red disk and a blue star".split()]
    # 4-grams: 0 of 0 from the short caption, 4 of 4 from the long one
    ours = bleu.corpus_bleu(references, hypotheses)
    penalty = math.exp(1 - 14 / 10)
    assert ours["bleu4"] == pytest.approx(penalty * 1.0)
    nltk_value = bleu_score.corpus_bleu(references, hypotheses)
    assert nltk_value == pytest.approx(penalty * (4 / 5) ** 0.25)  # NLTK: 4 of 5


def test_a_worked_example():
    # hypothesis: "a red disk and a red star" (7 words); references of 6 and 9 words
    hypothesis = "a red disk and a red star".split()
    references = [
        "a red disk and a blue star".split()[:6],
        "the disk is red and the star is blue".split(),
    ]
    # unigrams: a 2 (refs allow 2), red 2 (allow 1), disk, and, star 1 each -> 6/7
    # bigrams: "a red" 2 (allow 1), "red disk", "disk and", "and a" -> 4/6
    # trigrams: "a red disk", "red disk and", "disk and a" -> 3/5; 4-grams: 2/4
    # closest reference length to 7 is 6 -> no brevity penalty
    scores = bleu.corpus_bleu([references], [hypothesis])
    assert scores["bleu1"] == pytest.approx(6 / 7)
    assert scores["bleu2"] == pytest.approx(math.sqrt(6 / 7 * 4 / 6))
    assert scores["bleu4"] == pytest.approx((6 / 7 * 4 / 6 * 3 / 5 * 2 / 4) ** 0.25)


def test_short_captions_pay_the_brevity_penalty_and_empty_ones_score_zero():
    references = [["a red disk and a blue star".split()]]
    short = bleu.corpus_bleu(references, [["a", "red", "disk"]])
    assert short["bleu1"] == pytest.approx(math.exp(1 - 7 / 3))
    assert bleu.corpus_bleu(references, [[]])["bleu1"] == 0.0
    assert bleu.corpus_bleu(references, [["star", "red"]])["bleu2"] == 0.0  # no shared bigram


def test_mismatched_lists_are_refused():
    with pytest.raises(ValueError, match="2 captions but 1 lists of references"):
        bleu.corpus_bleu([[["a"]]], [["a"], ["b"]])
    with pytest.raises(ValueError, match="at least one reference"):
        bleu.corpus_bleu([[]], [["a"]])
