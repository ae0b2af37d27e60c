"""elman.RNN: the Python face of the native model."""

from __future__ import annotations

import secrets

import numpy as np

from . import _core, diagnostics, files, interop
from . import _validate as check
from .optim import Optimizer
from .params import ParamDict

_NONLINEARITIES = ("tanh", "relu")
_INITS = ("uniform", "normal", "orthogonal")
_LOSSES = ("mse", "cross_entropy")
_REDUCTIONS = ("mean", "sum")
_DTYPES = {np.dtype(np.float32): _core.ModelF32, np.dtype(np.float64): _core.ModelF64}


class RNN:
    """An Elman network: h_t = f(W_xh x_t + W_hh h_(t-1) + b_h) per layer, y_t = W_hy h_t + b_y."""

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
        dtype="float32",
        init: str = "uniform",
        seed: int | None = None,
    ):
        settings = RNN.checked_config(
            input_size=input_size, hidden_size=hidden_size, output_size=output_size, num_layers=num_layers,
            nonlinearity=nonlinearity, bidirectional=bidirectional, dropout=dropout, batch_first=batch_first,
            dtype=dtype, init=init, seed=secrets.randbits(63) if seed is None else seed,
        )  # fmt: skip
        self.__dict__.update(settings)
        self.dtype = np.dtype(settings["dtype"])

        self._core = _DTYPES[self.dtype](
            self.input_size, self.hidden_size, self.output_size, self.num_layers,
            self.nonlinearity, self.bidirectional, self.dropout, self.init, self.seed,
        )  # fmt: skip
        tensors = self._core.tensors
        self._params = ParamDict(self._core.params, tensors)
        self._grads = ParamDict(self._core.grads, tensors)
        self.metadata: dict[str, str] = {}  # the user's metadata of the file this model was loaded from

    @staticmethod
    def checked_config(*, input_size, hidden_size, output_size, num_layers=1, nonlinearity="tanh",
                       bidirectional=False, dropout=0.0, batch_first=False, dtype="float32", init="uniform",
                       seed=0) -> dict:  # fmt: skip
        """The constructor's arguments, checked (TypeError/ValueError naming the argument) and
        normalized, without building anything: what RNN(**config) would accept."""
        try:
            if dtype is None:  # np.dtype(None) is float64: not a choice to make silently
                raise TypeError
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"dtype is {dtype!r}; expected 'float32' or 'float64'") from None
        if dtype not in _DTYPES:
            raise ValueError(f"dtype is {dtype}; expected 'float32' or 'float64'")
        seed = check.integer("seed", seed, 0)
        if seed >= 2**64:
            raise ValueError(f"seed is {seed}; expected an integer in [0, 2**64)")
        return {
            "input_size": check.integer("input_size", input_size, 1),
            "hidden_size": check.integer("hidden_size", hidden_size, 1),
            "output_size": check.integer("output_size", output_size, 1),
            "num_layers": check.integer("num_layers", num_layers, 1),
            "nonlinearity": check.choice("nonlinearity", nonlinearity, _NONLINEARITIES),
            "bidirectional": check.flag("bidirectional", bidirectional),
            "dropout": check.real("dropout", dropout, 0.0, 1.0),
            "batch_first": check.flag("batch_first", batch_first),
            "dtype": dtype.name,
            "init": check.choice("init", init, _INITS),
            "seed": seed,
        }

    @property
    def config(self) -> dict:
        """Everything needed to rebuild this model (with its initial weights): RNN(**config)."""
        return {
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "output_size": self.output_size,
            "num_layers": self.num_layers,
            "nonlinearity": self.nonlinearity,
            "bidirectional": self.bidirectional,
            "dropout": self.dropout,
            "batch_first": self.batch_first,
            "dtype": self.dtype.name,
            "init": self.init,
            "seed": self.seed,
        }

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def num_params(self) -> int:
        return self._params.flat.size

    @property
    def params(self) -> ParamDict:
        return self._params

    @property
    def grads(self) -> ParamDict:
        return self._grads

    def get_rng_state(self) -> list[int]:
        """The dropout generator's state (four 64-bit words), for checkpoints."""
        return list(self._core.dropout_rng_state)

    def set_rng_state(self, state) -> None:
        """Restores a state from get_rng_state: the next dropout masks repeat from there."""
        words = [check.integer("state[i]", w, 0) for w in state]
        if len(words) != 4 or max(words) >= 2**64 or not any(words):
            raise ValueError(
                f"state is {state!r}; expected four integers in [0, 2**64), not all zero, from get_rng_state()"
            )
        self._core.dropout_rng_state = words

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"elman.RNN({args})"

    def forward(self, x, h0=None, lengths=None):
        """Returns y (T, B, O) and h_n (L*D, B, H), in the layouts the model was built for."""
        batch = self._batch(x, h0, lengths)
        y, h_n = self._core.forward(batch.x, batch.h0, batch.lengths)
        return batch.output(y), batch.state(h_n)

    __call__ = forward

    def loss_and_grad(self, x, target, *, loss="mse", reduction="mean", h0=None, lengths=None):
        """Returns the loss, the gradients (m.grads, overwritten by the next call) and h_n."""
        batch, target = self._prepared(x, target, loss, reduction, h0, lengths)
        value, h_n = self._core.loss_and_grad(batch.x, target, loss, reduction, batch.h0, batch.lengths)
        return value, self._grads, batch.state(h_n)

    def gradient_flow(self, x, target, *, loss="mse", reduction="mean", h0=None, lengths=None):
        """||dL/dh_t|| for every step and layer, and the spectral radius of each W_hh (a GradientFlow).

        Runs loss_and_grad, so m.grads afterwards hold this batch's gradients.
        """
        batch, target = self._prepared(x, target, loss, reduction, h0, lengths)
        rng = self.get_rng_state()  # a look must not change the dropout masks training draws next
        value, _, norms = self._core.loss_and_grad(batch.x, target, loss, reduction, batch.h0, batch.lengths, True)
        self.set_rng_state(rng)
        return diagnostics.gradient_flow(self, value, norms)

    def loss(self, x, target, *, loss="mse", reduction="mean", h0=None, lengths=None):
        """The loss of a forward pass (no dropout, no gradients) and h_n: for validation."""
        batch, target = self._prepared(x, target, loss, reduction, h0, lengths)
        value, h_n = self._core.loss(batch.x, target, loss, reduction, batch.h0, batch.lengths)
        return value, batch.state(h_n)

    def save(self, path, metadata=None) -> None:
        """One safetensors file: the parameters, the config and format, and metadata (str -> str).

        Written to a temporary file in the same folder, fsynced, then renamed over path.
        """
        files.save_model(self, path, metadata)

    def to_torch(self) -> dict[str, np.ndarray]:
        """The weights as a PyTorch state dict of numpy arrays (see elman.interop.to_torch)."""
        return interop.to_torch(self)

    @staticmethod
    def from_torch(state_dict, *, nonlinearity="tanh", batch_first=False, dtype=None) -> RNN:
        """An RNN holding a PyTorch state dict's weights (see elman.interop.from_torch)."""
        return interop.from_torch(state_dict, nonlinearity=nonlinearity, batch_first=batch_first, dtype=dtype)

    def train_step(self, x, target, opt, *, loss="mse", reduction="mean", clip_value=None, clip_norm=None,
                   h0=None, lengths=None):  # fmt: skip
        """loss_and_grad, clip by value, clip by norm and opt's update in one native call.

        Returns the loss and h_n. A non-finite loss or gradient raises elman.NonFiniteError and leaves
        the weights unchanged.
        """
        if not isinstance(opt, Optimizer):
            raise TypeError(f"opt is a {type(opt).__name__}; expected an elman.optim optimizer")
        if opt.model is not self:
            raise ValueError("opt was built for another model; expected an optimizer of this model")
        clip_value = -1.0 if clip_value is None else check.real("clip_value", clip_value, 0.0)
        clip_norm = -1.0 if clip_norm is None else check.real("clip_norm", clip_norm, 0.0)
        if h0 is None and lengths is None and _core_layout(self, x, target):
            # A training loop's common case: the core converts and checks these arrays as _prepared
            # would (shapes, dtype, contiguity: a non-contiguous one is copied), without the Python.
            check.choice("loss", loss, _LOSSES)
            check.choice("reduction", reduction, _REDUCTIONS)
            return self._core.train_step(x, target, opt._core, loss, reduction, clip_value, clip_norm, None, None)
        batch, target = self._prepared(x, target, loss, reduction, h0, lengths)
        value, h_n = self._core.train_step(batch.x, target, opt._core, loss, reduction, clip_value, clip_norm,
                                           batch.h0, batch.lengths)  # fmt: skip
        return value, batch.state(h_n)

    def _batch(self, x, h0, lengths) -> _Batch:
        return _Batch(self, x, h0, lengths)

    def _prepared(self, x, target, loss, reduction, h0, lengths) -> tuple[_Batch, np.ndarray]:
        """The checked arguments of every loss-computing call, in the core's layout."""
        check.choice("loss", loss, _LOSSES)
        check.choice("reduction", reduction, _REDUCTIONS)
        batch = self._batch(x, h0, lengths)
        return batch, batch.target(target, loss)


