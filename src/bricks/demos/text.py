"""An n-gram language model writes "Alice" at n = 1, 2, 3 and reports its perplexity.

The model counts which word follows the previous n-1 words in the opening of *Alice's
Adventures in Wonderland* (bundled, public domain) and samples from those counts.  At n = 1
it draws words by frequency (word salad); at n = 2 and 3 local phrases appear, and at n = 3
it mostly recites the book: with this little text most contexts were seen only once.
Perplexity on the training text falls with n; on held-out text, the sparse counts of
larger n generalize poorly, the "classical NLP" problem that neural language models solve.

``model='gru'`` or ``'lstm'`` (``bricks demo text --model gru``) adds the neural language
model on the same text, at the level of characters: a character-level GRU (or LSTM) trained
by truncated backpropagation through time with gradient clipping, its held-out perplexity
next to that of character n-grams (n = 1..5) on the same held-out characters, and samples
at several temperatures.
"""

from __future__ import annotations

import math
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


MODELS = ("ngram", "gru", "lstm")
CHAR_ORDERS = (1, 2, 3, 4, 5)
CHAR_K = 0.1
TEMPERATURES = (0.3, 0.7, 1.0, 1.5)
NEURAL_CLAIM = ("A character-level recurrent network, trained by truncated backpropagation "
                "through time, predicts held-out text better (lower perplexity) than the "
                "best character n-gram model: its state carries more context than n-1 "
                "characters, and similar contexts share what they learned.")


def run(out_dir, fast: bool = False, model: str = "ngram") -> DemoResult:
    """Fit n = 1, 2, 3; generate from a seed; perplexities on training and held-out text.

    ``model='gru'``/``'lstm'``: also the character-level neural model (see the module)."""
    if model not in MODELS:
        raise ValueError(f"demo text: model must be one of {', '.join(MODELS)}, got {model!r}")
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
    claim = CLAIM
    if model != "ngram":
        claim = CLAIM + "\n" + NEURAL_CLAIM
        figures.append(_neural(model, fast, lines, checks, out_dir))
    lines.append(f"(ran in {time.perf_counter() - start:.1f} s)")
    return DemoResult(claim, lines, figures, checks)


def _neural(cell, fast, lines, checks, out_dir):
    """The character-level GRU/LSTM against character n-grams; appends to lines/checks."""
    from bricks.demos._text_models import CharLanguageModel

    text = bundled_text()
    cut = int(0.85 * len(text))
    train, held = text[:cut], text[cut:]
    epochs = 6 if fast else 12
    lines += [f"character level: {len(train)} training characters, {len(held)} held out "
              f"({len(set(text))} distinct characters)", ""]
    ngram_pp = {}
    for n in CHAR_ORDERS:
        lm = NGramLanguageModel(n=n, smoothing="laplace", k=CHAR_K).fit(list(train))
        ngram_pp[n] = lm.perplexity(list(held))
        checks[f"char_ngram_perplexity_{n}"] = ngram_pp[n]
    best_n = min(ngram_pp, key=ngram_pp.get)
    t0 = time.perf_counter()
    net = CharLanguageModel(cell, hidden=128).fit(train, epochs=epochs, valid=held)
    secs = time.perf_counter() - t0
    valid = [v for _, v in net.history_]
    checks[f"{cell}_perplexity"] = valid[-1]
    checks["best_char_ngram_perplexity"] = ngram_pp[best_n]
    for n in CHAR_ORDERS:
        lines.append(f"character {n}-gram (add-{CHAR_K:g}): held-out perplexity "
                     f"{ngram_pp[n]:6.2f}" + ("  <- best n-gram" if n == best_n else ""))
    lines += [f"character {cell.upper()} (128 units, {epochs} epochs, truncated BPTT 32, "
              f"clip 1.0): held-out perplexity {valid[-1]:6.2f}  ({secs:.0f} s)", "",
              "samples from the network, seed 'Alice was ':"]
    for temp in TEMPERATURES:
        sample = net.generate("Alice was ", 100 if fast else 160, temp, random_state=1)
        checks[f"{cell}_sample_{temp:g}"] = sample
        lines.append(f"   T={temp:g}: " + " ".join(sample.split()))
    lines.append("")

    fig = new_figure(figsize=(10, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(range(1, epochs + 1), valid, marker="o", label=f"{cell.upper()} held out")
    ax1.plot(range(1, epochs + 1), [math.exp(loss) for loss, _ in net.history_],
             marker=".", label=f"{cell.upper()} training")
    ax1.axhline(ngram_pp[best_n], color="tab:red", ls="--",
                label=f"best character n-gram (n={best_n})")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("perplexity per character")
    ax1.set_yscale("log")
    ax1.legend()
    ax1.set_title("neural vs n-gram language model")
    names = [f"{n}-gram" for n in CHAR_ORDERS] + [cell.upper()]
    values = [ngram_pp[n] for n in CHAR_ORDERS] + [valid[-1]]
    ax2.bar(range(len(values)), values, color=["tab:gray"] * len(CHAR_ORDERS) + ["tab:blue"])
    for i, v in enumerate(values):
        ax2.text(i, v, f"{v:.1f}", ha="center", va="bottom", fontsize=8)
    ax2.set_xticks(range(len(values)), names)
    ax2.set_ylabel("held-out perplexity per character")
    ax2.set_title("Alice, ch. I: the last 15% of the characters")
    return save_figure(fig, out_dir, f"text_{cell}.png")

