r"""Image captioning with a vanilla RNN, an LSTM or an attention LSTM, in NumPy.

The classic captioning model: image features set the recurrent network's initial state (or,
for attention, the grid it attends over), the network reads the caption one word at a time,
and at every step an affine layer scores the next word. The loss is the softmax loss of those
scores summed over the words of each caption (``<NULL>`` padding ignored) and averaged over
the batch; ``loss`` returns it with the gradient of every parameter, computed by the
hand-derived backward passes of ``reference_numpy.rnn``, ``lstm`` and ``attention``.

``torch_impl.models.CaptioningRNN`` is the PyTorch twin, with the same parameter names and
shapes; ``docs/derivations/captioning.md`` follows the data through both.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from reference_numpy.attention import (
    attention_lstm_backward,
    attention_lstm_forward,
    attention_lstm_step_forward,
    dot_product_attention_forward,
)
from reference_numpy.layers import affine_backward, affine_forward
from reference_numpy.lstm import lstm_backward, lstm_forward, lstm_step_forward
from reference_numpy.rnn import (
    rnn_backward,
    rnn_forward,
    rnn_step_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)
from reference_numpy.validation import (
    check_array,
    check_choice,
    check_indices,
    check_ndim,
    check_shape,
    format_shape,
)

CELL_TYPES = ("rnn", "lstm", "attention")
GATES = {"rnn": 1, "lstm": 4, "attention": 4}


def check_vocabulary(func: str, word_to_idx) -> None:
    """Fail unless ``word_to_idx`` maps words to distinct non-negative integer ids and holds
    ``<NULL>``, the padding the loss ignores. ``<START>`` and ``<END>`` are needed only to
    sample (:func:`sampling_tokens`). As in the classic class the vocabulary size is
    ``V = len(word_to_idx)``: the model embeds and scores the ids ``0 .. V-1``."""
    if not isinstance(word_to_idx, dict):
        raise ValueError(
            f"{func}: word_to_idx must be a dict from words to ids, "
            f"got {type(word_to_idx).__name__}"
        )
    if "<NULL>" not in word_to_idx:
        raise ValueError(
            f"{func}: word_to_idx lacks <NULL>; a captioning vocabulary needs the padding "
            "word that the loss ignores"
        )
    ids = list(word_to_idx.values())
    if not all(isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in ids):
        raise ValueError(f"{func}: word_to_idx must map every word to an integer id")
    if min(ids) < 0 or len(set(ids)) != len(ids):
        raise ValueError(
            f"{func}: word_to_idx must give its {len(ids)} words distinct non-negative ids, "
            f"got {sorted(ids)}"
        )


def sampling_tokens(func: str, word_to_idx: dict, vocab_size: int) -> tuple[int, int]:
    """The ids of ``<START>`` and ``<END>``, which sampling feeds first and stops at.

    Raises:
        ValueError: when either is missing from ``word_to_idx`` or has an id the model cannot
            embed (``>= V``).
    """
    missing = [token for token in ("<START>", "<END>") if token not in word_to_idx]
    if missing:
        raise ValueError(
            f"{func}: word_to_idx lacks {', '.join(missing)}; sampling feeds <START> first "
            "and stops at <END>, so the vocabulary needs both (the loss does not)"
        )
    for token in ("<START>", "<END>"):
        if word_to_idx[token] >= vocab_size:
            raise ValueError(
                f"{func}: {token} has id {word_to_idx[token]}, outside the ids 0 .. "
                f"{vocab_size - 1} of the V = {vocab_size} words the model embeds"
            )
    return word_to_idx["<START>"], word_to_idx["<END>"]


def check_dimension(func: str, name: str, value) -> int:
    """Fail unless ``value`` is a positive integer; return it as an int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{func}: {name} must be a positive integer, got {value!r}")
    return int(value)


def initial_params(
    vocab_size: int,
    input_dim: int,
    wordvec_dim: int,
    hidden_dim: int,
    cell_type: str,
    seed: int | None = None,
) -> dict[str, np.ndarray]:
    r"""The classic initial parameters of a captioning model, in float64.

    Weights are standard normal entries divided by :math:`\sqrt{\text{fan-in}}`, the word
    vectors by 100, and every bias is zero. They are drawn from
    ``numpy.random.default_rng(seed)`` in the order ``W_embed``, ``W_proj``, ``Wx``, ``Wh``,
    (``Wattn``,) ``W_vocab``, so one seed gives one model in both backends.

    Args:
        vocab_size: ``V``.
        input_dim: ``D``, numbers per image (per grid cell for attention).
        wordvec_dim: ``W``.
        hidden_dim: ``H``.
        cell_type: ``'rnn'``, ``'lstm'`` or ``'attention'``.
        seed: Seed; ``None`` draws fresh entropy.

    Returns:
        ``{name: array}`` with the names and shapes of :class:`CaptioningRNN`.
    """
    rng = np.random.default_rng(seed)
    v, d, w, h = vocab_size, input_dim, wordvec_dim, hidden_dim
    kh = GATES[cell_type] * h
    params = {
        "W_embed": rng.standard_normal((v, w)) / 100,
        "W_proj": rng.standard_normal((d, h)) / math.sqrt(d),
        "b_proj": np.zeros(h),
        "Wx": rng.standard_normal((w, kh)) / math.sqrt(w),
        "Wh": rng.standard_normal((h, kh)) / math.sqrt(h),
        "b": np.zeros(kh),
    }
    if cell_type == "attention":
        params["Wattn"] = rng.standard_normal((h, kh)) / math.sqrt(h)
    params["W_vocab"] = rng.standard_normal((h, v)) / math.sqrt(h)
    params["b_vocab"] = np.zeros(v)
    return params


