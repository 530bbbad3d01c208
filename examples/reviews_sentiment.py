"""Review sentiment on the bundled drug reviews: text -> features -> models.

Run: python examples/reviews_sentiment.py [--fast] [--gru] [--text "a review to classify"]

Prints accuracy and macro-F1 on the 379 test reviews for logistic regression on word counts
(bricks.classic, and scikit-learn's on the same features when installed), an MLP on TF-IDF
and averaged word embeddings, the words with the largest weights, and the class of --text.
--gru adds an Embedding + GRU network (minutes; see docs/applications.md for its numbers).
"""

import argparse

from bricks.data.datasets import REVIEW_CLASSES
from bricks.demos import reviews

parser = argparse.ArgumentParser()
parser.add_argument("--fast", action="store_true", help="fewer epochs")
parser.add_argument("--gru", action="store_true", help="also train Embedding + GRU")
parser.add_argument("--text", default="It worked within a week and I have had no side effects.")
args = parser.parse_args()

epochs = 15 if args.fast else 30
for task in reviews.TASKS:
    *_, y_test = reviews.task_data(task)
    print(f"\n{task}: {len(y_test)} test reviews")
    runs = [("logistic regression, bag of words", reviews.logistic_bow(task)[2]),
            ("scikit-learn LogisticRegression, same", reviews.sklearn_logistic(task)),
            ("MLP on TF-IDF", reviews.mlp_tfidf(task, epochs=epochs)[2])]
    mean = reviews.sequence_model(task, "mean", epochs=epochs)
    if mean is not None:
        runs.append(("Embedding + mean pooling", mean[2]))
    if args.gru:
        gru = reviews.sequence_model(task, "gru", epochs=10, max_len=100)
        if gru is not None:
            runs.append(("Embedding + GRU (10 epochs, 100 words)", gru[2]))
    for name, pred in runs:
        if pred is None:
            continue
        acc, f1 = reviews._scores(y_test, pred)
        print(f"  {name:<42} accuracy {acc:6.1%}   macro-F1 {f1:.3f}")

model, vec, _ = reviews.logistic_bow("binary")
pos, neg = reviews.top_words(model, vec, 10)
print("\nmost positive words:", ", ".join(w for w, _ in pos))
print("most negative words:", ", ".join(w for w, _ in neg))

mlp, tfidf, _ = reviews.mlp_tfidf("3-class", epochs=epochs)
probs = mlp(tfidf.transform([args.text])).softmax(dim=1).data[0]
k = int(probs.argmax())
print(f"\n{args.text!r}: {REVIEW_CLASSES[k]} ({probs[k]:.0%})")
