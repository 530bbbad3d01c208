"""Networks that read token ids in order, shared by the text demos.

:class:`SequenceClassifier` embeds each token id (``nn.Embedding``), summarizes the review
either by the mean of its real (non-padding) token vectors or by the last hidden state of a
GRU run over them, and maps that summary to class scores with a Linear layer.
"""

from __future__ import annotations

import bricks
from bricks import nn
from bricks.backend import to_numpy, xp
from bricks.data.text import Vocabulary

__all__ = ["SequenceClassifier", "train_sequence_classifier"]


class SequenceClassifier(nn.Module):
    """``Embedding(V, dim)`` -> mean over the real tokens, or GRU(dim, dim) -> Linear.

    ``forward(ids)`` takes int64 ids of shape (N, T) with padding id 0 after the tokens.
    """

    def __init__(self, vocab_size: int, n_classes: int, dim: int = 32, kind: str = "mean"):
        super().__init__()
        if kind not in ("mean", "gru"):
            raise ValueError(f"SequenceClassifier: kind must be 'mean' or 'gru', got {kind!r}")
        self.kind = kind
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        if kind == "gru":
            self.rnn = nn.GRU(dim, dim, batch_first=True)
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(dim, n_classes)

    def forward(self, ids):
        ids_np = ids.data if hasattr(ids, "data") else ids
        mask = (ids_np != 0).astype(xp.float32)                       # (N, T)
        lengths = xp.maximum(mask.sum(axis=1, keepdims=True), 1.0)    # (N, 1)
        e = self.embedding(bricks.tensor(ids_np.astype(xp.int64)))    # (N, T, D)
        if self.kind == "mean":
            h = (e * bricks.tensor(mask[:, :, None])).sum(dim=1) / bricks.tensor(lengths)
        else:
            out, _ = self.rnn(e)                                      # (N, T, D)
            # the state after each review's last real token (padding comes after it)
            last = lengths[:, 0].astype(xp.int64) - 1
            h = out[xp.arange(len(last)), last]
        return self.head(self.dropout(h))


def train_sequence_classifier(train_texts, y_train, test_texts, kind: str = "mean",
                              epochs: int = 30, dim: int = 32, max_len: int = 200,
                              seed: int = 0, min_count: int = 2):
    """Fit a :class:`SequenceClassifier` on texts; returns (model, vocabulary, test preds)."""
    vocab = Vocabulary.build(train_texts, min_count=min_count)
    Xtr, _ = vocab.encode_batch(train_texts, max_len=max_len)
    Xte, _ = vocab.encode_batch(test_texts, max_len=max_len)
    k = int(xp.max(y_train)) + 1
    bricks.manual_seed(seed)
    model = SequenceClassifier(len(vocab), k, dim, kind)
    opt = bricks.optim.Adam(model.parameters(), lr=3e-3 if kind == "mean" else 2e-3)
    bricks.train.fit(model, nn.CrossEntropyLoss(), opt, (Xtr, y_train), epochs=epochs,
                     batch_size=32, seed=seed, verbose=False)
    model.eval()
    pred = to_numpy(bricks.train.predict(model, Xte).data).argmax(axis=1)
    return model, vocab, pred
