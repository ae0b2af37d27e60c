"""Optimizers against PyTorch's update rules (written out by hand here, and torch.optim when installed),
and the fused train_step against the separate calls."""

import numpy as np
import pytest

import elman
from elman import optim


def tiny_model(dtype="float64"):
    return elman.RNN(2, 3, 1, dtype=dtype, seed=0)


def run_steps(opt, grads_seq):
    """Feeds a fixed sequence of gradients through opt.step and returns the parameter history."""
    history = []
    for g in grads_seq:
        opt.step({name: g[name] for name in opt.model.params})
        history.append(opt.model.params.flat.copy())
    return history


def gradient_sequence(model, n, seed=0):
    rng = np.random.default_rng(seed)
    return [{k: rng.normal(size=v.shape) for k, v in model.params.items()} for _ in range(n)]


def flat(model, g):
    return np.concatenate([g[k].ravel() for k in model.params])


# The update rules as PyTorch documents them, one step at a time over flat float64 arrays.
def sgd_rule(p, gs, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    buf = None
    for g in gs:
        g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        yield p


def adagrad_rule(p, gs, lr, eps=1e-10):
    s = np.zeros_like(p)
    for g in gs:
        s = s + g * g
        p = p - lr * g / (np.sqrt(s) + eps)
        yield p


def rmsprop_rule(p, gs, lr, alpha=0.99, eps=1e-8, momentum=0.0):
    v, buf = np.zeros_like(p), np.zeros_like(p)
    for g in gs:
        v = alpha * v + (1 - alpha) * g * g
        avg = np.sqrt(v) + eps
        if momentum:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
        yield p


def adam_rule(p, gs, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(gs, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        m_hat = m / (1 - betas[0] ** t)
        denom = np.sqrt(v) / np.sqrt(1 - betas[1] ** t) + eps
        p = p - lr * m_hat / denom
        yield p


CASES = [
    (optim.SGD, sgd_rule, {"lr": 0.1}),
    (optim.SGD, sgd_rule, {"lr": 0.1, "momentum": 0.9}),
    (optim.SGD, sgd_rule, {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01}),
    (optim.Adagrad, adagrad_rule, {"lr": 0.1}),
    (optim.RMSprop, rmsprop_rule, {"lr": 0.01}),
    (optim.RMSprop, rmsprop_rule, {"lr": 0.01, "alpha": 0.9, "momentum": 0.5}),
    (optim.Adam, adam_rule, {"lr": 0.01}),
    (optim.Adam, adam_rule, {"lr": 0.01, "weight_decay": 0.1}),
    (optim.Adam, adam_rule, {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1, "decoupled": True}),
]


@pytest.mark.parametrize("cls,rule,kwargs", CASES)
def test_update_rules(cls, rule, kwargs):
    m = tiny_model()
    gs = gradient_sequence(m, 6)
    expected = list(rule(m.params.flat.copy(), [flat(m, g) for g in gs], **kwargs))
    actual = run_steps(cls(m, **kwargs), gs)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=1e-13, atol=1e-15)


TORCH = {
    "SGD": lambda torch, ps, kw: torch.optim.SGD(ps, **kw),
    "Adagrad": lambda torch, ps, kw: torch.optim.Adagrad(ps, **kw),
    "RMSprop": lambda torch, ps, kw: torch.optim.RMSprop(ps, **kw),
    "Adam": lambda torch, ps, kw: (torch.optim.AdamW if kw.pop("decoupled", False) else torch.optim.Adam)(ps, **kw),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cls,rule,kwargs", CASES)
def test_against_torch_optim(cls, rule, kwargs, dtype):
    torch = pytest.importorskip("torch")
    m = elman.RNN(3, 5, 2, num_layers=2, dtype=dtype, seed=1)
    gs = gradient_sequence(m, 5, seed=2)
    tensors = [torch.tensor(v.copy(), requires_grad=True) for v in m.params.values()]
    opt_t = TORCH[cls.__name__](torch, tensors, dict(kwargs))
    for g in gs:
        for t, name in zip(tensors, m.params):
            t.grad = torch.tensor(g[name].astype(dtype))
        opt_t.step()
    run_steps(cls(m, **kwargs), [{k: v.astype(dtype) for k, v in g.items()} for g in gs])
    rtol = 1e-12 if dtype == "float64" else 1e-5
    for t, (name, p) in zip(tensors, m.params.items()):
        np.testing.assert_allclose(p, t.detach().numpy(), rtol=rtol, atol=rtol, err_msg=name)


def test_adamw_helper():
    opt = optim.AdamW(tiny_model(), lr=0.1)
    assert opt.hyperparameters["decoupled"] and opt.hyperparameters["weight_decay"] == 0.01


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("clip_value,clip_norm", [(None, None), (0.05, None), (None, 0.1), (0.05, 0.02)])
@pytest.mark.parametrize("inputs", ["tokens", "dense"])
def test_train_step_equals_separate_calls_bit_for_bit(dtype, clip_value, clip_norm, inputs):
    """Tokens with lengths go through train_step's conversions; tokens without them and dense arrays
    of the model's dtype take its shortcut to the core, here with x a strided view that it must copy."""
    rng = np.random.default_rng(3)
    a = elman.RNN(4, 8, 3, num_layers=2, dropout=0.2, dtype=dtype, seed=5)
    b = elman.RNN(**a.config)
    opt_a, opt_b = optim.Adam(a, lr=0.01), optim.Adam(b, lr=0.01)
    for i in range(4):
        if inputs == "tokens":
            x = rng.integers(0, 4, size=(7, 3))
            args = {
                "target": rng.integers(0, 3, size=(7, 3)),
                "loss": "cross_entropy",
                "lengths": rng.integers(1, 8, size=3) if i % 2 else None,
            }
        else:
            x = rng.standard_normal((7, 3, 8)).astype(dtype)[:, :, ::2]
            args = {"target": rng.standard_normal((7, 3, 3)).astype(dtype), "reduction": "sum"}
        loss_a, grads, h_a = a.loss_and_grad(np.ascontiguousarray(x), **args)
        if clip_value is not None:
            elman.clip_grad_value(grads, clip_value)
        if clip_norm is not None:
            elman.clip_grad_norm(grads, clip_norm)
        opt_a.step(grads)
        loss_b, h_b = b.train_step(x, opt=opt_b, clip_value=clip_value, clip_norm=clip_norm, **args)
        assert loss_a == loss_b
        assert h_a.tobytes() == h_b.tobytes()
        assert a.params.flat.tobytes() == b.params.flat.tobytes()
        assert a.grads.flat.tobytes() == b.grads.flat.tobytes()


def test_non_finite_loss_keeps_the_weights():
    m = tiny_model()
    opt = optim.SGD(m, lr=0.1)
    before = m.params.flat.copy()
    with pytest.raises(elman.NonFiniteError, match="not finite; the weights were left unchanged"):
        m.train_step(np.zeros((3, 1, 2)), np.full((3, 1, 1), 1e200), opt)
    np.testing.assert_array_equal(m.params.flat, before)
    assert opt.steps == 0
    assert issubclass(elman.NonFiniteError, FloatingPointError)


@pytest.mark.parametrize("cls,rule,kwargs", CASES)
def test_state_dict_resume_is_exact(cls, rule, kwargs):
    m = tiny_model()
    gs = gradient_sequence(m, 6, seed=4)
    opt = cls(m, **kwargs)
    run_steps(opt, gs[:3])
    saved_params, saved_state = m.params.flat.copy(), opt.state_dict()
    run_steps(opt, gs[3:])
    expected = m.params.flat.copy()

    m.params.flat[:] = saved_params
    fresh = cls(m, **kwargs)
    fresh.load_state_dict(saved_state)
    assert fresh.steps == 3
    run_steps(fresh, gs[3:])
    assert m.params.flat.tobytes() == expected.tobytes()


def test_state_dict_mismatch_errors():
    m = tiny_model()
    with pytest.raises(ValueError, match="state is from SGD; expected Adam"):
        optim.Adam(m).load_state_dict(optim.SGD(m, lr=0.1).state_dict())
    other = optim.Adam(elman.RNN(2, 4, 1, dtype="float64", seed=0)).state_dict()
    with pytest.raises(ValueError, match="state buffer exp_avg has shape"):
        optim.Adam(m).load_state_dict(other)


@pytest.mark.parametrize(
    "make,error,match",
    [
        (lambda m: optim.SGD(m, lr=-1), ValueError, "lr is -1"),
        (lambda m: optim.SGD(m, lr="fast"), TypeError, "lr is 'fast'"),
        (lambda m: optim.SGD(m, lr=0.1, nesterov=True), ValueError, "nesterov"),
        (lambda m: optim.SGD(m, lr=0.1, momentum=float("nan")), ValueError, "momentum is nan"),
        (lambda m: optim.Adam(m, betas=(0.9, 1.0)), ValueError, r"betas\[1\] is 1.0"),
        (lambda m: optim.Adam(m, betas=0.9), TypeError, "betas is 0.9"),
        (lambda m: optim.RMSprop(m, alpha=1.5), ValueError, "alpha is 1.5"),
        (lambda m: optim.Adagrad(m, eps=-1e-3), ValueError, "eps is -0.001"),
        (lambda m: optim.Adam("model"), TypeError, "model is a str"),
    ],
)
def test_invalid_hyperparameters(make, error, match):
    with pytest.raises(error, match=match):
        make(tiny_model())


def test_train_step_checks_its_optimizer_and_clipping():
    m, other = tiny_model(), tiny_model()
    x, t = np.zeros((3, 1, 2)), np.zeros((3, 1, 1))
    with pytest.raises(ValueError, match="opt was built for another model"):
        m.train_step(x, t, optim.SGD(other, lr=0.1))
    with pytest.raises(TypeError, match="opt is a str"):
        m.train_step(x, t, "sgd")
    with pytest.raises(ValueError, match="clip_norm is -1"):
        m.train_step(x, t, optim.SGD(m, lr=0.1), clip_norm=-1)


def test_learning_rate_can_change():
    m = tiny_model()
    opt = optim.SGD(m, lr=0.1)
    opt.lr = 0.0
    before = m.params.flat.copy()
    opt.step({k: np.ones_like(v) for k, v in m.params.items()})
    np.testing.assert_array_equal(m.params.flat, before)
    assert opt.state_dict()["hyperparameters"]["lr"] == 0.0
