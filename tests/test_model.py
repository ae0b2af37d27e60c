"""The Python model: live parameters, config, seeds and initialisation, dropout, clipping, threads."""

import multiprocessing
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import elman
from elman.params import param_shapes

from conftest import random_batch, reference_of


def test_params_are_live_views(rng):
    m = elman.RNN(3, 4, 2, dtype="float64", seed=1)
    names = ["W_xh_l0", "W_hh_l0", "b_h_l0", "W_hy", "b_y"]
    assert list(m.params) == names and list(m.grads) == names
    shapes = {k: v.shape for k, v in m.params.items()}
    assert shapes == {"W_xh_l0": (4, 3), "W_hh_l0": (4, 4), "b_h_l0": (4,), "W_hy": (2, 4), "b_y": (2,)}
    assert m.num_params == sum(v.size for v in m.params.values()) == m.params.flat.size
    x = rng.normal(size=(3, 1, 3))
    m.params["b_y"][:] = 0.0
    y0, _ = m.forward(x)
    m.params["b_y"][:] = [1.0, -2.0]
    y1, _ = m.forward(x)
    np.testing.assert_allclose(y1 - y0, np.broadcast_to([1.0, -2.0], y0.shape), atol=1e-12)
    m.params["W_hy"] = np.zeros((2, 4))
    assert not m.params.flat[m.num_params - 10 : m.num_params - 2].any()
    with pytest.raises(ValueError, match=r"W_hy has shape \(4, 2\); expected \(2, 4\)"):
        m.params["W_hy"] = np.zeros((4, 2))
    with pytest.raises(KeyError):
        m.params["W_zz"] = np.zeros(2)


def test_bidirectional_stacked_param_shapes():
    m = elman.RNN(3, 4, 2, num_layers=2, bidirectional=True)
    shapes = {k: v.shape for k, v in m.params.items()}
    assert shapes["W_xh_l0"] == (4, 3) and shapes["W_xh_l1_reverse"] == (4, 8)
    assert shapes["W_hy"] == (2, 8) and shapes["b_h_l1_reverse"] == (4,)
    assert len(shapes) == 2 * 2 * 3 + 2


