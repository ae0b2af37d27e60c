"""Data pipelines that feed `RNN.loss_and_grad(x, target, ...)` and `elman.Trainer`, all time-major.

Three kinds, one module each:

- text (`elman.data.text`): `Vocabulary`, `encode_file` / `load_tokens` (token files on disk,
  memory-mapped), `split` and `TextBatches` (B parallel streams, char-rnn style), for loss
  "cross_entropy";
- sequences (`elman.data.sequences`): `SequenceDataset`, variable-length sequences padded per batch
  with their lengths, and `Loader`, seeded shuffled batches over epochs of a dataset or of arrays;
- time series (`elman.data.series`): `Normalizer`, `read_csv_column`, `windows` and `TimeSeries`,
  next-step prediction windows for loss "mse".

Every source gives the one batch type, `Batch` (x, target, lengths, reset), and is used one way: the
sources (`TextBatches`, `Loader`) are endless iterators, one `next()` per training step, with
`epoch` (how many times they started over), `steps_per_epoch`, `one_pass()` (the batches of one
epoch from the start, for validation, leaving the source where it is) and `state_dict()` /
`load_state_dict()` (to resume). `SequenceDataset.batches(...)` is one pass. `elman.Trainer` also
takes a list of batches (cycled, one epoch per pass), a finite iterator, and tuples (x, target) or
(x, target, lengths) in place of a Batch (`as_batch`).

Only numpy and the standard library; batches are built with vectorized indexing, never a Python loop
over time steps.
"""

from .batch import Batch, as_batch
from .sequences import Loader, SequenceDataset
from .series import Normalizer, TimeSeries, read_csv_column, windows
from .text import TextBatches, Vocabulary, encode_file, load_tokens, split

__all__ = [
    "Batch",
    "Loader",
    "Normalizer",
    "SequenceDataset",
    "TextBatches",
    "TimeSeries",
    "Vocabulary",
    "as_batch",
    "encode_file",
    "load_tokens",
    "read_csv_column",
    "split",
    "windows",
]