class CaptioningRNN:
    r"""A captioning model: image features in, a caption's word scores out.

    With ``V`` words, image features of ``D`` numbers, word vectors of ``W`` numbers and a
    hidden state of ``H`` numbers (``k = 1`` for ``'rnn'``, 4 gates otherwise), ``params``
    holds

    ========== ========== ===============================================================
    name       shape      role
    ========== ========== ===============================================================
    W_embed    (V, W)     word vectors
    W_proj     (D, H)     image features to the initial hidden state (or to the grid A)
    b_proj     (H,)
    Wx         (W, kH)    word vector to the recurrent activations
    Wh         (H, kH)    hidden state to the recurrent activations
    b          (kH,)
    Wattn      (H, kH)    attention output to the activations (``'attention'`` only)
    W_vocab    (H, V)     hidden state to word scores
    b_vocab    (V,)
    ========== ========== ===============================================================

    For ``'rnn'`` and ``'lstm'`` the features are pooled, ``(N, D)``, and
    :math:`h_0 = f W_{proj} + b_{proj}` (the LSTM starts from :math:`c_0 = 0`). For
    ``'attention'`` they are a spatial map ``(N, D, 4, 4)``; every cell is projected to
    ``H`` channels, giving the grid ``A (N, H, 4, 4)`` that the attention LSTM attends over.

    Args:
        word_to_idx: Vocabulary ``{word: id}`` with distinct ids, classically ``0 .. V-1``
            with ``<NULL>``, ``<START>``, ``<END>`` as 0, 1 and 2. ``V = len(word_to_idx)``
            as in the classic class. The loss needs only ``<NULL>``; :meth:`sample` also
            needs ``<START>`` and ``<END>``.
        input_dim: ``D``.
        wordvec_dim: ``W``.
        hidden_dim: ``H``.
        cell_type: ``'rnn'``, ``'lstm'`` or ``'attention'``.
        dtype: Floating-point type of the parameters and of every computation.
        seed: Seed of the initial parameters (:func:`initial_params`); ``None`` draws fresh
            ones.

    Raises:
        ValueError: for a vocabulary without ``<NULL>`` or with repeated or negative ids, an
            unknown cell type, or a dimension that is not a positive integer.
    """

    def __init__(
        self,
        word_to_idx: dict[str, int],
        input_dim: int = 512,
        wordvec_dim: int = 128,
        hidden_dim: int = 128,
        cell_type: str = "rnn",
        dtype=np.float32,
        seed: int | None = None,
    ) -> None:
        func = "CaptioningRNN"
        check_vocabulary(func, word_to_idx)
        check_choice(func, "cell_type", cell_type, CELL_TYPES)
        self.input_dim = check_dimension(func, "input_dim", input_dim)
        self.wordvec_dim = check_dimension(func, "wordvec_dim", wordvec_dim)
        self.hidden_dim = check_dimension(func, "hidden_dim", hidden_dim)
        self.dtype = np.dtype(dtype)
        if not np.issubdtype(self.dtype, np.floating):
            raise ValueError(f"{func}: dtype must be a floating-point type, got {self.dtype}")
        self.cell_type = cell_type
        self.word_to_idx = dict(word_to_idx)
        self.idx_to_word = {i: w for w, i in self.word_to_idx.items()}
        self._null = self.word_to_idx["<NULL>"]
        params = initial_params(
            len(word_to_idx), input_dim, wordvec_dim, hidden_dim, cell_type, seed
        )
        self.params = {name: value.astype(self.dtype) for name, value in params.items()}

    @property
    def vocab_size(self) -> int:
        """``V``, the number of words."""
        return len(self.word_to_idx)

    # ----------------------------------------------------------------------------------------
    # Exchanging parameters
    # ----------------------------------------------------------------------------------------

    def set_params(self, params: dict[str, np.ndarray]) -> None:
        """Replace every parameter by a copy of ``params[name]`` in the model's dtype, for
        example ``torch_model.numpy_params()``.

        Raises:
            ValueError: unless ``params`` holds exactly this model's names with its shapes.
        """
        func = "CaptioningRNN.set_params"
        if not isinstance(params, dict) or set(params) != set(self.params):
            got = sorted(params) if isinstance(params, dict) else type(params).__name__
            raise ValueError(f"{func}: params must have the keys {sorted(self.params)}, got {got}")
        for name, value in params.items():
            check_shape(
                func,
                f"params[{name!r}]",
                value,
                self.params[name].shape,
                f"like the model's {name}",
            )
        self.params = {name: np.array(params[name], dtype=self.dtype) for name in self.params}

    @classmethod
    def from_params(
        cls, word_to_idx: dict[str, int], params: dict[str, np.ndarray], cell_type: str
    ) -> CaptioningRNN:
        """A model holding copies of ``params``; its dimensions and dtype are read from them.

        Args:
            word_to_idx: The vocabulary, ``V`` words.
            params: The parameters by name, e.g. ``torch_model.numpy_params()``.
            cell_type: ``'rnn'``, ``'lstm'`` or ``'attention'``.
        """
        func = "CaptioningRNN.from_params"
        for name in ("W_embed", "W_proj"):
            if not isinstance(params, dict) or name not in params:
                raise ValueError(f"{func}: params lacks {name}")
            check_ndim(func, f"params[{name!r}]", params[name], 2, "(rows, columns)")
        input_dim, hidden_dim = params["W_proj"].shape
        model = cls(
            word_to_idx,
            input_dim=input_dim,
            wordvec_dim=params["W_embed"].shape[1],
            hidden_dim=hidden_dim,
            cell_type=cell_type,
            dtype=params["W_embed"].dtype,
            seed=0,
        )
        model.set_params(params)
        return model

    # ----------------------------------------------------------------------------------------
    # Input checks
    # ----------------------------------------------------------------------------------------

    def _features(self, func: str, features: np.ndarray) -> np.ndarray:
        check_array(func, "features", features)
        d = self.input_dim
        if self.cell_type == "attention":
            meaning = f"(N, D, 4, 4) with D = input_dim = {d}: a spatial feature map"
            if features.ndim != 4 or features.shape[1] != d or 0 in features.shape[2:]:
                raise ValueError(
                    f"{func}: features has shape {format_shape(features.shape)}, expected "
                    f"{meaning} for cell_type 'attention'"
                )
        elif features.ndim != 2 or features.shape[1] != d:
            raise ValueError(
                f"{func}: features has shape {format_shape(features.shape)}, expected (N, {d}): "
                f"pooled features of D = input_dim = {d} numbers per image for cell_type "
                f"{self.cell_type!r}"
            )
        return features.astype(self.dtype, copy=False)

    def _captions(self, func: str, captions: np.ndarray, n: int) -> None:
        check_ndim(func, "captions", captions, 2, "(N, T + 1): word ids, <START> first")
        check_shape(
            func, "captions", captions, (n, captions.shape[1]), f"(N, T + 1) with N = {n} images"
        )
        if captions.shape[1] < 2:
            raise ValueError(
                f"{func}: captions has shape {format_shape(captions.shape)}, expected at least "
                "2 columns: the words fed in are captions[:, :-1], the targets captions[:, 1:]"
            )
        check_indices(func, "captions", captions, self.vocab_size, "the vocabulary (word_to_idx)")

    # ----------------------------------------------------------------------------------------
    # Loss and gradients
    # ----------------------------------------------------------------------------------------

    def _project_grid(self, features: np.ndarray):
        """Project every cell of ``(N, D, P, Q)`` features to ``H`` channels: ``A (N, H, P, Q)``."""
        n, d, p, q = features.shape
        cells = features.reshape(n, d, p * q).transpose(0, 2, 1)  # (N, L, D)
        projected, cache = temporal_affine_forward(
            cells, self.params["W_proj"], self.params["b_proj"]
        )
        return projected.transpose(0, 2, 1).reshape(n, -1, p, q), cache

    def loss(
        self, features: np.ndarray, captions: np.ndarray
    ) -> tuple[np.floating, dict[str, np.ndarray]]:
        r"""The captioning loss and the gradient of every parameter.

        The words fed in are ``captions[:, :-1]`` and the targets ``captions[:, 1:]``;
        target steps holding ``<NULL>`` are masked out of the loss.

        Args:
            features: Image features, ``(N, D)`` for ``'rnn'`` and ``'lstm'``,
                ``(N, D, 4, 4)`` for ``'attention'``; cast to the model's dtype.
            captions: Word ids, shape ``(N, T + 1)``, integers in ``[0, V)``.

        Returns:
            ``(loss, grads)``: the loss (a NumPy scalar) and ``{name: gradient}`` with the
            names and shapes of ``params``.

        Raises:
            ValueError: for features of the wrong shape, or captions of the wrong shape or
                with an id outside the vocabulary.
        """
        func = "CaptioningRNN.loss"
        features = self._features(func, features)
        self._captions(func, captions, features.shape[0])
        p = self.params
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        mask = captions_out != self._null

        x, embed_cache = word_embedding_forward(captions_in, p["W_embed"])
        if self.cell_type == "attention":
            A, proj_cache = self._project_grid(features)
            h, cell_cache = attention_lstm_forward(x, A, p["Wx"], p["Wh"], p["Wattn"], p["b"])
        else:
            h0, proj_cache = affine_forward(features, p["W_proj"], p["b_proj"])
            forward = rnn_forward if self.cell_type == "rnn" else lstm_forward
            h, cell_cache = forward(x, h0, p["Wx"], p["Wh"], p["b"])
        scores, vocab_cache = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
        loss, dscores = temporal_softmax_loss(scores, captions_out, mask)

        grads = {}
        dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, vocab_cache)
        if self.cell_type == "attention":
            dx, dA, grads["Wx"], grads["Wh"], grads["Wattn"], grads["b"] = attention_lstm_backward(
                dh, cell_cache
            )
            n, hidden = dA.shape[:2]
            dprojected = dA.reshape(n, hidden, -1).transpose(0, 2, 1)
            _, grads["W_proj"], grads["b_proj"] = temporal_affine_backward(dprojected, proj_cache)
        else:
            backward = rnn_backward if self.cell_type == "rnn" else lstm_backward
            dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = backward(dh, cell_cache)
            _, grads["W_proj"], grads["b_proj"] = affine_backward(dh0, proj_cache)
        grads["W_embed"] = word_embedding_backward(dx, embed_cache)
        return loss, {name: grads[name] for name in p}

    # ----------------------------------------------------------------------------------------
    # Sampling
    # ----------------------------------------------------------------------------------------

    def sample(
        self, features: np.ndarray, max_length: int = 30, return_attention: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        r"""Greedy captions: feed ``<START>``, then at every step the most likely word.

        A caption ends with the first ``<END>`` it produces, which is kept; the positions
        after it hold ``<NULL>``. Sampling stops early once every caption has ended.

        Args:
            features: Image features, ``(N, D)`` or, for ``'attention'``, ``(N, D, 4, 4)``.
            max_length: Most words per caption.
            return_attention: Also return the attention weights of every step
                (``'attention'`` only).

        Returns:
            ``captions``, word ids of shape ``(N, max_length)``; with ``return_attention``,
            ``(captions, weights)`` where ``weights`` of shape ``(N, max_length, 4, 4)``
            holds each step's attention weights (zero after a caption ended).

        Raises:
            ValueError: when ``word_to_idx`` lacks ``<START>`` or ``<END>`` (or gives one an
                id ``>= V``), or for features of the wrong shape.
        """
        func = "CaptioningRNN.sample"
        start, end = sampling_tokens(func, self.word_to_idx, self.vocab_size)
        features = self._features(func, features)
        max_length = check_dimension(func, "max_length", max_length)
        if return_attention and self.cell_type != "attention":
            raise ValueError(f"{func}: return_attention needs cell_type 'attention'")
        p = self.params
        n = features.shape[0]
        captions = np.full((n, max_length), self._null, dtype=np.int64)
        if self.cell_type == "attention":
            A, _ = self._project_grid(features)
            h = A.mean(axis=(2, 3))
            c = h
            weights = np.zeros((n, max_length, *A.shape[2:]), dtype=self.dtype)
        else:
            h, _ = affine_forward(features, p["W_proj"], p["b_proj"])
            c = np.zeros_like(h)
        words = np.full(n, start, dtype=np.int64)
        ended = np.zeros(n, dtype=bool)
        for t in range(max_length):
            x, _ = word_embedding_forward(words, p["W_embed"])
            if self.cell_type == "rnn":
                h, _ = rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"])
            elif self.cell_type == "lstm":
                h, c, _ = lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
            else:
                attn, step_weights, _ = dot_product_attention_forward(h, A)
                weights[~ended, t] = step_weights[~ended]
                h, c, _ = attention_lstm_step_forward(
                    x, h, c, attn, p["Wx"], p["Wh"], p["Wattn"], p["b"]
                )
            scores, _ = affine_forward(h, p["W_vocab"], p["b_vocab"])
            words = scores.argmax(axis=1)
            captions[~ended, t] = words[~ended]
            ended |= words == end
            if ended.all():
                break
        return (captions, weights) if return_attention else captions
