"""Text to numbers: a tokenizer, a vocabulary, bag-of-words, TF-IDF and id sequences.

The lecture's pipeline "raw data -> features -> a model" for text:

* :func:`tokenize` turns a string into words: HTML entities unescaped (``&#039;`` -> ``'``),
  lower-cased, words with inner apostrophes or hyphens kept whole (``didn't``, ``x-ray``);
  punctuation marks optionally as tokens of their own.
* :class:`Vocabulary` maps tokens to ids: most frequent first (ties alphabetical, so the same
  texts always give the same ids), tokens seen fewer than ``min_count`` times left out,
  special tokens (``<pad>`` = 0, ``<unk>`` = 1 by default) in front.
* :class:`CountVectorizer` (bag of words: how often each word occurs; the word order is
  lost) and :class:`TfidfVectorizer` (the counts weighted by how rare a word is across
  documents, scikit-learn's formula, rows scaled to unit length) give one fixed-length
  vector per text for linear models and MLPs.
* :meth:`Vocabulary.encode_batch` gives padded sequences of token ids for models that read
  the words in order (``Embedding`` followed by a recurrent network or pooling).

Everything returns NumPy arrays (the ``xp`` of :mod:`bricks.backend`) and is deterministic.
"""

from __future__ import annotations

import html
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from bricks.backend import xp

__all__ = ["tokenize", "Vocabulary", "CountVectorizer", "TfidfVectorizer", "vectorizer_from_state",
           "PAD", "UNK"]

PAD, UNK = "<pad>", "<unk>"
_WORD = r"[^\W_]+(?:['\-][^\W_]+)*"
_WORDS = re.compile(_WORD)
_WORDS_AND_MARKS = re.compile(_WORD + r"|[.!?,;:]")
_TAGS = re.compile(r"<[^>]{0,200}>")


