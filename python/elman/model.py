"""elman.RNN: the Python face of the native model.

Arguments go to the native module as they are: it checks their types, dtypes and shapes (in the
caller's layout: batch-first or one sequence) and the core checks values and ranges, so every call
takes one path and every check has one home.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import _core, _mpi, diagnostics, files, pytorch
from . import _validate as check
from .params import ParamDict

_MODELS: dict[np.dtype, Any] = {np.dtype(np.float32): _core.ModelF32, np.dtype(np.float64): _core.ModelF64}


def model_dtype(value: Any, name: str = "dtype") -> np.dtype:
    """A dtype a model can have (float32 or float64), from anything np.dtype reads."""
    expected = "expected 'float32' or 'float64'"
    try:
        if value is None:  # np.dtype(None) is float64: not a choice to make silently
            raise TypeError
        dtype = np.dtype(value)
    except TypeError:
        raise TypeError(f"{name} is {value!r}; {expected}") from None
    if dtype not in _MODELS:
        raise ValueError(f"{name} is {dtype}; {expected}")
    return dtype


class RNN:
    """An Elman network: h_t = f(W_xh x_t + W_hh h_(t-1) + b_h) per layer, y_t = W_hy h_t + b_y.

    Args:
        input_size: I, features per step (or the number of token classes for integer input).
        hidden_size: H, units per layer and direction.
        output_size: O, outputs per step of the linear head.
        num_layers: L, stacked layers.
        nonlinearity: f, "tanh" or "relu".
        bidirectional: each layer also runs backwards in time (D = 2), its outputs side by side.
        dropout: probability of zeroing a stacked layer's input, in training calls only.
        batch_first: x, target and y are (B, T, ...) instead of (T, B, ...).
        dtype: "float32" or "float64", of the parameters and every computation.
        init: "uniform" (PyTorch's U(-1/sqrt(H), 1/sqrt(H))), "normal" (min-char-rnn's N(0, 0.01^2)
            weights and zero biases) or "orthogonal" (orthogonal W_hh, uniform elsewhere).
        seed: the same seed gives the same weights and dropout masks; None draws one.

    Bad arguments raise TypeError or ValueError naming the argument, what it got and what was expected.
    """

    input_size: int
    hidden_size: int
    output_size: int
    num_layers: int
    nonlinearity: str
    bidirectional: bool
    dropout: float
    batch_first: bool
    dtype: np.dtype
    init: str
    seed: int

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        *,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bidirectional: bool = False,
        dropout: float = 0.0,
        batch_first: bool = False,
        dtype: Any = "float32",
        init: str = "uniform",
        seed: int | None = None,
    ) -> None:
        self.dtype = model_dtype(dtype)
        self._core = _MODELS[self.dtype](
            input_size=input_size,
            hidden_size=hidden_size,
            output_size=output_size,
            num_layers=num_layers,
            nonlinearity=nonlinearity,
            bidirectional=bidirectional,
            dropout=dropout,
            batch_first=batch_first,
            init=init,
            seed=secrets.randbits(63) if seed is None else seed,
        )
        self.__dict__.update(self._core.config)  # the checked values, as the core holds them
        tensors = self._core.tensors
        self._params = ParamDict(self._core.params, tensors)
        self._grads = ParamDict(self._core.grads, tensors)
        self.metadata: dict[str, str] = {}
        """The user's metadata of the file this model was loaded from (elman.load)."""

    @property
    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild this model with its initial weights, as JSON values: RNN(**config)."""
        keys = (
            "input_size",
            "hidden_size",
            "output_size",
            "num_layers",
            "nonlinearity",
            "bidirectional",
            "dropout",
            "batch_first",
            "dtype",
            "init",
            "seed",
        )
        return {k: self.dtype.name if k == "dtype" else getattr(self, k) for k in keys}

    @property
    def directions(self) -> int:
        """D: 2 if bidirectional, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def num_params(self) -> int:
        """The number of parameters, the length of params.flat."""
        return self._params.flat.size

    @property
    def params(self) -> ParamDict:
        """Each parameter's name mapped to a live view of the one flat buffer: writing changes the model."""
        return self._params

    @property
    def grads(self) -> ParamDict:
        """The gradients of the last loss_and_grad or train_step, named and laid out like params."""
        return self._grads

    def get_rng_state(self) -> list[int]:
        """The dropout generator's state (four 64-bit words), for checkpoints."""
        return list(self._core.dropout_rng_state)

    def set_rng_state(self, state: list[int]) -> None:
        """Restores a state from get_rng_state: the next dropout masks repeat from there."""
        self._core.dropout_rng_state = state

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"elman.RNN({args})"

    def forward(self, x: Any, h0: Any = None, lengths: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Runs every layer and the head over x; no dropout.

        x: (T, B, I) reals, (B, T, I) when batch_first, or (T, I) for one sequence; integers (T, B)
        (or (T,)) are one-hot tokens. h0: (L*D, B, H) (or (L*D, H)), None for zeros. lengths: (B,)
        integers in [0, T]; steps past a sequence's length keep its state and give y = 0.
        Returns y (T, B, O) in x's layout and h_n (L*D, B, H), the state after each sequence's last step.
        """
        return self._core.forward(x, h0, lengths)

    __call__ = forward

    def loss_and_grad(
        self,
        x: Any,
        target: Any,
        *,
        loss: str = "mse",
        reduction: str = "mean",
        h0: Any = None,
        lengths: Any = None,
        comm: Any = None,
    ) -> tuple[float, ParamDict, np.ndarray]:
        """The loss, its gradients (m.grads, overwritten by the next call) and h_n; h0 is a constant.

        loss "mse": target shaped like y. loss "cross_entropy": target integer classes (T, B) in
        [0, O), or elman's ignore index (-100) to skip a position. loss "gaussian_nll": target (T, B, O/2);
        y holds the means (y[..., :O/2]) and log-variances (y[..., O/2:]) of a Gaussian per target
        (torch.nn.GaussianNLLLoss with var = exp(log-variance), full=False). reduction "mean" averages
        over the valid positions, "sum" sums.

        comm: an mpi4py communicator, x and target this process's shard of a batch: the loss and
        gradients are then those of the whole batch (every shard, "mean" over all their valid
        positions), the same on every process; h_n is this shard's.
        """
        if comm is None:
            value, _, h_n = self._core.loss_and_grad(x, target, loss, reduction, h0, lengths)
        else:
            h_n = self._gradient_phase(x, target, loss, h0, lengths, comm)
            value, _ = self._core.reduce_phase(reduction)
        return value, self._grads, h_n

    def _gradient_phase(self, x: Any, target: Any, loss: str, h0: Any, lengths: Any, comm: Any) -> np.ndarray:
        """The first half of a data-parallel step: this shard's summed gradients, loss sum and count,
        then their sums over `comm`'s processes in one in-place all-reduce; returns h_n."""
        comm = _mpi.communicator(comm)
        _, _, h_n = self._core.gradient_phase(x, target, loss, h0, lengths)
        _mpi.sum_in_place(comm, self._core.reduction_buffer)
        return h_n

    def gradient_flow(
        self,
        x: Any,
        target: Any,
        *,
        loss: str = "mse",
        reduction: str = "mean",
        h0: Any = None,
        lengths: Any = None,
        comm: Any = None,
    ) -> diagnostics.GradientFlow:
        """||dL/dh_t|| for every step and layer, and the spectral radius of each W_hh.

        Runs loss_and_grad, so m.grads afterwards hold this batch's gradients; the dropout masks
        training draws next are unchanged. With comm (x and target this process's shard), the norms
        and loss are the whole batch's, and m.grads this shard's summed loss's gradients.
        """
        rng = self.get_rng_state()
        if comm is None:
            value, _, _, norms = self._core.loss_and_grad(x, target, loss, reduction, h0, lengths, True)
        else:
            comm = _mpi.communicator(comm)
            total, count, _, norms = self._core.loss_and_grad(x, target, loss, "sum", h0, lengths, True)
            sums = np.concatenate([np.square(norms, dtype=np.float64).ravel(), [total, count]])
            _mpi.sum_in_place(comm, sums)
            total, count = sums[-2], sums[-1]
            scale = 1.0 if reduction == "sum" or count == 0 else 1.0 / count
            value, norms = total * scale, np.sqrt(sums[:-2]).reshape(norms.shape) * scale
        self.set_rng_state(rng)
        return diagnostics.gradient_flow(self.params, value, norms)

    def loss(
        self, x: Any, target: Any, *, loss: str = "mse", reduction: str = "mean", h0: Any = None, lengths: Any = None
    ) -> tuple[float, np.ndarray]:
        """The loss of a forward pass (no dropout, no gradients) and h_n: for validation."""
        value, _, h_n = self._core.loss(x, target, loss, reduction, h0, lengths)
        return value, h_n

    def loss_sum(
        self, x: Any, target: Any, *, loss: str = "mse", h0: Any = None, lengths: Any = None
    ) -> tuple[float, int, np.ndarray]:
        """The summed loss of a forward pass, the number of positions a "mean" divides by (valid
        (t, b, o) for mse, valid non-ignored (t, b) for cross-entropy), and h_n: the mean over many
        batches is the sum of their totals over the sum of their counts."""
        return self._core.loss(x, target, loss, "sum", h0, lengths)

    def step(self, x_t: Any, h: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """One time step of every layer: x_t (B, I) reals or (B,) integer tokens ((I,) or one token for
        one sequence), h (L, B, H) ((L, H)) or None for zeros. Returns y_t (B, O) and the new state;
        h is not modified. Stepping through a sequence equals forward over it, up to rounding; no
        dropout. A bidirectional model cannot step (its reverse direction needs the whole sequence).

        At batch 1 each product reads the live weights in place (no packing, no allocation once warm).
        """
        return self._core.step(x_t, h)

    def generate(
        self,
        prime: Any,
        length: int,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        num_samples: int = 1,
        h0: Any = None,
        seed: int | None = None,
        return_state: bool = False,
        first_draw: int = 0,
    ) -> Any:
        """Tokens that follow prime, drawn by the native loop: int64 (num_samples, length).

        For token models (integer input, input_size == output_size). prime: integer tokens (P,),
        P >= 1. Each token is drawn from softmax(y / temperature), restricted first to the top_k
        likeliest, then to the smallest set whose probability reaches top_p, and fed back;
        temperature 0 is greedy (argmax). The same seed gives the same tokens, on any machine and
        thread count; None draws a seed. h0: (L, H) for every sample or (L, num_samples, H).

        With return_state=True, returns (tokens, h): h (L, num_samples, H) is the state that gave the
        last token's distribution, so generate(tokens[0, -1:], n, h0=h[:, 0]) continues one sample.
        Draw i of a call uses the seed's random number first_draw + i: continuing with the same seed and
        first_draw=length draws exactly what one longer call would have.
        """
        if not isinstance(return_state, bool):
            raise TypeError(f"return_state is {return_state!r}; expected True or False")
        seed = secrets.randbits(63) if seed is None else seed
        tokens, h = self._core.generate(prime, length, temperature, top_k, top_p, num_samples, h0, seed, first_draw)
        return (tokens, h) if return_state else tokens

    def beam_search(self, prime: Any, length: int, beam_width: int, *, h0: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """The likeliest continuations of prime that beam search finds: tokens int64 (n, length), best
        first, and their log-probabilities given prime, float64 (n,); n = min(beam_width, V**length).

        For token models, like generate. prime: integer tokens (P,), P >= 1; h0: (L, H) or None for
        zeros. The prime runs once; then at every step each live beam is extended by every token, scored
        by the sum of its log-softmax probabilities (computed in float64), and the beam_width best
        extensions are kept. Equal scores keep the extension of the better beam first, then the lower
        token, so the result is deterministic. beam_width 1 is greedy decoding (generate at temperature
        0); a beam as wide as V**length is exhaustive search.
        """
        length = check.integer("length", length, 1)
        width = check.integer("beam_width", beam_width, 1)
        V = self._token_vocabulary("beam_search")
        tokens = check.array("prime", prime)
        if tokens.ndim != 1 or tokens.size == 0:
            raise ValueError(f"prime has shape {check.shape_str(tokens.shape)}; expected (P,) tokens with P >= 1")
        if tokens.dtype.kind not in "iu":
            raise TypeError(f"prime has dtype {tokens.dtype}; expected integer tokens")
        outside = tokens[(tokens < 0) | (tokens >= V)]
        if outside.size:
            raise ValueError(f"prime holds token {int(outside[0])}; expected tokens in [0, {V})")
        if h0 is not None:
            h0 = check.array("h0", h0)
            h0 = h0[:, None] if h0.ndim == 2 else h0  # (L, H): the prime's one sequence
        y, h = self.forward(tokens.astype(np.int64)[:, None], h0)
        logp = _log_softmax(y[-1])  # (beams, V)
        scores, beams_tokens = np.zeros(1), np.zeros((1, 0), dtype=np.int64)
        for t in range(length):
            flat = (scores[:, None] + logp).ravel()  # beam b's extension by token v at b * V + v
            best = np.argsort(-flat, kind="stable")[:width]  # ties: the lower index, so the better beam, then token
            beams, chosen = np.divmod(best, V)
            beams_tokens = np.concatenate([beams_tokens[beams], chosen[:, None]], axis=1)
            scores = flat[best]
            if t + 1 < length:
                y_t, h = self.step(chosen, h[:, beams])
                logp = _log_softmax(y_t)
        return beams_tokens, scores

    def _token_vocabulary(self, caller: str) -> int:
        """V of a unidirectional token model (input_size == output_size), else a ValueError for caller."""
        c = self.config
        if c["bidirectional"]:
            raise ValueError(f"{caller} needs a unidirectional model; this one is bidirectional")
        if c["input_size"] != c["output_size"]:
            raise ValueError(
                f"input_size is {c['input_size']} and output_size {c['output_size']}; {caller} expects a token "
                "model, whose outputs are its inputs' classes"
            )
        return int(c["output_size"])

    def train_step(
        self,
        x: Any,
        target: Any,
        opt: Any,
        *,
        loss: str = "mse",
        reduction: str = "mean",
        clip_value: float | None = None,
        clip_norm: float | None = None,
        h0: Any = None,
        lengths: Any = None,
        comm: Any = None,
    ) -> tuple[float, np.ndarray]:
        """loss_and_grad, clip by value, clip by norm and opt's update (an elman.optim optimizer of
        this model) in one native call that allocates nothing once warm.

        Returns the loss and h_n. A non-finite loss or gradient raises elman.NonFiniteError and leaves
        the weights unchanged.

        comm: an mpi4py communicator, x and target this process's shard of the global batch. The
        gradient phase runs natively, one in-place all-reduce sums the gradients with the loss sum
        and count, and the clipping and update run natively: every process takes the step one
        process would take on the whole batch (up to rounding), all bit-identical; h_n is this shard's.
        """
        if getattr(opt, "model", None) is not self:
            if not hasattr(opt, "model") or not hasattr(opt, "_core"):
                raise TypeError(f"opt is a {type(opt).__name__}; expected an elman.optim optimizer")
            raise ValueError("opt was built for another model; expected an optimizer of this model")
        if comm is None:
            return self._core.train_step(x, target, opt._core, loss, reduction, clip_value, clip_norm, h0, lengths)
        h_n = self._gradient_phase(x, target, loss, h0, lengths, comm)
        return self._core.update_phase(opt._core, reduction, clip_value, clip_norm), h_n

    def save(self, path: str | os.PathLike[str], metadata: Mapping[str, str] | None = None) -> None:
        """One safetensors file: the parameters, the config and format, and metadata (str -> str).

        Written to a temporary file in the same folder, fsynced, then renamed over path.
        """
        files.write_model(path, self.config, self.params, metadata)

    def to_torch(self) -> dict[str, np.ndarray]:
        """The weights as a PyTorch state dict of numpy arrays, for a module whose attributes are
        rnn = nn.RNN(I, H, num_layers, nonlinearity=..., bidirectional=...) and head = nn.Linear(D*H, O)."""
        return pytorch.to_torch(self.params)

    @classmethod
    def from_torch(
        cls, state_dict: Mapping[str, Any], *, nonlinearity: str = "tanh", batch_first: bool = False, dtype: Any = None
    ) -> RNN:
        """An RNN holding a PyTorch state dict's weights (numpy arrays or torch tensors; see
        elman.pytorch.from_torch). dtype None means float64 if any entry is float64, else float32."""
        sizes, values, suggested = pytorch.from_torch(state_dict)
        dtype = suggested if dtype is None else dtype
        model = cls(**sizes, nonlinearity=nonlinearity, batch_first=batch_first, dtype=dtype, seed=0)
        for name, value in values.items():
            model.params[name][...] = value
        return model


def load(path: str | os.PathLike[str]) -> RNN:
    """Reads a file written by RNN.save: the model with its weights, and the user's metadata as its
    attribute `metadata`. A missing, truncated, foreign, newer-format or damaged file raises a clear error."""
    config, tensors, metadata = files.read_model(path)
    model = RNN(**config)
    for name, value in tensors.items():
        model.params[name][...] = value
    model.metadata = metadata
    return model


def _log_softmax(z: np.ndarray) -> np.ndarray:
    """log softmax over the last axis of z, in float64."""
    z = np.asarray(z, dtype=np.float64)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
