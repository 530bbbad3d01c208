"""bricks.data.text (tokenizer, vocabulary, bag-of-words, TF-IDF, id sequences) and the
bundled drug reviews."""

from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest

from bricks.data import text as T
from bricks.data.datasets import (
    DATASETS,
    REVIEW_CLASSES,
    load_dataset,
    load_reviews,
    load_reviews_features,
    reviews_vectorizer,
    sha256sum,
)
from bricks.data.datasets import reviews as reviews_module

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path("/work/shared/data/drug-reviews.zip")


# ---------------------------------------------------------------- tokenizer
def test_tokenize_unescapes_html_lowercases_and_keeps_inner_apostrophes():
    got = T.tokenize("I didn&#039;t like it &amp; I&rsquo;m DONE.<br />Side-effects: none")
    assert got == ["i", "didn't", "like", "it", "i'm", "done", "side-effects", "none"]
    assert T.tokenize("Good GOOD", lowercase=False) == ["Good", "GOOD"]
    assert T.tokenize("ok! no?", punctuation=True) == ["ok", "!", "no", "?"]
    assert T.tokenize("") == []
    with pytest.raises(TypeError, match="expected a str"):
        T.tokenize(3)


# ---------------------------------------------------------------- vocabulary
def test_vocabulary_order_min_count_specials_and_unknown():
    v = T.Vocabulary.build(["b a b c", "a b", "d"], min_count=2)
    assert v.tokens == ["<pad>", "<unk>", "b", "a"]  # b: 3, a: 2; c, d dropped
    assert (v.pad_id, v.unk_id) == (0, 1)
    assert v["c"] == 1 and v["a"] == 3 and "c" not in v and "a" in v
    assert v.counts == {"b": 3, "a": 2}
    assert v.encode("A c b") == [3, 1, 2]  # lower-cased by the tokenizer
    assert T.Vocabulary.build(["x y z z"], max_size=1).tokens == ["<pad>", "<unk>", "z"]
    plain = T.Vocabulary.build(["x y"], specials=())
    assert plain.tokens == ["x", "y"] and plain.unk is None
    with pytest.raises(KeyError, match="not in the vocabulary"):
        plain["q"]
    with pytest.raises(ValueError, match="min_count"):
        T.Vocabulary.build(["x"], min_count=0)
    with pytest.raises(ValueError, match="appears twice"):
        T.Vocabulary(["a", "a"], unk=None, pad=None)
    with pytest.raises(TypeError, match="one str"):
        T.Vocabulary.build("not a list")


def test_vocabulary_state_round_trip_and_decode():
    v = T.Vocabulary.build(["the cat sat on the mat"])
    w = T.Vocabulary.from_state_dict(v.state_dict())
    assert w.tokens == v.tokens and w.encode("the dog") == v.encode("the dog")
    assert w.decode(w.encode("the mat")) == ["the", "mat"]
    with pytest.raises(IndexError, match="outside"):
        w.decode([len(w)])


def test_encode_batch_pads_truncates_and_counts_lengths():
    v = T.Vocabulary.build(["a b c d e"])
    ids, n = v.encode_batch(["a b c d e", "b", ""], max_len=3)
    assert ids.dtype == np.int64 and ids.shape == (3, 3)
    assert ids.tolist() == [[v["a"], v["b"], v["c"]], [v["b"], 0, 0], [0, 0, 0]]
    assert n.tolist() == [3, 1, 1]
    ids, _ = v.encode_batch(["a b c d e"], max_len=2, truncate="start")
    assert ids.tolist() == [[v["d"], v["e"]]]
    ids, n = v.encode_batch([["a", "zz"]])  # token lists, longest length by default
    assert ids.tolist() == [[v["a"], v.unk_id]] and n.tolist() == [2]


# ---------------------------------------------------------------- vectorizers vs sklearn
DOCS = ["Good film, good acting!", "Bad film &amp; bad plot.", "good plot; dull film",
        "I didn&#039;t like it", "dull dull dull"]


def _sklearn_same_vocab(cls, vec, **kw):
    return cls(vocabulary=vec.get_feature_names_out(), tokenizer=T.tokenize, lowercase=False,
               token_pattern=None, **kw)


def test_count_vectorizer_equals_sklearn():
    fe = pytest.importorskip("sklearn.feature_extraction.text")
    cv = T.CountVectorizer().fit(DOCS)
    X = cv.transform(DOCS + ["unknown words only"])
    ref = _sklearn_same_vocab(fe.CountVectorizer, cv).fit_transform(
        DOCS + ["unknown words only"]).toarray()
    np.testing.assert_array_equal(X, ref)
    assert cv.get_feature_names_out()[:2] == ["dull", "film"]  # 4 and 3 occurrences
    assert X.dtype == np.float32 and not X[-1].any()
    b = T.CountVectorizer(binary=True).fit(DOCS).transform(["dull dull"])
    assert b.max() == 1.0