def tokenize(text: str, lowercase: bool = True, punctuation: bool = False) -> list[str]:
    """Split ``text`` into word tokens.

    HTML entities are unescaped first (``&amp;`` -> ``&``, ``&#039;`` -> ``'``, curly quotes
    become straight ones) and ``<br />``-style tags are dropped; then words are runs of
    letters and digits, with inner ``'`` or ``-`` kept (``didn't``, ``side-effects``).

    Args:
        text: the string.
        lowercase: fold case (``Good`` and ``good`` become one word).
        punctuation: also keep ``. ! ? , ; :`` as tokens.

    Returns:
        The list of tokens, in order.

    Example:
        >>> bricks.data.text.tokenize("I didn&#039;t sleep &amp; felt AWFUL!<br />Day 2.")
        ['i', "didn't", 'sleep', 'felt', 'awful', 'day', '2']
        >>> bricks.data.text.tokenize("Great, thanks!", punctuation=True)
        ['great', ',', 'thanks', '!']
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize: expected a str, got {type(text).__name__}")
    text = html.unescape(html.unescape(_TAGS.sub(" ", text)))
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    if lowercase:
        text = text.lower()
    return (_WORDS_AND_MARKS if punctuation else _WORDS).findall(text)


def _as_token_lists(texts, tokenizer, who: str) -> list[list[str]]:
    if isinstance(texts, str):
        raise TypeError(f"{who}: expected a sequence of texts, got one str "
                        "(wrap it in a list)")
    out = []
    for i, t in enumerate(texts):
        if isinstance(t, str):
            out.append(tokenizer(t))
        elif isinstance(t, (list, tuple)) and all(isinstance(w, str) for w in t):
            out.append(list(t))
        else:
            raise TypeError(f"{who}: item {i} is a {type(t).__name__}; expected a str or a "
                            "list of str tokens")
    return out


class Vocabulary:
    """A two-way map between tokens and integer ids.

    Built by :meth:`build` from texts: tokens that occur at least ``min_count`` times, the
    most frequent first (ties broken alphabetically, so the ids are reproducible), at most
    ``max_size`` of them, after the special tokens.  A token outside the vocabulary maps to
    the ``<unk>`` id (or raises ``KeyError`` when the vocabulary has no ``<unk>``).

    Args:
        tokens: the tokens in id order (specials included where wanted).
        unk: the unknown token, or None for none; it must be among ``tokens``.
        pad: the padding token, or None; it must be among ``tokens``.

    Example:
        >>> v = bricks.data.text.Vocabulary.build(["the cat sat", "the dog"], min_count=1)
        >>> v.tokens
        ['<pad>', '<unk>', 'the', 'cat', 'dog', 'sat']
        >>> v.encode("the bird sat"), v.decode([2, 3, 0])
        ([2, 1, 5], ['the', 'cat', '<pad>'])
    """

    def __init__(self, tokens: Sequence[str], unk: str | None = UNK, pad: str | None = PAD):
        tokens = list(tokens)
        index = {}
        for i, t in enumerate(tokens):
            if not isinstance(t, str):
                raise TypeError(f"Vocabulary: token {i} is a {type(t).__name__}, not a str")
            if t in index:
                raise ValueError(f"Vocabulary: token {t!r} appears twice (ids {index[t]} "
                                 f"and {i})")
            index[t] = i
        for name, special in (("unk", unk), ("pad", pad)):
            if special is not None and special not in index:
                raise ValueError(f"Vocabulary: {name} token {special!r} is not among the "
                                 "tokens")
        self.tokens = tokens
        self.unk, self.pad = unk, pad
        self._index = index
        self.counts: dict[str, int] = {}

    @classmethod
    def build(cls, texts: Iterable, min_count: int = 1, max_size: int | None = None,
              specials: Sequence[str] = (PAD, UNK), tokenizer=tokenize) -> Vocabulary:
        """Count the tokens of ``texts`` and keep the frequent ones.

        Args:
            texts: strings (tokenized with ``tokenizer``) or lists of tokens.
            min_count: keep tokens seen at least this often (rare words carry little
                evidence and would only let a model memorize single reviews).
            max_size: keep at most this many non-special tokens (the most frequent).
            specials: tokens put first, in this order; ``<pad>`` and ``<unk>`` among them
                become :attr:`pad` and :attr:`unk`.
            tokenizer: str -> list of tokens.

        Returns:
            The vocabulary; :attr:`counts` holds every kept token's count.
        """
        if not (isinstance(min_count, int) and min_count >= 1):
            raise ValueError(f"Vocabulary.build: min_count must be an integer >= 1, got "
                             f"{min_count!r}")
        if max_size is not None and not (isinstance(max_size, int) and max_size >= 0):
            raise ValueError(f"Vocabulary.build: max_size must be None or an integer >= 0, "
                             f"got {max_size!r}")
        counts = Counter()
        for toks in _as_token_lists(texts, tokenizer, "Vocabulary.build"):
            counts.update(toks)
        specials = list(specials)
        kept = sorted((t for t, c in counts.items() if c >= min_count and t not in specials),
                      key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[:max_size]
        vocab = cls(specials + kept, unk=UNK if UNK in specials else None,
                    pad=PAD if PAD in specials else None)
        vocab.counts = {t: counts[t] for t in kept}
        return vocab

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token) -> bool:
        return token in self._index

    def __getitem__(self, token: str) -> int:
        """The id of ``token`` (the ``<unk>`` id for an unknown one)."""
        i = self._index.get(token)
        if i is None:
            if self.unk is None:
                raise KeyError(f"token {token!r} is not in the vocabulary (and it has no "
                               "unknown token)")
            return self._index[self.unk]
        return i

    @property
    def unk_id(self) -> int | None:
        return None if self.unk is None else self._index[self.unk]

    @property
    def pad_id(self) -> int | None:
        return None if self.pad is None else self._index[self.pad]

    def encode(self, text, tokenizer=tokenize) -> list[int]:
        """The ids of the tokens of ``text`` (a str, tokenized, or a list of tokens)."""
        toks = tokenizer(text) if isinstance(text, str) else list(text)
        return [self[t] for t in toks]

    def decode(self, ids) -> list[str]:
        """The tokens of a sequence of ids."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.tokens):
                raise IndexError(f"Vocabulary.decode: id {i} is outside 0..{len(self) - 1}")
            out.append(self.tokens[i])
        return out

    def encode_batch(self, texts, max_len: int | None = None, tokenizer=tokenize,
                     truncate: str = "end"):
        """Padded id sequences for models that read words in order.

        Args:
            texts: strings or lists of tokens.
            max_len: the length of every row: longer texts are cut, shorter ones padded
                with the ``<pad>`` id after their last token; None: the longest text.
            tokenizer: str -> tokens.
            truncate: ``'end'`` keeps the first ``max_len`` tokens, ``'start'`` the last.

        Returns:
            ``(ids, lengths)``: int64 arrays of shapes (N, max_len) and (N,); ``lengths``
            counts the real tokens of each row (at least 1 for an empty text, which is one
            ``<pad>``, so that mean pooling never divides by zero).

        Example:
            >>> v = bricks.data.text.Vocabulary.build(["a b b", "c"])
            >>> ids, n = v.encode_batch(["b a", "c c c", ""], max_len=2)
            >>> ids.tolist(), n.tolist()
            ([[2, 3], [4, 4], [0, 0]], [2, 2, 1])
        """
        if self.pad is None:
            raise ValueError("encode_batch: the vocabulary has no padding token")
        if truncate not in ("end", "start"):
            raise ValueError(f"encode_batch: truncate must be 'end' or 'start', got "
                             f"{truncate!r}")
        seqs = [self.encode(t, tokenizer) for t in
                _as_token_lists(texts, tokenizer, "encode_batch")]
        if max_len is None:
            max_len = max([len(s) for s in seqs] + [1])
        if not (isinstance(max_len, int) and max_len >= 1):
            raise ValueError(f"encode_batch: max_len must be a positive integer, got "
                             f"{max_len!r}")
        ids = xp.full((len(seqs), max_len), self.pad_id, dtype=xp.int64)
        lengths = xp.ones(len(seqs), dtype=xp.int64)
        for i, s in enumerate(seqs):
            s = s[:max_len] if truncate == "end" else s[-max_len:]
            ids[i, :len(s)] = s
            lengths[i] = max(len(s), 1)
        return ids, lengths

    def state_dict(self) -> dict:
        """JSON-like state (``bricks.io`` checkpoints can hold it as metadata)."""
        return {"tokens": list(self.tokens), "unk": self.unk, "pad": self.pad}

    @classmethod
    def from_state_dict(cls, state: dict) -> Vocabulary:
        """The vocabulary :meth:`state_dict` described."""
        return cls(state["tokens"], unk=state.get("unk"), pad=state.get("pad"))

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self.tokens[:6])
        return f"Vocabulary({len(self)} tokens: {head}{', ...' if len(self) > 6 else ''})"