def test_config_rebuilds_the_model():
    m = elman.RNN(3, 4, 2, num_layers=2, bidirectional=True, nonlinearity="relu", dropout=0.25,
                  batch_first=True, dtype="float64", init="orthogonal", seed=17)  # fmt: skip
    import json

    twin = elman.RNN(**json.loads(json.dumps(m.config)))
    assert twin.config == m.config
    np.testing.assert_array_equal(twin.params.flat, m.params.flat)
    assert elman.RNN(3, 4, 2).config["seed"] != elman.RNN(3, 4, 2).config["seed"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_seed_same_bits(rng, dtype):
    a = elman.RNN(4, 6, 3, num_layers=2, dropout=0.3, dtype=dtype, seed=99)
    b = elman.RNN(4, 6, 3, num_layers=2, dropout=0.3, dtype=dtype, seed=99)
    c = elman.RNN(4, 6, 3, num_layers=2, dropout=0.3, dtype=dtype, seed=100)
    assert a.params.flat.tobytes() == b.params.flat.tobytes()
    assert a.params.flat.tobytes() != c.params.flat.tobytes()
    x = rng.normal(size=(5, 2, 4))
    target = rng.normal(size=(5, 2, 3))
    for _ in range(2):  # dropout masks advance identically
        la, ga, ha = a.loss_and_grad(x, target)
        ga = ga.flat.copy()
        lb, gb, hb = b.loss_and_grad(x, target)
        assert la == lb and ga.tobytes() == gb.flat.tobytes() and ha.tobytes() == hb.tobytes()


def test_init_schemes():
    H, D = 64, 2
    m = elman.RNN(10, H, 5, bidirectional=True, init="uniform", dtype="float64", seed=1)
    k = 1 / np.sqrt(H)
    for name in ("W_xh_l0", "W_hh_l0", "b_h_l0"):
        w = m.params[name]
        assert np.abs(w).max() <= k and np.abs(w).max() > 0.9 * k
    assert np.abs(m.params["W_hy"]).max() <= 1 / np.sqrt(D * H)

    m = elman.RNN(10, H, 5, init="normal", dtype="float64", seed=1)
    assert abs(m.params["W_hh_l0"].std() - 0.01) < 0.001
    assert abs(m.params["W_hh_l0"].mean()) < 0.001
    assert not m.params["b_h_l0"].any() and not m.params["b_y"].any()

    m = elman.RNN(10, H, 5, num_layers=2, init="orthogonal", dtype="float64", seed=1)
    for name in ("W_hh_l0", "W_hh_l1"):
        w = m.params[name]
        np.testing.assert_allclose(w.T @ w, np.eye(H), atol=1e-12)
    assert np.abs(m.params["W_xh_l0"]).max() <= k


def test_dropout_only_in_training_calls(rng):
    m = elman.RNN(3, 8, 2, num_layers=3, dropout=0.5, dtype="float64", seed=4)
    plain = elman.RNN(**{**m.config, "dropout": 0.0})
    x, h0, lengths = random_batch(rng, m, 6, 3, with_h0=True, with_lengths=True)
    target = rng.normal(size=(6, 3, 2))
    y, _ = m.forward(x, h0, lengths)
    y_ref, _ = reference_of(m).forward(x, h0, lengths)
    np.testing.assert_allclose(y, y_ref, rtol=1e-10, atol=1e-12)
    loss_plain = plain.loss_and_grad(x, target, h0=h0, lengths=lengths)[0]
    losses = {m.loss_and_grad(x, target, h0=h0, lengths=lengths)[0] for _ in range(3)}
    assert loss_plain not in losses and len(losses) == 3


def test_dropout_gradient_by_finite_differences(rng):
    """With the generator rewound before each call the masks repeat, so the loss is a fixed function."""
    m = elman.RNN(3, 4, 2, num_layers=2, bidirectional=True, dropout=0.4, dtype="float64", seed=4)
    x, h0, lengths = random_batch(rng, m, 5, 2, with_h0=True)
    target = rng.normal(size=(5, 2, 2))
    state = m.get_rng_state()

    def loss():
        m.set_rng_state(state)
        return m.loss_and_grad(x, target, h0=h0)[0]

    loss()
    analytic = m.grads.flat.copy()
    flat, eps = m.params.flat, 1e-6
    numeric = np.empty_like(analytic)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        plus = loss()
        flat[i] = saved - eps
        minus = loss()
        flat[i] = saved
        numeric[i] = (plus - minus) / (2 * eps)
    assert np.abs(analytic - numeric).max() / np.abs(numeric).max() < 1e-6


def test_clip_grad_value_and_norm_by_hand():
    grads = {"a": np.array([3.0, -4.0]), "b": np.array([[0.5, -7.0]])}
    elman.clip_grad_value(grads, 1.0)
    np.testing.assert_array_equal(grads["a"], [1.0, -1.0])
    np.testing.assert_array_equal(grads["b"], [[0.5, -1.0]])
    grads = {"a": np.array([3.0]), "b": np.array([4.0])}
    total = elman.clip_grad_norm(grads, 1.0)
    assert total == 5.0
    np.testing.assert_allclose(grads["a"], [3.0 / (5.0 + 1e-6)], rtol=1e-15)
    np.testing.assert_allclose(grads["b"], [4.0 / (5.0 + 1e-6)], rtol=1e-15)
    grads = {"a": np.array([0.3, 0.4])}
    assert np.isclose(elman.clip_grad_norm(grads, 1.0), 0.5)
    np.testing.assert_array_equal(grads["a"], [0.3, 0.4])  # below max_norm: unchanged


def test_clip_on_model_grads(rng):
    m = elman.RNN(3, 5, 2, dtype="float64", seed=3)
    m.loss_and_grad(rng.normal(size=(4, 2, 3)), 50 * rng.normal(size=(4, 2, 2)))
    before = m.grads.flat.copy()
    total = elman.clip_grad_norm(m.grads, 0.1)
    assert np.isclose(total, np.linalg.norm(before))
    np.testing.assert_allclose(m.grads.flat, before * 0.1 / (total + 1e-6), rtol=1e-14)
    elman.clip_grad_value(m.grads, 0.001)
    assert np.abs(m.grads.flat).max() <= 0.001


def test_num_threads():
    n = elman.get_num_threads()
    elman.set_num_threads(1)
    assert elman.get_num_threads() == 1
    elman.set_num_threads(max(n, 1))
    with pytest.raises(ValueError, match="n is 0"):
        elman.set_num_threads(0)


def threads_at_import(env=None, cpus=None):
    """get_num_threads() in a new Python process that imports elman with environment `env` (on top of
    this one's, ELMAN_NUM_THREADS and OMP_NUM_THREADS removed) and CPU affinity `cpus`."""
    full = {k: v for k, v in os.environ.items() if k not in ("ELMAN_NUM_THREADS", "OMP_NUM_THREADS")}
    code = "import os, sys\n"
    if cpus is not None:
        code += f"os.sched_setaffinity(0, {sorted(cpus)!r})\n"
    code += "import elman\nprint(elman.get_num_threads())"
    return subprocess.run([sys.executable, "-c", code], env={**full, **(env or {})}, capture_output=True, text=True)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="needs CPU affinity (Linux)")
