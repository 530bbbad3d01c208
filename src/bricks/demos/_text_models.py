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

__all__ = ["SequenceClassifier", "train_sequence_classifier", "CharRNN", "CharLanguageModel"]


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


class CharRNN(nn.Module):
    """A character-level language model: ``Embedding`` -> GRU or LSTM -> Linear to the
    scores of the next character.

    ``forward(ids, state)`` takes ids (N, T) and the recurrent state (None at the start of a
    text) and returns ``(logits (N, T, V), new state)``.
    """

    def __init__(self, vocab_size: int, hidden: int = 128, embed: int = 32,
                 cell: str = "gru", dropout: float = 0.2):
        super().__init__()
        if cell not in ("gru", "lstm"):
            raise ValueError(f"CharRNN: cell must be 'gru' or 'lstm', got {cell!r}")
        self.cell = cell
        self.embedding = nn.Embedding(vocab_size, embed)
        self.rnn = (nn.GRU if cell == "gru" else nn.LSTM)(embed, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, ids, state=None):
        out, state = self.rnn(self.embedding(ids), state)
        return self.head(self.dropout(out)), state


def _detach(state):
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


class CharLanguageModel:
    """Train a :class:`CharRNN` on a text and measure and sample it.

    Training is truncated backpropagation through time: the text is cut into ``batch``
    parallel streams; each step reads the next ``bptt`` characters of every stream, starts
    from the state the previous step ended in (kept, but detached: gradients flow back at
    most ``bptt`` characters), and clips the gradient norm to ``clip`` before Adam's step
    (one long unroll can make the gradient explode).

    Args:
        cell: ``'gru'`` or ``'lstm'``.
        hidden, embed, dropout: sizes of :class:`CharRNN`.
        bptt: characters per truncated unroll.
        batch: parallel streams.
        lr, clip: Adam's learning rate and the gradient-norm limit.
        seed: initialization, dropout and sampling seed.
    """

    def __init__(self, cell: str = "gru", hidden: int = 128, embed: int = 32,
                 dropout: float = 0.3, bptt: int = 32, batch: int = 8, lr: float = 5e-3,
                 clip: float = 1.0, seed: int = 0):
        self.cell, self.hidden, self.embed, self.dropout = cell, hidden, embed, dropout
        self.bptt, self.batch, self.lr, self.clip, self.seed = bptt, batch, lr, clip, seed

    def fit(self, text: str, epochs: int = 20, valid: str | None = None, on_epoch=None):
        """Learn ``text``; ``on_epoch(epoch, train_loss, valid_perplexity)`` after each pass
        (valid perplexity None without ``valid``).  Returns self."""
        chars = sorted(set(text) | set(valid or ""))
        self.chars_ = chars
        self.index_ = {c: i for i, c in enumerate(chars)}
        bricks.manual_seed(self.seed)
        self.model_ = CharRNN(len(chars), self.hidden, self.embed, self.cell, self.dropout)
        opt = bricks.optim.Adam(self.model_.parameters(), lr=self.lr)
        sched = bricks.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        loss_fn = nn.CrossEntropyLoss()
        ids = self.encode(text)
        per = (len(ids) - 1) // self.batch
        streams = ids[:per * self.batch + 1]
        x_all = xp.stack([streams[b * per:(b + 1) * per] for b in range(self.batch)])
        y_all = xp.stack([streams[b * per + 1:(b + 1) * per + 1] for b in range(self.batch)])
        self.history_ = []
        for epoch in range(epochs):
            self.model_.train()
            state, total, count = None, 0.0, 0
            for t in range(0, per, self.bptt):
                x = bricks.tensor(x_all[:, t:t + self.bptt])
                y = bricks.tensor(y_all[:, t:t + self.bptt])
                logits, state = self.model_(x, _detach(state))
                loss = loss_fn(logits.reshape(-1, len(chars)), y.reshape(-1))
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.model_.parameters(), self.clip)
                opt.step()
                total += float(loss.item()) * y.data.size
                count += y.data.size
            sched.step()
            vp = self.perplexity(valid) if valid else None
            self.history_.append((total / count, vp))
            if on_epoch is not None:
                on_epoch(epoch, total / count, vp)
        return self

    def encode(self, text: str):
        missing = sorted({c for c in text if c not in self.index_})
        if missing:
            raise ValueError(f"CharLanguageModel: characters {missing} were not in the "
                             "training text")
        return xp.asarray([self.index_[c] for c in text], dtype=xp.int64)

    def perplexity(self, text: str) -> float:
        """``exp(mean -log p(c_i | c_<i))`` over the characters of ``text`` after the first
        (read from a fresh state, as one stream)."""
        ids = self.encode(text)
        self.model_.eval()
        with bricks.no_grad():
            logits, _ = self.model_(bricks.tensor(ids[None, :-1]))
            nll = nn.functional.cross_entropy(logits.reshape(-1, len(self.chars_)),
                                              bricks.tensor(ids[1:]))
        return float(xp.exp(float(nll.item())))

    def generate(self, seed: str, length: int = 200, temperature: float = 1.0,
                 random_state: int = 0) -> str:
        """Continue ``seed`` by ``length`` characters, each drawn from
        ``softmax(logits / temperature)``: low temperatures pick the likeliest characters
        (repetitive), high ones flatten the distribution (creative, then garbled)."""
        if not temperature > 0:
            raise ValueError(f"generate: temperature must be positive, got {temperature!r}")
        rng = xp.random.default_rng(random_state)
        self.model_.eval()
        out = list(seed)
        with bricks.no_grad():
            logits, state = self.model_(bricks.tensor(self.encode(seed)[None]))
            last = to_numpy(logits.data)[0, -1]
            for _ in range(length):
                z = last.astype(xp.float64) / temperature
                p = xp.exp(z - z.max())
                p /= p.sum()
                k = int(rng.choice(len(p), p=p))
                out.append(self.chars_[k])
                logits, state = self.model_(bricks.tensor(xp.asarray([[k]])), state)
                last = to_numpy(logits.data)[0, -1]
        return "".join(out)