def _x_ready(m: RNN, x) -> bool:
    """Whether the core converts and checks x just as _Batch._converted would (shapes, dtype, a copy
    if not contiguous): a time-major (T, B, ...) array of the model's dtype or (T, B) integer tokens,
    a training loop's common case, spared the Python checks."""
    if type(x) is not np.ndarray or m.batch_first:
        return False
    return (x.ndim == 3 and x.dtype == m.dtype) or (x.ndim == 2 and x.dtype.kind in "iu")


def _core_layout(m: RNN, x, target) -> bool:
    """_x_ready, and a target the core converts and checks as _Batch.target would: an array of the
    model's dtype or of integers."""
    if not _x_ready(m, x) or type(target) is not np.ndarray:
        return False
    return target.dtype == m.dtype or target.dtype.kind in "iu"


class _Batch:
    """The user's arrays in the core's layout: time-major, batched, C-contiguous, the model's dtype.

    Arrays that already are so pass through without a copy.
    """

    def __init__(self, model: RNN, x, h0, lengths):
        self.model = model
        self.unbatched = False
        self.x = x if _x_ready(model, x) else self._converted(x)
        self.steps, self.batch = self.x.shape[0], self.x.shape[1]
        self.h0 = None if h0 is None else self._h0(h0)
        self.lengths = None if lengths is None else self._lengths(lengths)

    def _converted(self, x) -> np.ndarray:
        m = self.model
        x = check.array("x", x)
        tokens = x.dtype.kind in "iu"
        self.unbatched = x.ndim == (1 if tokens else 2)
        if self.unbatched:
            x = x[:, None]
        elif x.ndim != (2 if tokens else 3):
            features = "" if tokens else f", {m.input_size}"
            hint = "" if tokens else "; integer tokens are (T, B) without a feature axis"
            raise ValueError(f"x has shape {check.shape_str(x.shape)}; expected {self._layout()}{features}) or "
                             f"(T{features}) for one sequence{hint}")  # fmt: skip
        if not tokens and x.shape[2] != m.input_size:
            raise ValueError(f"x has shape {check.shape_str(self._user(x).shape)}; "
                             f"expected {self._layout()}, {m.input_size})")  # fmt: skip
        return np.ascontiguousarray(self._time_major(x), dtype=np.int64 if tokens else m.dtype)

    def _layout(self) -> str:
        return "(B, T" if self.model.batch_first else "(T, B"

    def _time_major(self, a: np.ndarray) -> np.ndarray:
        return a.swapaxes(0, 1) if self.model.batch_first and not self.unbatched else a

    _user = _time_major  # the swap is its own inverse

    def _h0(self, h0) -> np.ndarray:
        m = self.model
        h0 = check.array("h0", h0)
        layers = m.num_layers * m.directions
        expected = (layers, m.hidden_size) if self.unbatched else (layers, self.batch, m.hidden_size)
        if h0.shape != expected:
            raise ValueError(f"h0 has shape {check.shape_str(h0.shape)}; expected {check.shape_str(expected)} (L*D, B, H)")
        if self.unbatched:
            h0 = h0[:, None]
        return np.ascontiguousarray(h0, dtype=m.dtype)

    def _lengths(self, lengths) -> np.ndarray:
        lengths = check.array("lengths", lengths)
        if lengths.dtype.kind not in "iu":
            raise TypeError(f"lengths has dtype {lengths.dtype}; expected integers")
        expected = () if self.unbatched else (self.batch,)
        if lengths.shape != expected and not (self.unbatched and lengths.shape == (1,)):
            raise ValueError(f"lengths has shape {check.shape_str(lengths.shape)}; expected {check.shape_str(expected)}")
        lengths = lengths.reshape(self.batch)
        if lengths.size and (lengths.min() < 0 or lengths.max() > self.steps):
            raise ValueError(
                f"lengths holds {int(lengths.min())}..{int(lengths.max())}; expected each in [0, {self.steps}]"
            )
        return np.ascontiguousarray(lengths, dtype=np.int64)

    def target(self, target, loss: str) -> np.ndarray:
        m = self.model
        target = check.array("target", target)
        if loss == "cross_entropy":
            if target.dtype.kind not in "iu":
                raise TypeError(f"target has dtype {target.dtype}; expected integer class indices for loss 'cross_entropy'")
            expected_tm: tuple[int, ...] = (self.steps,) if self.unbatched else (self.steps, self.batch)
        else:
            if target.dtype.kind not in "biuf":
                raise TypeError(f"target has dtype {target.dtype}; expected real numbers for loss 'mse'")
            expected_tm = (self.steps, m.output_size) if self.unbatched else (self.steps, self.batch, m.output_size)
        swap = self.model.batch_first and not self.unbatched
        expected = (expected_tm[1], expected_tm[0], *expected_tm[2:]) if swap else expected_tm
        if target.shape != expected:
            raise ValueError(f"target has shape {check.shape_str(target.shape)}; expected {check.shape_str(expected)}")
        if self.unbatched:
            target = target[:, None]
        target = self._time_major(target)
        dtype = np.int64 if loss == "cross_entropy" else m.dtype
        return np.ascontiguousarray(target, dtype=dtype)

    def counted(self, target: np.ndarray, loss: str) -> int:
        """What a "mean" reduction divides by for a time-major target from `target()`: valid steps
        (times outputs, for mse), ignored classes excluded."""
        valid = np.ones((self.steps, self.batch), dtype=bool)
        if self.lengths is not None:
            valid = np.arange(self.steps)[:, None] < self.lengths
        if loss == "cross_entropy":
            return int(np.count_nonzero(valid & (target != -100)))
        return int(np.count_nonzero(valid)) * self.model.output_size

    def output(self, y: np.ndarray) -> np.ndarray:
        return y[:, 0] if self.unbatched else self._user(y)

    def state(self, h_n: np.ndarray) -> np.ndarray:
        return h_n[:, 0] if self.unbatched else h_n