def test_default_threads_are_the_cores_this_process_may_use_unless_the_environment_says():
    cpus = os.sched_getaffinity(0)
    assert threads_at_import().stdout.split() == [str(len(cpus))]
    assert threads_at_import(cpus={min(cpus)}).stdout.split() == ["1"]
    assert threads_at_import({"OMP_NUM_THREADS": "5"}).stdout.split() == ["5"]
    assert threads_at_import({"OMP_NUM_THREADS": "3,2"}).stdout.split() == ["3"]  # the outer level's
    assert threads_at_import({"ELMAN_NUM_THREADS": "7", "OMP_NUM_THREADS": "5"}).stdout.split() == ["7"]
    for name, value in (("ELMAN_NUM_THREADS", "two"), ("ELMAN_NUM_THREADS", "0"), ("OMP_NUM_THREADS", "-1")):
        result = threads_at_import({name: value})
        assert result.returncode != 0
        assert f"ValueError: {name} is '{value}'; expected a positive integer" in result.stderr


def forked_child(queue, x):
    m = elman.RNN(8, 64, 4, dtype="float64", seed=5)
    queue.put((elman.get_num_threads(), m.forward(x)[0]))


@pytest.mark.skipif(sys.platform != "linux", reason="fork")
def test_a_forked_child_runs_with_one_thread_and_the_same_results(rng):  # parent: 2
    threads = elman.get_num_threads()
    try:
        elman.set_num_threads(2)
        x = rng.normal(size=(50, 64, 8))
        m = elman.RNN(8, 64, 4, dtype="float64", seed=5)
        expected = m.forward(x)[0]  # the parent's pool is running when the child is forked
        queue = multiprocessing.get_context("fork").Queue()
        child = multiprocessing.get_context("fork").Process(target=forked_child, args=(queue, x))
        child.start()
        child_threads, y = queue.get(timeout=60)
        child.join(timeout=60)
        assert child.exitcode == 0
        assert child_threads == 1
        np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-15)  # parts sum in another order
        assert elman.get_num_threads() == 2, "the parent keeps its setting"
    finally:
        elman.set_num_threads(threads)


@pytest.mark.skipif(sys.platform != "linux", reason="fork")
def test_a_child_forked_before_any_loop_ran_starts_with_one_thread():
    code = "import os, elman\nif os.fork() == 0:\n    print(elman.get_num_threads())\n    os._exit(0)\nos.wait()\n"
    env = {k: v for k, v in os.environ.items() if k not in ("ELMAN_NUM_THREADS", "OMP_NUM_THREADS")}
    result = subprocess.run(
        [sys.executable, "-c", code], env={**env, "ELMAN_NUM_THREADS": "3"}, capture_output=True, text=True
    )
    assert result.stdout.split() == ["1"], result.stderr


