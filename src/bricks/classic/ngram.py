"""A counting n-gram language model: the "classical NLP" before neural language models.

An n-gram model assumes each word depends only on the n-1 words before it and estimates
``P(w | context) = count(context, w) / count(context)`` from a text.  Add-k (Laplace for
k = 1) smoothing gives unseen pairs a little mass:
``P(w | c) = (count(c, w) + k) / (count(c) + k V)`` with V the vocabulary size.
Perplexity ``exp(-(1/N) sum_i log P(w_i | context_i))`` is the effective number of choices
per word: lower is better.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from importlib import resources
from pathlib import Path

from bricks.backend import xp
from bricks.classic._base import check_random_state

__all__ = ["NGramLanguageModel", "tokenize", "detokenize", "bundled_text"]

_TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*|[.!?,;:]")
START, UNK = "<s>", "<unk>"


def tokenize(text: str) -> list[str]:
    """Lower-cased words (with inner ' and -) and the punctuation marks . ! ? , ; :

    Example:
        >>> bricks.classic.ngram.tokenize("'Oh dear! Oh dear! I shall be late!'")
        ['oh', 'dear', '!', 'oh', 'dear', '!', 'i', 'shall', 'be', 'late', '!']
    """
    return _TOKEN.findall(text.lower())


def detokenize(tokens) -> str:
    """Join tokens with spaces, punctuation attached to the word before it."""
    out = ""
    for tok in tokens:
        if tok == START:
            continue
        out += tok if (tok in ".!?,;:" or not out) else " " + tok
    return out


def bundled_text() -> str:
    """The bundled public-domain text: the opening of chapter I of Lewis Carroll's
    *Alice's Adventures in Wonderland* (1865), about 950 words (see ``texts/README.txt``).

    Example:
        >>> bricks.classic.ngram.bundled_text()[:27]
        'Alice was beginning to get '
    """
    return resources.files("bricks.classic").joinpath("texts/alice_ch1.txt").read_text(
        encoding="utf-8")


class NGramLanguageModel:
    """Counts which word follows which ``n - 1`` words; generates text and scores it.

    Args:
        n: order of the model (1: unigram, word frequencies; 2: bigram; 3: trigram).
        smoothing: ``'laplace'`` (add-k with ``k``) or ``'none'`` (maximum likelihood; an
            unseen n-gram has probability 0 and makes the perplexity infinite).
        k: the pseudo-count of add-k smoothing (1.0 is Laplace's rule).

    Attributes (after ``fit``):
        vocab_ (sorted words, ``<unk>`` included), counts_ (context tuple -> Counter of the
        next words, for every context length 0..n-1), n_tokens_.

    Example:
        >>> lm = bricks.classic.NGramLanguageModel(n=2).fit("the cat sat . the cat ran .")
        >>> round(lm.prob("cat", ["the"]), 4)  # (2 + 1) / (2 + 6)
        0.375
        >>> lm.generate("the", length=3, temperature=0)
        'the cat ran.'
    """

    def __init__(self, n: int = 2, smoothing: str = "laplace", k: float = 1.0):
        self.n = n
        self.smoothing = smoothing
        self.k = k

    def __repr__(self) -> str:
        return f"NGramLanguageModel(n={self.n}, smoothing={self.smoothing!r}, k={self.k})"

    @classmethod
    def from_file(cls, path, n: int = 2, smoothing: str = "laplace", k: float = 1.0,
                  encoding: str = "utf-8") -> NGramLanguageModel:
        """A model fitted on the text file at ``path``."""
        return cls(n=n, smoothing=smoothing, k=k).fit(Path(path).read_text(encoding=encoding))

    @staticmethod
    def bundled_text() -> str:
        """The bundled public-domain text (see :func:`bundled_text`)."""
        return bundled_text()

    def _tokens(self, text_or_tokens) -> list[str]:
        if isinstance(text_or_tokens, str):
            return tokenize(text_or_tokens)
        return [str(t) for t in text_or_tokens]

    def fit(self, text_or_tokens) -> NGramLanguageModel:
        """Count the n-grams of a text (a string, tokenized by :func:`tokenize`) or of a
        list of tokens; returns self."""
        if int(self.n) != self.n or self.n < 1:
            raise ValueError(f"NGramLanguageModel: n must be a positive integer, got {self.n!r}")
        if self.smoothing not in ("laplace", "none"):
            raise ValueError("NGramLanguageModel: smoothing must be 'laplace' or 'none', "
                             f"got {self.smoothing!r}")
        if self.smoothing == "laplace" and not self.k > 0:
            raise ValueError(f"NGramLanguageModel: k must be positive, got {self.k!r}")
        tokens = self._tokens(text_or_tokens)
        if not tokens:
            raise ValueError("NGramLanguageModel.fit: the text has no tokens")
        n = int(self.n)
        padded = [START] * (n - 1) + tokens
        counts: dict[tuple, Counter] = {}
        for i in range(n - 1, len(padded)):
            for order in range(n):  # contexts of every length, for backing off in generate
                ctx = tuple(padded[i - order:i])
                counts.setdefault(ctx, Counter())[padded[i]] += 1
        self.counts_ = counts
        self.vocab_ = sorted(set(tokens) | {UNK})
        self.n_tokens_ = len(tokens)
        return self

    def _check_fitted(self):
        if not hasattr(self, "counts_"):
            raise ValueError("This NGramLanguageModel is not fitted yet; call fit(text) first")

    def prob(self, word: str, context=()) -> float:
        """``P(word | last n-1 words of context)``, smoothed as configured."""
        self._check_fitted()
        n = int(self.n)
        ctx = tuple(([START] * (n - 1) + [str(w) for w in context])[-(n - 1):]) if n > 1 else ()
        word = word if word in self.vocab_ else UNK
        following = self.counts_.get(ctx, Counter())
        total = sum(following.values())
        if self.smoothing == "laplace":
            k = float(self.k)
            return (following[word] + k) / (total + k * len(self.vocab_))
        return following[word] / total if total else 0.0

    def perplexity(self, text_or_tokens) -> float:
        """``exp(-(1/N) sum_i log P(w_i | w_{i-n+1} .. w_{i-1}))`` over the text's tokens.

        Example:
            >>> lm = bricks.classic.NGramLanguageModel(n=1, smoothing="none").fit("a b a b")
            >>> lm.perplexity("a b")  # each word has probability 1/2
            2.0
        """
        self._check_fitted()
        tokens = self._tokens(text_or_tokens)
        if not tokens:
            raise ValueError("NGramLanguageModel.perplexity: the text has no tokens")
        n = int(self.n)
        padded = [START] * (n - 1) + tokens
        log_sum = 0.0
        for i in range(n - 1, len(padded)):
            p = self.prob(padded[i], padded[i - n + 1:i] if n > 1 else [])
            if p == 0.0:
                return math.inf
            log_sum += math.log(p)
        return math.exp(-log_sum / len(tokens))

    def generate(self, seed="", length: int = 30, temperature: float = 1.0,
                 random_state=None) -> str:
        """Continue ``seed`` by ``length`` sampled words.

        Each next word is drawn from the observed continuations of the last n-1 words with
        probability ``count^(1/T) / sum count^(1/T)`` (``T = temperature``; T < 1 sharpens,
        T > 1 flattens, T = 0 always takes the most frequent, ties alphabetically).  When the
        context never occurred, the model backs off to shorter contexts.  Smoothing only affects
        :meth:`prob` and :meth:`perplexity`.

        Returns:
            the seed and the generated words as one string.
        """
        self._check_fitted()
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature!r}")
        rng = check_random_state(random_state)
        n = int(self.n)
        tokens = [START] * (n - 1) + self._tokens(seed)
        for _ in range(int(length)):
            for order in range(n - 1, -1, -1):
                ctx = tuple(tokens[len(tokens) - order:]) if order else ()
                if ctx in self.counts_:
                    break
            following = self.counts_[ctx]
            words = sorted(following)
            c = xp.array([following[w] for w in words], dtype=xp.float64)
            if temperature == 0:
                choice = int(xp.argmax(c))
            else:
                logits = xp.log(c) / float(temperature)
                p = xp.exp(logits - logits.max())
                choice = int(rng.choice(len(words), p=p / p.sum()))
            tokens.append(words[choice])
        return detokenize(tokens)
