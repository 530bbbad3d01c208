"""An n-gram language model writes "Alice" at n = 1, 2, 3 and reports its perplexity.

The model counts which word follows the previous n-1 words in the opening of *Alice's
Adventures in Wonderland* (bundled, public domain) and samples from those counts.  At n = 1
it draws words by frequency (word salad); at n = 2 and 3 local phrases appear, and at n = 3
it mostly recites the book: with this little text most contexts were seen only once.
Perplexity on the training text falls with n; on held-out text, the sparse counts of
larger n generalize poorly, the "classical NLP" problem that neural language models solve.
"""

from __future__ import annotations

import time

from bricks.classic import NGramLanguageModel
from bricks.classic.ngram import bundled_text, tokenize
from bricks.demos._common import DemoResult, new_figure, save_figure

NAME = "text"
TITLE = "An n-gram language model generating text at n = 1, 2, 3"
CLAIM = ("Counting which word follows which gives a language model: the larger n, the more "
         "fluent its text and the lower its perplexity on the training text, but the more "
         "it recites instead of generalizing (held-out perplexity).")

ORDERS = (1, 2, 3)
K = 0.1  # add-k smoothing for held-out text (Laplace's k = 1 drowns the few counts)


def run(out_dir, fast: bool = False) -> DemoResult:
    """Fit n = 1, 2, 3; generate from a seed; perplexities on training and held-out text."""
    start = time.perf_counter()
    tokens = tokenize(bundled_text())
    cut = int(0.85 * len(tokens))
    train, held = tokens[:cut], tokens[cut:]
    length = 20 if fast else 40
    lines = [f"{len(tokens)} tokens of Alice's Adventures in Wonderland, ch. I (1865); "
             f"train on the first {cut}, hold out the last {len(tokens) - cut}", ""]
    checks, train_pp, held_pp = {}, [], []
    for n in ORDERS:
        mle = NGramLanguageModel(n=n, smoothing="none").fit(train)
        smooth = NGramLanguageModel(n=n, smoothing="laplace", k=K).fit(train)
        train_pp.append(mle.perplexity(train))
        held_pp.append(smooth.perplexity(held))
        checks[f"train_perplexity_{n}"] = train_pp[-1]
        checks[f"heldout_perplexity_{n}"] = held_pp[-1]
        lines.append(f"n = {n}: perplexity {train_pp[-1]:7.2f} on the training text (counts), "
                     f"{held_pp[-1]:7.2f} held out (add-{K:g})")
        for temp in (1.0,) if fast else (1.0, 0.5):
            sample = mle.generate("alice was", length=length, temperature=temp,
                                  random_state=n)
            lines.append(f"   T={temp:g}: {sample}")
        checks[f"sample_{n}"] = mle.generate("alice was", length=length, random_state=n)
        lines.append("")
    checks["vocab_size"] = len(NGramLanguageModel(n=1).fit(train).vocab_)

    fig = new_figure(figsize=(6.5, 4))
    ax = fig.subplots()
    width = 0.38
    xs = list(range(len(ORDERS)))
    ax.bar([x - width / 2 for x in xs], train_pp, width, label="training text (counts)")
    ax.bar([x + width / 2 for x in xs], held_pp, width, label=f"held out (add-{K:g})")
    for x, a, b in zip(xs, train_pp, held_pp):
        ax.text(x - width / 2, a, f"{a:.1f}", ha="center", va="bottom", fontsize=8)
        ax.text(x + width / 2, b, f"{b:.0f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(xs, [f"n = {n}" for n in ORDERS])
    ax.set_yscale("log")
    ax.set_ylabel("perplexity (log scale)")
    ax.set_title("n-gram language model on Alice, ch. I")
    ax.legend()
    figures = [save_figure(fig, out_dir, "text_perplexity.png")]
    lines.append(f"(ran in {time.perf_counter() - start:.1f} s)")
    return DemoResult(CLAIM, lines, figures, checks)