def test_calls_from_several_python_threads_share_the_pool(rng):
    """Big enough that each call splits its loops across the pool; calls arriving while another runs
    go alone. Every result must equal the one-thread result."""
    threads = elman.get_num_threads()
    try:
        models = [elman.RNN(16, 96, 8, dtype="float64", seed=s) for s in range(4)]
        x, target = rng.normal(size=(40, 32, 16)), rng.normal(size=(40, 32, 8))
        elman.set_num_threads(1)
        expected = [m.loss_and_grad(x, target)[1].flat.copy() for m in models]
        elman.set_num_threads(3)
        failures = []

        def train_many(i):
            for _ in range(30):
                g = models[i].loss_and_grad(x, target)[1].flat
                if not np.allclose(g, expected[i], rtol=1e-12, atol=1e-14):
                    failures.append(i)

        workers = [threading.Thread(target=train_many, args=(i,)) for i in range(4)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        assert not failures
    finally:
        elman.set_num_threads(threads)


def test_threads_sharing_one_model_do_not_corrupt_it(rng):
    m = elman.RNN(4, 16, 3, num_layers=2, dtype="float64", seed=2)
    x = rng.normal(size=(20, 4, 4))
    target = rng.normal(size=(20, 4, 3))
    y_expected, _ = m.forward(x)
    loss_expected, g, _ = m.loss_and_grad(x, target)
    g_expected = g.flat.copy()
    failures = []

    def forward_many():
        for _ in range(50):
            y, _ = m.forward(x)
            if not np.allclose(y, y_expected, rtol=1e-13, atol=1e-15):
                failures.append("forward")

    def train_many():
        for _ in range(50):
            loss, _, _ = m.loss_and_grad(x, target)
            if not np.isclose(loss, loss_expected, rtol=1e-13):
                failures.append("loss")

    threads = [threading.Thread(target=f) for f in (forward_many, train_many, forward_many, train_many)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    np.testing.assert_allclose(m.grads.flat, g_expected, rtol=1e-12, atol=1e-15)


def test_version_has_one_source():
    """The version is written once, in cpp/include/elman/version.hpp, which the native module
    compiles in (elman.__version__), CMake reads for its package, and scikit-build-core reads for the
    wheel's metadata (importlib.metadata): the three must agree."""
    import importlib.metadata
    import pathlib
    import re

    found = {"elman.__version__": elman.__version__}
    missing = []
    try:
        found['importlib.metadata.version("elman")'] = importlib.metadata.version("elman")
    except importlib.metadata.PackageNotFoundError:
        missing.append(f"elman has no installed metadata (imported from {elman.__file__})")
    header = pathlib.Path(__file__).resolve().parents[1] / "cpp" / "include" / "elman" / "version.hpp"
    if header.is_file():
        # The regex of pyproject.toml's [tool.scikit-build.metadata.version].
        line = r'^inline constexpr const char\* version = "(?P<value>[0-9]+\.[0-9]+\.[0-9]+)";'
        match = re.search(line, header.read_text(encoding="utf-8"), re.MULTILINE)
        assert match, f"{header} has no line 'inline constexpr const char* version = \"X.Y.Z\";'"
        found[str(header)] = match["value"]
    else:
        missing.append(f"no {header}: the tests run outside the source tree")
    assert len(set(found.values())) == 1, f"the version sources disagree: {found}"
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", elman.__version__), elman.__version__
    if missing:
        pytest.skip(f"versions agree ({found}), but not all sources were checked: {'; '.join(missing)}")


@pytest.mark.parametrize("layers,bidirectional", [(1, False), (3, True)])
def test_param_shapes_from_config_match_the_model(layers, bidirectional):
    m = elman.RNN(5, 7, 3, num_layers=layers, bidirectional=bidirectional)
    assert param_shapes(m.config) == {k: v.shape for k, v in m.params.items()}
    assert list(param_shapes(m.config)) == list(m.params)
