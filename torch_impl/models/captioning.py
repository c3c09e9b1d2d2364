r"""Image captioning with a vanilla RNN, an LSTM or an attention LSTM, in PyTorch.

The twin of ``reference_numpy.models.CaptioningRNN``: the same parameters under the same names
and shapes, held here as ``nn.Parameter`` attributes (``model.W_embed``, ``model.Wx``, ...),
the same loss and the same greedy sampling, with gradients from autograd. The model runs on
whatever device its parameters are on (``model.to("cuda")``).

Exchanging parameters with the NumPy model::

    torch_model = CaptioningRNN.from_numpy(numpy_model)          # NumPy -> torch (copies)
    numpy_model.set_params(torch_model.numpy_params())           # torch -> NumPy (copies)

With the same parameters both give the same loss, the same gradients and the same captions.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from torch import nn

from torch_impl.attention import attention_lstm, attention_lstm_step, dot_product_attention
from torch_impl.lstm import lstm, lstm_step
from torch_impl.rnn import (
    rnn,
    rnn_step,
    temporal_affine,
    temporal_softmax_loss,
    word_embedding,
)
from torch_impl.validation import (
    check_choice,
    check_indices,
    check_ndim,
    check_shape,
    check_tensor,
    format_shape,
)

CELL_TYPES = ("rnn", "lstm", "attention")
GATES = {"rnn": 1, "lstm": 4, "attention": 4}
NUMPY_TO_TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


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
    r"""The classic initial parameters, in float64, drawn exactly as the NumPy model draws
    them: standard normal entries divided by :math:`\sqrt{\text{fan-in}}` (the word vectors
    by 100), zero biases, from ``numpy.random.default_rng(seed)`` in the order ``W_embed``,
    ``W_proj``, ``Wx``, ``Wh``, (``Wattn``,) ``W_vocab``.

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


