"""Review sentiment: raw text -> features -> logistic regression -> a neural network.

The lectures' first application, on 979 real drug reviews (bundled, CC BY 4.0; 600 for
training, 379 for testing, labelled negative / neutral / positive).  The same test file
scores every model, on the 3-class task and on positive-vs-negative (neutral dropped):

* logistic regression on bag-of-words counts (``bricks.classic``: softmax regression for 3
  classes, binary logistic regression by Newton's method for 2), next to scikit-learn's
  ``LogisticRegression`` on the very same features as the reference;
* an MLP on TF-IDF features (one hidden layer, dropout, Adam);
* a network that reads word ids: an ``Embedding`` averaged over the review (mean pooling);
  :func:`sequence_model` also offers a GRU over the embeddings, left out of the demo's
  table because on 600 reviews it is slow (minutes) and worse than the linear model
  (see docs/applications.md).

Accuracy alone flatters a model that always says "positive" (65% of the test reviews), so
the table also gives macro-F1 (the mean F1 over the classes; the rare neutral class counts
as much as the others).  The binary logistic regression's weights are the lecture's
interpretation slide: the words that push a review towards positive or negative.
"""

from __future__ import annotations

import time

import bricks
from bricks import nn
from bricks.backend import to_numpy, xp
from bricks.classic import LogisticRegression, SoftmaxRegression
from bricks.data.datasets import REVIEW_CLASSES, load_reviews, reviews_vectorizer
from bricks.demos._common import DemoResult, new_figure, save_figure
from bricks.train.metrics import confusion_matrix, f1_score

NAME = "reviews"
TITLE = "Review sentiment: bag-of-words logistic regression vs neural networks"
CLAIM = ("On 979 drug reviews, logistic regression on word counts is a strong baseline; an MLP "
         "on TF-IDF features or averaged word embeddings matches or beats its accuracy, and "
         "the linear model's weights name the words that carry the sentiment.")

TASKS = ("3-class", "binary")


def task_data(task: str):
    """Train and test texts and labels of ``task`` ('3-class' or 'binary')."""
    binary = task == "binary"
    tr, ytr = load_reviews("train", binary=binary)
    te, yte = load_reviews("test", binary=binary)
    return tr, ytr, te, yte


def _scores(y_true, pred):
    return float((pred == y_true).mean()), f1_score(y_true, pred, average="macro")


def logistic_bow(task: str, max_iter: int = 1000):
    """bricks.classic logistic regression (L2, C=1) on bag-of-words counts.

    Returns (model, vectorizer, test predictions)."""
    tr, ytr, te, yte = task_data(task)
    vec = reviews_vectorizer("bow")
    Xtr, Xte = vec.transform(tr).astype(xp.float64), vec.transform(te).astype(xp.float64)
    if task == "binary":
        model = LogisticRegression(C=1.0, solver="newton").fit(Xtr, ytr)
    else:
        # Newton's Hessian would have (3 x 2452)^2 entries: gradient descent instead
        model = SoftmaxRegression(C=1.0, solver="gd", max_iter=max_iter, tol=1e-7).fit(Xtr,
                                                                                     ytr)
    return model, vec, model.predict(Xte)


def sklearn_logistic(task: str, features: str = "bow"):
    """scikit-learn's LogisticRegression (L2, C=1, lbfgs) on the same features, or None."""
    try:
        from sklearn.linear_model import LogisticRegression as SkLogistic
    except ImportError:
        return None
    tr, ytr, te, yte = task_data(task)
    vec = reviews_vectorizer(features)
    model = SkLogistic(C=1.0, max_iter=5000).fit(vec.transform(tr).astype(xp.float64), ytr)
    return model.predict(vec.transform(te).astype(xp.float64))


def mlp_tfidf(task: str, epochs: int = 30, hidden: int = 64, seed: int = 0):
    """An MLP on TF-IDF: dropout 0.2 on the input, ``hidden`` ReLU units, dropout 0.5.

    Returns (model, vectorizer, test predictions)."""
    tr, ytr, te, yte = task_data(task)
    vec = reviews_vectorizer("tfidf")
    Xtr, Xte = vec.transform(tr), vec.transform(te)
    k = int(ytr.max()) + 1
    bricks.manual_seed(seed)
    model = nn.Sequential(nn.Dropout(0.2), nn.Linear(Xtr.shape[1], hidden), nn.ReLU(),
                          nn.Dropout(0.5), nn.Linear(hidden, k))
    opt = bricks.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    bricks.train.fit(model, nn.CrossEntropyLoss(), opt, (Xtr, ytr), epochs=epochs,
                     batch_size=32, seed=seed, verbose=False)
    model.eval()
    pred = to_numpy(bricks.train.predict(model, Xte).data).argmax(axis=1)
    return model, vec, pred


def sequence_model(task: str, kind: str = "mean", epochs: int = 30, dim: int = 32,
                   max_len: int = 200, seed: int = 0):
    """A model that reads token ids: ``Embedding`` then mean pooling or a GRU, then Linear.

    Needs ``bricks.nn.Embedding`` (and ``bricks.nn.GRU`` for ``kind='gru'``); returns None
    when the installed bricks lacks them.  Returns (model, vocabulary, test predictions).
    """
    if not hasattr(nn, "Embedding") or (kind == "gru" and not hasattr(nn, "GRU")):
        return None
    from bricks.demos._text_models import train_sequence_classifier

    tr, ytr, te, yte = task_data(task)
    return train_sequence_classifier(tr, ytr, te, kind=kind, epochs=epochs, dim=dim,
                                     max_len=max_len, seed=seed)