def test_tfidf_vectorizer_equals_sklearn():
    fe = pytest.importorskip("sklearn.feature_extraction.text")
    for sub in (False, True):
        tv = T.TfidfVectorizer(sublinear_tf=sub).fit(DOCS)
        ref = _sklearn_same_vocab(fe.TfidfVectorizer, tv, sublinear_tf=sub).fit(DOCS)
        np.testing.assert_allclose(tv.idf_, ref.idf_, rtol=1e-12)
        np.testing.assert_allclose(tv.transform(DOCS), ref.transform(DOCS).toarray(),
                                   rtol=1e-6, atol=1e-7)
    X = tv.transform(DOCS)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-6)


def test_vectorizer_state_round_trip_and_errors():
    tv = T.TfidfVectorizer(min_count=2).fit(DOCS)
    back = T.vectorizer_from_state(tv.state_dict())
    assert isinstance(back, T.TfidfVectorizer)
    np.testing.assert_array_equal(back.transform(DOCS), tv.transform(DOCS))
    with pytest.raises(ValueError, match="not fitted"):
        T.TfidfVectorizer().transform(DOCS)
    with pytest.raises(ValueError, match="lower min_count"):
        T.CountVectorizer(min_count=5).fit(["a b"])
    with pytest.raises(ValueError, match="not a vectorizer state"):
        T.vectorizer_from_state({"class": "Pickle"})


# ---------------------------------------------------------------- bundled reviews
def test_reviews_counts_labels_and_text_cleaning():
    texts, y = load_reviews("train")
    assert len(texts) == 600 and np.bincount(y).tolist() == [161, 54, 385]
    texts_t, y_t = load_reviews("test")
    assert len(texts_t) == 379 and np.bincount(y_t).tolist() == [95, 36, 248]
    all_texts, all_y = load_reviews()
    assert all_texts == texts + texts_t and np.array_equal(all_y, np.concatenate([y, y_t]))
    assert not any(t.startswith('"') or t.endswith('"') for t in texts)  # outer quotes gone
    assert any("&#039;" in t for t in texts)  # as published; the tokenizer unescapes
    bt, by = load_reviews("train", binary=True)
    assert len(bt) == 546 and np.bincount(by).tolist() == [161, 385]
    assert REVIEW_CLASSES == ("negative", "neutral", "positive")
    with pytest.raises(ValueError, match="split"):
        load_reviews("valid")


def test_reviews_file_checksum_attribution_and_package_data():
    path = reviews_module.BUNDLED_REVIEWS
    assert sha256sum(path) == reviews_module.BUNDLED_REVIEWS_SHA256
    if SHARED.exists():
        assert path.read_bytes() == SHARED.read_bytes()
    note = (path.parent / "LICENSE-drug-reviews.txt").read_text(encoding="utf-8")
    for needed in ("Drug Review Dataset (Drugs.com)", "Kallumadi", "Malberg", "Zaunseder",
                   "CC BY 4.0", "creativecommons.org/licenses/by/4.0", "drug-reviews.zip"):
        assert needed in note
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["bricks.data.datasets"]
    for p in (path, path.parent / "LICENSE-drug-reviews.txt"):
        rel = p.relative_to(path.parent.parent).as_posix()
        assert any(fnmatch(rel, pat) for pat in patterns), rel


def test_reviews_features_use_the_training_vocabulary_only():
    vec = reviews_vectorizer()
    assert len(vec.vocabulary_) == reviews_module.REVIEWS_N_WORDS
    assert DATASETS["reviews"].input_shape == (reviews_module.REVIEWS_N_WORDS,)
    train_words = set(T.Vocabulary.build(load_reviews("train")[0], min_count=2,
                                         specials=()).tokens)
    assert set(vec.get_feature_names_out()) == train_words
    X, y = load_dataset("reviews")
    assert X.shape == (979, reviews_module.REVIEWS_N_WORDS) and y.shape == (979,)
    Xb, yb = load_dataset("reviews", features="bow", split="test", binary=True)
    assert Xb.shape[0] == len(yb) == 343 and set(np.unique(yb)) == {0, 1}
    spec = DATASETS["reviews"]
    assert spec.classes == REVIEW_CLASSES and spec.n_train == 600
    Xf, _ = load_reviews_features("tfidf", split="train")
    np.testing.assert_array_equal(Xf, X[:600])