class CaptioningRNN(nn.Module):
    r"""The captioning model in PyTorch, parameter for parameter the NumPy model.

    The parameters are ``nn.Parameter`` attributes named and shaped as in
    ``reference_numpy.models.CaptioningRNN``: ``W_embed (V, W)``, ``W_proj (D, H)``,
    ``b_proj (H,)``, ``Wx (W, kH)``, ``Wh (H, kH)``, ``b (kH,)``, ``Wattn (H, kH)``
    (``'attention'`` only), ``W_vocab (H, V)``, ``b_vocab (V,)``; ``k = 1`` for ``'rnn'``
    and 4 otherwise. ``named_parameters()`` lists them in that order.

    Args:
        word_to_idx: Vocabulary ``{word: id}`` with distinct ids, ``V = len(word_to_idx)``;
            the loss needs ``<NULL>``, :meth:`sample` also ``<START>`` and ``<END>``.
        input_dim: ``D``.
        wordvec_dim: ``W``.
        hidden_dim: ``H``.
        cell_type: ``'rnn'``, ``'lstm'`` or ``'attention'``.
        dtype: Parameter dtype.
        device: Parameter device.
        seed: Seed of the initial parameters; the same seed gives the same parameters as the
            NumPy model. ``None`` draws fresh ones.

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
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        func = "CaptioningRNN"
        check_vocabulary(func, word_to_idx)
        check_choice(func, "cell_type", cell_type, CELL_TYPES)
        self.input_dim = check_dimension(func, "input_dim", input_dim)
        self.wordvec_dim = check_dimension(func, "wordvec_dim", wordvec_dim)
        self.hidden_dim = check_dimension(func, "hidden_dim", hidden_dim)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise ValueError(f"{func}: dtype must be a floating-point torch.dtype, got {dtype!r}")
        self.cell_type = cell_type
        self.word_to_idx = dict(word_to_idx)
        self.idx_to_word = {i: w for w, i in self.word_to_idx.items()}
        self._null = self.word_to_idx["<NULL>"]
        params = initial_params(
            len(word_to_idx), input_dim, wordvec_dim, hidden_dim, cell_type, seed
        )
        for name, value in params.items():
            setattr(self, name, nn.Parameter(torch.tensor(value, dtype=dtype, device=device)))
        self.param_names = tuple(params)

    @property
    def vocab_size(self) -> int:
        """``V``, the number of words."""
        return len(self.word_to_idx)

    # ----------------------------------------------------------------------------------------
    # Exchanging parameters with the NumPy model
    # ----------------------------------------------------------------------------------------

    def numpy_params(self) -> dict[str, np.ndarray]:
        """Copies of the parameters as NumPy arrays (on the CPU, in the parameters' dtype),
        keyed by name: what ``reference_numpy.models.CaptioningRNN.set_params`` takes."""
        return {
            name: getattr(self, name).detach().cpu().numpy().copy() for name in self.param_names
        }

    def load_numpy_params(self, params: dict[str, np.ndarray]) -> None:
        """Copy NumPy arrays into the parameters, keeping each parameter's dtype and device.

        Raises:
            ValueError: unless ``params`` holds exactly this model's names with its shapes.
        """
        func = "CaptioningRNN.load_numpy_params"
        if not isinstance(params, dict) or set(params) != set(self.param_names):
            got = sorted(params) if isinstance(params, dict) else type(params).__name__
            raise ValueError(
                f"{func}: params must have the keys {sorted(self.param_names)}, got {got}"
            )
        with torch.no_grad():
            for name in self.param_names:
                target = getattr(self, name)
                value = params[name]
                if not isinstance(value, np.ndarray) or value.shape != tuple(target.shape):
                    got = format_shape(np.shape(value))
                    raise ValueError(
                        f"{func}: params[{name!r}] has shape {got}, "
                        f"expected {format_shape(target.shape)} like the model's {name}"
                    )
                target.copy_(torch.from_numpy(np.array(value, copy=True)))

    @classmethod
    def from_numpy(
        cls,
        source,
        *,
        word_to_idx: dict[str, int] | None = None,
        cell_type: str | None = None,
        device: torch.device | str | None = None,
    ) -> CaptioningRNN:
        """A torch model holding copies of a NumPy model's parameters.

        Args:
            source: A ``reference_numpy.models.CaptioningRNN`` (anything with ``params``,
                ``word_to_idx`` and ``cell_type``), or a dict of parameters by name.
            word_to_idx: The vocabulary; required when ``source`` is a dict.
            cell_type: ``'rnn'``, ``'lstm'`` or ``'attention'``; required when ``source`` is a
                dict.
            device: Where to put the parameters (default: the CPU).

        Returns:
            The model; its dimensions are read from the parameters' shapes and its dtype from
            theirs (float32 or float64).
        """
        func = "CaptioningRNN.from_numpy"
        if isinstance(source, dict):
            params = source
            if word_to_idx is None or cell_type is None:
                raise ValueError(
                    f"{func}: a dict of parameters needs word_to_idx and cell_type as well"
                )
        else:
            params = source.params
            word_to_idx = source.word_to_idx if word_to_idx is None else word_to_idx
            cell_type = source.cell_type if cell_type is None else cell_type
        for name in ("W_embed", "W_proj"):
            if name not in params:
                raise ValueError(f"{func}: params lacks {name}")
        dtype = np.dtype(params["W_embed"].dtype)
        if dtype not in NUMPY_TO_TORCH_DTYPE:
            raise ValueError(f"{func}: parameters must be float32 or float64, got {dtype}")
        input_dim, hidden_dim = params["W_proj"].shape
        model = cls(
            word_to_idx,
            input_dim=input_dim,
            wordvec_dim=params["W_embed"].shape[1],
            hidden_dim=hidden_dim,
            cell_type=cell_type,
            dtype=NUMPY_TO_TORCH_DTYPE[dtype],
            device=device,
            seed=0,
        )
        model.load_numpy_params(params)
        return model

    # ----------------------------------------------------------------------------------------
    # Input checks
    # ----------------------------------------------------------------------------------------

    def _features(self, func: str, features: torch.Tensor) -> torch.Tensor:
        check_tensor(func, "features", features)
        if features.device != self.W_proj.device:
            raise ValueError(
                f"{func}: features is on {features.device} but the model's parameters are on "
                f"{self.W_proj.device}; move one of them (model.to(device) or features.to(...))"
            )
        d = self.input_dim
        if self.cell_type == "attention":
            if features.dim() != 4 or features.shape[1] != d or 0 in features.shape[2:]:
                raise ValueError(
                    f"{func}: features has shape {format_shape(features.shape)}, expected "
                    f"(N, D, 4, 4) with D = input_dim = {d}: a spatial feature map for "
                    "cell_type 'attention'"
                )
        elif features.dim() != 2 or features.shape[1] != d:
            raise ValueError(
                f"{func}: features has shape {format_shape(features.shape)}, expected (N, {d}): "
                f"pooled features of D = input_dim = {d} numbers per image for cell_type "
                f"{self.cell_type!r}"
            )
        return features.to(self.W_proj.dtype)

    def _captions(self, func: str, captions: torch.Tensor, n: int) -> None:
        check_ndim(func, "captions", captions, 2, "(N, T + 1): word ids, <START> first")
        if captions.device != self.W_embed.device:
            raise ValueError(
                f"{func}: captions is on {captions.device} but the model's parameters are on "
                f"{self.W_embed.device}"
            )
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
    # Loss
    # ----------------------------------------------------------------------------------------

    def _project_grid(self, features: torch.Tensor) -> torch.Tensor:
        """Project every cell of ``(N, D, P, Q)`` features to ``H`` channels: ``A (N, H, P, Q)``."""
        n, d, p, q = features.shape
        cells = features.reshape(n, d, p * q).transpose(1, 2)  # (N, L, D)
        projected = temporal_affine(cells, self.W_proj, self.b_proj)  # (N, L, H)
        return projected.transpose(1, 2).reshape(n, -1, p, q)

    def loss(self, features: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
        r"""The captioning loss: masked softmax loss of the next-word scores, summed over the
        words of each caption and averaged over the batch; ``loss.backward()`` fills every
        parameter's ``.grad``.

        Args:
            features: ``(N, D)`` for ``'rnn'`` and ``'lstm'``, ``(N, D, 4, 4)`` for
                ``'attention'``, on the model's device; cast to the model's dtype.
            captions: Word ids, shape ``(N, T + 1)``, integers in ``[0, V)``.

        Returns:
            The loss, a 0-dimensional tensor.

        Raises:
            ValueError: for features of the wrong shape, or captions of the wrong shape or
                with an id outside the vocabulary.
        """
        func = "CaptioningRNN.loss"
        features = self._features(func, features)
        self._captions(func, captions, features.shape[0])
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        mask = captions_out != self._null

        x = word_embedding(captions_in, self.W_embed)
        if self.cell_type == "attention":
            A = self._project_grid(features)
            h = attention_lstm(x, A, self.Wx, self.Wh, self.Wattn, self.b)
        else:
            h0 = features @ self.W_proj + self.b_proj
            cell = rnn if self.cell_type == "rnn" else lstm
            h = cell(x, h0, self.Wx, self.Wh, self.b)
        scores = temporal_affine(h, self.W_vocab, self.b_vocab)
        return temporal_softmax_loss(scores, captions_out, mask)

    def forward(self, features: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
        """The same as :meth:`loss`."""
        return self.loss(features, captions)

    # ----------------------------------------------------------------------------------------
    # Sampling
    # ----------------------------------------------------------------------------------------

    @torch.no_grad()
    def sample(
        self, features: torch.Tensor, max_length: int = 30, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        r"""Greedy captions: feed ``<START>``, then at every step the most likely word.

        A caption ends with the first ``<END>`` it produces, which is kept; the positions
        after it hold ``<NULL>``. Sampling stops early once every caption has ended.

        Args:
            features: ``(N, D)`` or, for ``'attention'``, ``(N, D, 4, 4)``.
            max_length: Most words per caption.
            return_attention: Also return the attention weights of every step
                (``'attention'`` only).

        Returns:
            ``captions``, an int64 tensor ``(N, max_length)`` on the features' device; with
            ``return_attention``, ``(captions, weights)`` with ``weights`` of shape
            ``(N, max_length, 4, 4)`` (zero after a caption ended).

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
        n, device = features.shape[0], features.device
        captions = torch.full((n, max_length), self._null, dtype=torch.int64, device=device)
        if self.cell_type == "attention":
            A = self._project_grid(features)
            h = A.mean(dim=(2, 3))
            c = h
            weights = features.new_zeros((n, max_length, *A.shape[2:]))
        else:
            h = features @ self.W_proj + self.b_proj
            c = torch.zeros_like(h)
        words = torch.full((n,), start, dtype=torch.int64, device=device)
        ended = torch.zeros(n, dtype=torch.bool, device=device)
        for t in range(max_length):
            x = word_embedding(words, self.W_embed)
            if self.cell_type == "rnn":
                h = rnn_step(x, h, self.Wx, self.Wh, self.b)
            elif self.cell_type == "lstm":
                h, c = lstm_step(x, h, c, self.Wx, self.Wh, self.b)
            else:
                attn, step_weights = dot_product_attention(h, A)
                weights[:, t] = torch.where(ended[:, None, None], 0, step_weights)
                h, c = attention_lstm_step(x, h, c, attn, self.Wx, self.Wh, self.Wattn, self.b)
            words = (h @ self.W_vocab + self.b_vocab).argmax(dim=1)
            captions[:, t] = torch.where(ended, self._null, words)
            ended |= words == end
            if bool(ended.all()):
                break
        return (captions, weights) if return_attention else captions
