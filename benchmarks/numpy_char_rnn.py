"""A plain numpy character-level Elman RNN step: min-char-rnn's algorithm (forward over 25 steps,
softmax cross-entropy summed, BPTT, clip each gradient to [-5, 5], Adagrad), written out in float64.
The peer that benchmarks/min_char_rnn.py measures elman against."""

import numpy as np


class NumpyCharRNN:
    def __init__(self, vocab_size: int, hidden_size: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.W_xh = rng.normal(size=(hidden_size, vocab_size)) * 0.01
        self.W_hh = rng.normal(size=(hidden_size, hidden_size)) * 0.01
        self.W_hy = rng.normal(size=(vocab_size, hidden_size)) * 0.01
        self.b_h = np.zeros((hidden_size, 1))
        self.b_y = np.zeros((vocab_size, 1))
        self.params = [self.W_xh, self.W_hh, self.W_hy, self.b_h, self.b_y]
        self.memory = [np.zeros_like(p) for p in self.params]
        self.vocab_size = vocab_size

    def loss_and_grads(self, inputs, targets, h_prev):
        xs, hs, ps = {}, {-1: h_prev}, {}
        loss = 0.0
        for t, (i, c) in enumerate(zip(inputs, targets)):
            xs[t] = np.zeros((self.vocab_size, 1))
            xs[t][i] = 1.0
            hs[t] = np.tanh(self.W_xh @ xs[t] + self.W_hh @ hs[t - 1] + self.b_h)
            y = self.W_hy @ hs[t] + self.b_y
            e = np.exp(y - y.max())
            ps[t] = e / e.sum()
            loss -= np.log(ps[t][c, 0])
        grads = [np.zeros_like(p) for p in self.params]
        dW_xh, dW_hh, dW_hy, db_h, db_y = grads
        dh_next = np.zeros_like(h_prev)
        for t in reversed(range(len(inputs))):
            dy = ps[t].copy()
            dy[targets[t]] -= 1.0
            dW_hy += dy @ hs[t].T
            db_y += dy
            dh = self.W_hy.T @ dy + dh_next
            da = (1.0 - hs[t] * hs[t]) * dh
            db_h += da
            dW_xh += da @ xs[t].T
            dW_hh += da @ hs[t - 1].T
            dh_next = self.W_hh.T @ da
        return loss, grads, hs[len(inputs) - 1]

    def step(self, inputs, targets, h_prev, lr=0.1):
        loss, grads, h = self.loss_and_grads(inputs, targets, h_prev)
        for p, g, m in zip(self.params, grads, self.memory):
            np.clip(g, -5, 5, out=g)
            m += g * g
            p -= lr * g / np.sqrt(m + 1e-8)
        return loss, h