def top_words(model, vec, k: int = 12):
    """The ``k`` words with the largest and the smallest weight of a binary linear model."""
    w = xp.asarray(model.coef_)[0]
    names = vec.get_feature_names_out()
    order = xp.argsort(w)
    pos = [(names[i], float(w[i])) for i in order[::-1][:k]]
    neg = [(names[i], float(w[i])) for i in order[:k]]
    return pos, neg


def run(out_dir, fast: bool = False) -> DemoResult:
    """Every model on both tasks, the table, the top words and the confusion matrices."""
    start = time.perf_counter()
    epochs = 15 if fast else 30
    rows, checks, confusions = [], {}, {}
    linear_binary = None
    for task in TASKS:
        *_, yte = task_data(task)
        k = int(yte.max()) + 1
        results = []
        t0 = time.perf_counter()
        model, vec, pred = logistic_bow(task, max_iter=300 if fast else 1000)
        results.append(("logreg", "logistic regression, BoW (bricks.classic)", pred,
                        time.perf_counter() - t0))
        if task == "binary":
            linear_binary = (model, vec)
        t0 = time.perf_counter()
        pred = sklearn_logistic(task, "bow")
        if pred is not None:
            results.append(("sklearn", "scikit-learn LogisticRegression, same BoW", pred,
                            time.perf_counter() - t0))
        t0 = time.perf_counter()
        _, _, pred = mlp_tfidf(task, epochs=epochs)
        results.append(("mlp", f"MLP {len(vec.vocabulary_)}-64-{k} on TF-IDF", pred,
                        time.perf_counter() - t0))
        t0 = time.perf_counter()
        out = sequence_model(task, "mean", epochs=epochs)
        if out is not None:
            results.append(("mean", "Embedding(32) + mean pooling, word ids", out[2],
                            time.perf_counter() - t0))
        for key, label, pred, secs in results:
            acc, f1 = _scores(yte, pred)
            checks[f"{task}_{key}_acc"], checks[f"{task}_{key}_f1"] = acc, f1
            rows.append((task, label, acc, f1, secs))
            if task == "3-class":
                confusions[label] = confusion_matrix(yte, pred, num_classes=3)
        majority = float((yte == xp.bincount(yte).argmax()).mean())
        checks[f"{task}_majority_acc"] = majority
        rows.append((task, "always the majority class (positive)", majority,
                     f1_score(yte, xp.full_like(yte, xp.bincount(yte).argmax())), 0.0))

    pos, neg = top_words(*linear_binary)
    checks["top_positive"] = [w for w, _ in pos]
    checks["top_negative"] = [w for w, _ in neg]
    lines = ["600 training / 379 test reviews (binary task: 546 / 343, neutral dropped); "
             "vocabulary: words seen twice in the training file", "",
             f"{'task':<9}{'model':<46}{'accuracy':>9}{'macro-F1':>10}{'time':>8}"]
    for task, label, acc, f1, secs in rows:
        lines.append(f"{task:<9}{label:<46}{acc:>9.1%}{f1:>10.3f}{secs:>7.1f}s")
    lines += ["", "most positive words: " + ", ".join(w for w, _ in pos),
              "most negative words: " + ", ".join(w for w, _ in neg)]
    figures = [_plot(pos, neg, confusions, out_dir)]
    lines.append(f"\n(ran in {time.perf_counter() - start:.1f} s)")
    return DemoResult(CLAIM, lines, figures, checks)


def _plot(pos, neg, confusions, out_dir):
    names = list(confusions)[:3]
    fig = new_figure(figsize=(4.2 * (1 + len(names)), 4.6), layout="constrained")
    axes = fig.subplots(1, 1 + len(names))
    words = [w for w, _ in neg][::-1] + [w for w, _ in pos][::-1]
    weights = [v for _, v in neg][::-1] + [v for _, v in pos][::-1]
    ax = axes[0]
    ax.barh(range(len(words)), weights,
            color=["tab:red" if v < 0 else "tab:green" for v in weights])
    ax.set_yticks(range(len(words)), words, fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("weight (positive vs negative, BoW counts)")
    ax.set_title("what the linear model learned")
    for ax, name in zip(axes[1:], names):
        C = to_numpy(confusions[name])
        ax.imshow(C, cmap="Blues")
        for i in range(3):
            for j in range(3):
                ax.text(j, i, str(C[i, j]), ha="center", va="center", fontsize=9,
                        color="white" if C[i, j] > C.max() / 2 else "black")
        ax.set_xticks(range(3), REVIEW_CLASSES, fontsize=8)
        ax.set_yticks(range(3), REVIEW_CLASSES, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(name, fontsize=9)
    fig.suptitle("drug reviews: top words and 3-class confusion matrices (test file)")
    return save_figure(fig, out_dir, "reviews.png")