class CountVectorizer:
    """Bag of words: row i, column j counts word j of the vocabulary in text i.

    The vocabulary has no special tokens here: unknown words are simply not counted, as in
    scikit-learn's ``CountVectorizer``.  Columns are ordered by frequency in the texts seen
    by :meth:`fit` (most frequent first).

    Args:
        min_count: keep words seen at least this often in the training texts.
        max_features: keep at most this many words (the most frequent).
        binary: 1 if the word occurs at all instead of its count.
        tokenizer: str -> list of tokens (default :func:`tokenize`).

    Example:
        >>> cv = bricks.data.text.CountVectorizer().fit(["good good film", "bad film"])
        >>> cv.get_feature_names_out(), cv.transform(["good bad good", "dull"]).tolist()
        (['film', 'good', 'bad'], [[0.0, 2.0, 1.0], [0.0, 0.0, 0.0]])
    """

    def __init__(self, min_count: int = 1, max_features: int | None = None,
                 binary: bool = False, tokenizer=tokenize):
        self.min_count = min_count
        self.max_features = max_features
        self.binary = binary
        self.tokenizer = tokenizer

    def fit(self, texts, y=None):
        """Build the vocabulary from ``texts``; returns self."""
        self.vocabulary_ = Vocabulary.build(texts, self.min_count, self.max_features,
                                            specials=(), tokenizer=self.tokenizer)
        if len(self.vocabulary_) == 0:
            raise ValueError(f"{type(self).__name__}: no word occurs {self.min_count} or more "
                             "times in the training texts; lower min_count")
        return self

    def _check_fitted(self):
        if not hasattr(self, "vocabulary_"):
            raise ValueError(f"{type(self).__name__} is not fitted yet: call fit(texts) first")

    def _counts(self, texts):
        self._check_fitted()
        index = self.vocabulary_._index
        lists = _as_token_lists(texts, self.tokenizer, f"{type(self).__name__}.transform")
        X = xp.zeros((len(lists), len(index)), dtype=xp.float32)
        for i, toks in enumerate(lists):
            for t in toks:
                j = index.get(t)
                if j is not None:
                    X[i, j] += 1.0
        if self.binary:
            X = (X > 0).astype(xp.float32)
        return X

    def transform(self, texts):
        """Float32 array (n_texts, n_words)."""
        return self._counts(texts)

    def fit_transform(self, texts, y=None):
        return self.fit(texts).transform(texts)

    def get_feature_names_out(self) -> list[str]:
        """The word of each column."""
        self._check_fitted()
        return list(self.vocabulary_.tokens)

    def state_dict(self) -> dict:
        """JSON-like state: the settings and the vocabulary."""
        self._check_fitted()
        return {"class": type(self).__name__, "min_count": self.min_count,
                "max_features": self.max_features, "binary": self.binary,
                "vocabulary": self.vocabulary_.state_dict()}

    def load_state_dict(self, state: dict):
        """Restore a fitted state from :meth:`state_dict`; returns self."""
        self.min_count = state["min_count"]
        self.max_features = state["max_features"]
        self.binary = bool(state["binary"])
        self.vocabulary_ = Vocabulary.from_state_dict(state["vocabulary"])
        return self


