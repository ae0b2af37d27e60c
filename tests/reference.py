"""An independent numpy Elman RNN written from the equations: one sequence at a time, a plain loop
over time steps, float64 throughout. It shares no code with elman; the tests compare against it.

    h_t = f(W_xh x_t + W_hh h_(t-1) + b_h)   per layer and direction
    y_t = W_hy h_t + b_y
"""

import numpy as np


def _act(a, nonlinearity):
    return np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0.0)


def _act_grad(h, nonlinearity):
    return 1.0 - h * h if nonlinearity == "tanh" else (h > 0).astype(np.float64)


def _suffix(layer, direction):
    return f"_l{layer}" + ("_reverse" if direction else "")


def _one_hot(tokens, size):
    out = np.zeros((len(tokens), size))
    out[np.arange(len(tokens)), tokens] = 1.0
    return out


class Reference:
    def __init__(self, params, num_layers, bidirectional, nonlinearity):
        self.p = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
        self.L = num_layers
        self.D = 2 if bidirectional else 1
        self.f = nonlinearity
        self.H = self.p["W_hh_l0"].shape[0]
        self.I = self.p["W_xh_l0"].shape[1]

    def _sequence_forward(self, x, h0):
        """x (n, I) for one sequence; h0 (L*D, H). Returns y, h_n and what backward needs."""
        n = x.shape[0]
        inputs, outputs, h_n = [], [], []
        inp = x
        for l in range(self.L):
            outs = []
            for d in range(self.D):
                s = _suffix(l, d)
                W_xh, W_hh, b = self.p["W_xh" + s], self.p["W_hh" + s], self.p["b_h" + s]
                h = h0[l * self.D + d]
                Hs = np.zeros((n, self.H))
                for t in range(n - 1, -1, -1) if d else range(n):
                    h = _act(W_xh @ inp[t] + W_hh @ h + b, self.f)
                    Hs[t] = h
                outs.append(Hs)
                h_n.append(h)
            inputs.append(inp)
            outputs.append(outs)
            inp = np.concatenate(outs, axis=1)
        y = inp @ self.p["W_hy"].T + self.p["b_y"]
        return y, np.array(h_n), (inputs, outputs, inp)

    def _sequence_backward(self, dy, h0, cache, grads, dh_out=None):
        inputs, outputs, top = cache
        n = dy.shape[0]
        grads["W_hy"] += dy.T @ top
        grads["b_y"] += dy.sum(axis=0)
        d_inp = dy @ self.p["W_hy"]
        for l in range(self.L - 1, -1, -1):
            X = inputs[l]
            d_below = np.zeros_like(X)
            for d in range(self.D):
                s = _suffix(l, d)
                W_xh, W_hh = self.p["W_xh" + s], self.p["W_hh" + s]
                Hs = outputs[l][d]
                order = list(range(n - 1, -1, -1)) if d else list(range(n))
                dh_next = np.zeros(self.H)
                for i in range(n - 1, -1, -1):
                    t = order[i]
                    h_prev = Hs[order[i - 1]] if i > 0 else h0[l * self.D + d]
                    dh = d_inp[t, d * self.H : (d + 1) * self.H] + dh_next  # dL/dh_t
                    if dh_out is not None:
                        dh_out[l * self.D + d, t] = dh
                    da = dh * _act_grad(Hs[t], self.f)
                    grads["W_xh" + s] += np.outer(da, X[t])
                    grads["W_hh" + s] += np.outer(da, h_prev)
                    grads["b_h" + s] += da
                    d_below[t] += W_xh.T @ da
                    dh_next = W_hh.T @ da
            d_inp = d_below

    def _inputs(self, x, h0, lengths):
        x = np.asarray(x)
        T, B = x.shape[:2]
        if x.dtype.kind in "iu":
            seqs = [_one_hot(x[:, b], self.I) for b in range(B)]
        else:
            seqs = [np.asarray(x[:, b], dtype=np.float64) for b in range(B)]
        h0 = np.zeros((self.L * self.D, B, self.H)) if h0 is None else np.asarray(h0, dtype=np.float64)
        lengths = np.full(B, T) if lengths is None else np.asarray(lengths)
        return T, B, seqs, h0, lengths

    def forward(self, x, h0=None, lengths=None):
        """x (T, B, I) or int tokens (T, B). Returns y (T, B, O), zero on padded steps, and h_n."""
        T, B, seqs, h0, lengths = self._inputs(x, h0, lengths)
        y = np.zeros((T, B, self.p["b_y"].size))
        h_n = np.zeros((self.L * self.D, B, self.H))
        for b in range(B):
            n = lengths[b]
            if n == 0:
                h_n[:, b] = h0[:, b]
                continue
            y[:n, b], h_n[:, b], _ = self._sequence_forward(seqs[b][:n], h0[:, b])
        return y, h_n

    def loss_and_grad(self, x, target, loss="mse", reduction="mean", h0=None, lengths=None, dh=None):
        """dh, if given, is an (L*D, T, B, H) array that receives dL/dh_t of every state."""
        T, B, seqs, h0, lengths = self._inputs(x, h0, lengths)
        target = np.asarray(target)
        caches, ys, count = [], [], 0
        for b in range(B):
            n = lengths[b]
            if n == 0:
                caches.append(None)
                ys.append(None)
                continue
            y, _, cache = self._sequence_forward(seqs[b][:n], h0[:, b])
            ys.append(y)
            caches.append(cache)
            if loss == "mse":
                count += y.size
            else:
                count += int(np.sum(target[:n, b] != -100))
        scale = 1.0 if reduction == "sum" else (1.0 / count if count else 0.0)
        total = 0.0
        grads = {k: np.zeros_like(v) for k, v in self.p.items()}
        for b in range(B):
            if ys[b] is None:
                continue
            y = ys[b]
            n = y.shape[0]
            if loss == "mse":
                diff = y - target[:n, b]
                total += np.sum(diff**2) * scale
                dy = 2.0 * diff * scale
            else:
                dy = np.zeros_like(y)
                for t in range(n):
                    c = target[t, b]
                    if c == -100:
                        continue
                    z = y[t] - y[t].max()
                    logp = z - np.log(np.sum(np.exp(z)))
                    total += -logp[c] * scale
                    dy[t] = np.exp(logp) * scale
                    dy[t, c] -= scale
            self._sequence_backward(dy, h0[:, b], caches[b], grads, None if dh is None else dh[:, :, b])
        return total, grads
