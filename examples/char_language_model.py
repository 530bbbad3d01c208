"""A character-level GRU (or LSTM) language model of Alice, against n-gram models.

Run: python examples/char_language_model.py [--cell lstm] [--epochs 12] [--seed-text "Alice"]

Truncated backpropagation through time over 8 parallel streams of 32 characters, gradient
clipping at norm 1, Adam with a cosine schedule; prints the held-out perplexity per epoch,
the best character n-gram's, and samples at several temperatures.
"""

import argparse

from bricks.classic import NGramLanguageModel
from bricks.classic.ngram import bundled_text
from bricks.demos._text_models import CharLanguageModel

parser = argparse.ArgumentParser()
parser.add_argument("--cell", choices=("gru", "lstm"), default="gru")
parser.add_argument("--epochs", type=int, default=12)
parser.add_argument("--seed-text", default="Alice was ")
args = parser.parse_args()

text = bundled_text()
cut = int(0.85 * len(text))
train, held = text[:cut], text[cut:]
best = min((NGramLanguageModel(n=n, k=0.1).fit(list(train)).perplexity(list(held)), n)
           for n in range(1, 6))
print(f"best character n-gram: n={best[1]}, held-out perplexity {best[0]:.2f}")
lm = CharLanguageModel(args.cell).fit(
    train, epochs=args.epochs, valid=held,
    on_epoch=lambda e, loss, vp: print(f"epoch {e + 1}: train loss {loss:.3f}, "
                                       f"held-out perplexity {vp:.2f}"))
for t in (0.3, 0.7, 1.0, 1.5):
    print(f"T={t}: {lm.generate(args.seed_text, 200, t)!r}")