class TfidfVectorizer(CountVectorizer):
    """TF-IDF: word counts weighted by rarity, each row scaled to unit length.

    ``tfidf(t, d) = count(t, d) * idf(t)`` with scikit-learn's smoothed
    ``idf(t) = ln((1 + n) / (1 + df(t))) + 1`` (``n`` training texts, ``df(t)`` of them
    contain ``t``); then every row is divided by its Euclidean norm, so long and short
    reviews are comparable.  Words in every text ("the", "i") get the smallest weight.
    With the same vocabulary, the numbers equal scikit-learn's ``TfidfVectorizer``.

    Args:
        min_count, max_features, tokenizer: as :class:`CountVectorizer`.
        sublinear_tf: use ``1 + ln(count)`` instead of the count.

    Attributes:
        idf_: float64 array (n_words,).

    Example:
        >>> tv = bricks.data.text.TfidfVectorizer().fit(["good film", "bad film"])
        >>> tv.get_feature_names_out(), tv.idf_.round(3).tolist()
        (['film', 'bad', 'good'], [1.0, 1.405, 1.405])
        >>> [round(float(v), 3) for v in tv.transform(["good film"])[0]]
        [0.58, 0.0, 0.815]
    """

    def __init__(self, min_count: int = 1, max_features: int | None = None,
                 sublinear_tf: bool = False, tokenizer=tokenize):
        super().__init__(min_count, max_features, False, tokenizer)
        self.sublinear_tf = sublinear_tf

    def fit(self, texts, y=None):
        """Vocabulary and document frequencies of ``texts``; returns self."""
        lists = _as_token_lists(texts, self.tokenizer, "TfidfVectorizer.fit")
        super().fit(lists)
        df = (CountVectorizer._counts(self, lists) > 0).sum(axis=0).astype(xp.float64)
        n = len(lists)
        self.idf_ = xp.log((1.0 + n) / (1.0 + df)) + 1.0
        return self

    def transform(self, texts):
        """Float32 array (n_texts, n_words), rows of unit length (zero rows stay zero)."""
        X = CountVectorizer._counts(self, texts).astype(xp.float64)
        if self.sublinear_tf:
            X = xp.where(X > 0, 1.0 + xp.log(xp.maximum(X, 1.0)), 0.0)
        X = X * self.idf_
        norm = xp.sqrt((X * X).sum(axis=1, keepdims=True))
        return (X / xp.where(norm > 0, norm, 1.0)).astype(xp.float32)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state.update(sublinear_tf=self.sublinear_tf, idf=[float(v) for v in self.idf_])
        return state

    def load_state_dict(self, state: dict):
        super().load_state_dict(state)
        self.sublinear_tf = bool(state["sublinear_tf"])
        self.idf_ = xp.asarray(state["idf"], dtype=xp.float64)
        if self.idf_.shape != (len(self.vocabulary_),) or not all(
                math.isfinite(v) for v in state["idf"]):
            raise ValueError(f"TfidfVectorizer: the state has {self.idf_.size} idf values "
                             f"for {len(self.vocabulary_)} words")
        return self


def vectorizer_from_state(state: dict) -> CountVectorizer:
    """A fitted :class:`CountVectorizer` or :class:`TfidfVectorizer` from its state."""
    kinds = {"CountVectorizer": CountVectorizer, "TfidfVectorizer": TfidfVectorizer}
    kind = state.get("class") if isinstance(state, dict) else None
    if kind not in kinds:
        raise ValueError(f"not a vectorizer state (class {kind!r}); expected one of "
                         f"{', '.join(kinds)}")
    return kinds[kind]().load_state_dict(state)
