"""bricks.data.transforms: shapes, numbers, seeded determinism, batch vectorization, errors."""

import numpy as np
import pytest
import torch

import bricks
from bricks.data import transforms as T

RANDOM = [
    lambda g: T.RandomShift(2, generator=g),
    lambda g: T.RandomRotation(15, generator=g),
    lambda g: T.GaussianNoise(0.1, generator=g),
    lambda g: T.RandomHorizontalFlip(generator=g),
]
SHAPES = [((7, 9), None), ((3, 7, 9), None), ((5, 7, 9), True), ((5, 3, 7, 9), None)]


def _images(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


# ---------------------------------------------------------------- shapes and kinds
@pytest.mark.parametrize("make", RANDOM)
@pytest.mark.parametrize("shape,batched", SHAPES)
def test_shapes_dtypes_and_kinds(make, shape, batched):
    x = _images(shape)
    out = make(0)(x, batched=batched)
    assert isinstance(out, np.ndarray) and out.shape == shape and out.dtype == np.float32
    t = make(0)(bricks.tensor(x), batched=batched)
    assert isinstance(t, bricks.Tensor) and t.shape == shape
    np.testing.assert_array_equal(t.numpy(), out)  # same seed, same result, either kind


@pytest.mark.parametrize("make", RANDOM)
def test_determinism_under_seed(make):
    x = _images((6, 1, 8, 8))
    a = make(np.random.default_rng(3))(x)
    b = make(np.random.default_rng(3))(x)
    np.testing.assert_array_equal(a, b)
    bricks.manual_seed(9)
    c = make(None)(x)
    bricks.manual_seed(9)
    d = make(None)(x)
    np.testing.assert_array_equal(c, d)
    # an int seed makes one generator: two calls differ, a rebuilt transform repeats them
    t = make(5)
    first, second = t(x), t(x)
    assert not np.array_equal(first, second)
    t2 = make(5)
    np.testing.assert_array_equal(t2(x), first)
    np.testing.assert_array_equal(t2(x), second)


@pytest.mark.parametrize("make", RANDOM[:2] + RANDOM[3:])
def test_batch_draws_per_image_and_single_image_shares_one_draw(make):
    img = np.zeros((8, 8), dtype=np.float32)
    img[2:5, 1:4] = 1.0
    img[6, 5] = 0.5
    batch = np.repeat(img[None], 32, axis=0)
    out = make(1)(batch, batched=True)
    # the same image in every slot comes out transformed in several different ways
    assert len({o.tobytes() for o in out}) > 1
    # a (C, H, W) image: all channels move together
    chw = make(1)(np.repeat(img[None], 3, axis=0))
    np.testing.assert_array_equal(chw[0], chw[1])
    np.testing.assert_array_equal(chw[0], chw[2])
    # batched (N, C, H, W): per image, channels together
    nchw = make(2)(np.repeat(batch[:, None], 2, axis=1))
    np.testing.assert_array_equal(nchw[:, 0], nchw[:, 1])


# ---------------------------------------------------------------- RandomShift
def test_shift_moves_content():
    img = np.zeros((9, 9), dtype=np.float32)
    img[4, 4] = 1.0
    batch = np.repeat(img[None], 200, axis=0)
    out = T.RandomShift(2, generator=0)(batch, batched=True)
    assert np.all(out.sum(axis=(1, 2)) == 1.0)  # a pixel 2 from the edge never leaves
    ys, xs = np.divmod(out.reshape(200, -1).argmax(axis=1), 9)
    assert set(ys.tolist()) == set(range(2, 7)) and set(xs.tolist()) == set(range(2, 7))
    # each image is exactly np.roll of the input, with zeros shifted in
    for o, y, x in zip(out, ys, xs):
        np.testing.assert_array_equal(o, np.roll(img, (y - 4, x - 4), axis=(0, 1)))


def test_shift_fills_and_matches_explicit_translation():
    img = np.arange(1.0, 26.0).reshape(5, 5)
    out = T.RandomShift((1, 0), fill=-1.0, generator=4)(np.repeat(img[None], 20, 0),
                                                         batched=True)
    for o in out:
        dy = 1 if (o[0] == -1).all() else -1 if (o[-1] == -1).all() else 0
        ref = np.full((5, 5), -1.0)
        if dy >= 0:
            ref[dy:] = img[:5 - dy]
        else:
            ref[:dy] = img[-dy:]
        np.testing.assert_array_equal(o, ref)
    assert T.RandomShift(0)(img).tolist() == img.tolist()


# ---------------------------------------------------------------- RandomRotation
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_rotation_by_zero_is_identity(interpolation):
    x = _images((4, 2, 11, 11)).astype(np.float64)
    out = T.RandomRotation((0, 0), interpolation=interpolation)(x)
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("shape", [(6, 6), (7, 7), (3, 5, 5)])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_rotation_by_90_is_rot90(shape, interpolation):
    x = _images(shape)
    for angle, k in ((90, 1), (-90, -1), (180, 2)):
        out = T.RandomRotation((angle, angle), interpolation=interpolation)(x)
        np.testing.assert_allclose(out, np.rot90(x, k, axes=(-2, -1)), atol=1e-6)


def test_rotation_matches_torchvision_convention_on_a_point():
    # counter-clockwise for positive angles: the top-centre pixel goes to the left-centre
    img = np.zeros((5, 5))
    img[0, 2] = 1.0
    out = T.RandomRotation((90, 90))(img)
    assert out[2, 0] == 1.0 and out.sum() == 1.0


def test_rotation_small_angle_bilinear_against_scipy():
    scipy_ndimage = pytest.importorskip("scipy.ndimage")
    x = _images((13, 13)).astype(np.float64)
    angle = 10.0
    ours = T.RandomRotation((angle, angle))(x)
    # scipy.ndimage.rotate with reshape=False rotates about the same centre, same direction
    ref = scipy_ndimage.rotate(x, angle, reshape=False, order=1, mode="constant", cval=0.0)
    inner = (slice(3, -3), slice(3, -3))  # edges differ in how outside pixels are blended
    np.testing.assert_allclose(ours[inner], ref[inner], atol=1e-10)


def test_rotation_angles_in_range_and_integer_images():
    img = np.zeros((15, 15))
    img[7, 7:] = 1.0  # a ray from the centre to the right
    out = T.RandomRotation(20, interpolation="nearest", generator=0)(
        np.repeat(img[None], 50, 0), batched=True)
    # the ray's far end moves up or down by at most 8 * sin(20 deg) < 3 rows
    rows = [np.nonzero(o[:, 14])[0] for o in out]
    assert all(len(r) <= 1 for r in rows)
    far = [abs(int(r[0]) - 7) for r in rows if len(r)]
    assert max(far) <= 3 and len(set(far)) > 1
    ints = T.RandomRotation(10, generator=0)(np.full((6, 6), 200, dtype=np.uint8))
    assert ints.dtype == np.uint8 and ints[2:4, 2:4].tolist() == [[200, 200], [200, 200]]


# ---------------------------------------------------------------- GaussianNoise
def test_noise_statistics():
    x = np.full((200, 1, 20, 20), 3.0, dtype=np.float32)
    out = T.GaussianNoise(0.5, generator=0)(x)
    noise = (out - x).ravel()
    assert out.dtype == np.float32
    assert abs(noise.mean()) < 0.005 and abs(noise.std() - 0.5) < 0.005
    assert abs(np.corrcoef(noise[:-1], noise[1:])[0, 1]) < 0.01  # independent elements
    shifted = T.GaussianNoise(0.1, mean=2.0, generator=0)(np.zeros(10000))
    assert abs(shifted.mean() - 2.0) < 0.005
    np.testing.assert_array_equal(T.GaussianNoise(0.0)(x), x)
    assert T.GaussianNoise(1.0)(np.zeros(3, dtype=np.int64)).dtype == np.float32


# ---------------------------------------------------------------- RandomHorizontalFlip
def test_flip_twice_is_identity_and_p_is_respected():
    x = _images((10, 3, 4, 5))
    flip = T.RandomHorizontalFlip(p=1.0)
    once = flip(x)
    np.testing.assert_array_equal(once, x[..., ::-1])
    np.testing.assert_array_equal(flip(once), x)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(x), x)
    out = T.RandomHorizontalFlip(p=0.3, generator=0)(np.repeat(x[:1], 2000, 0))
    flipped = np.array([np.array_equal(o, x[0, ..., ::-1]) for o in out])
    kept = np.array([np.array_equal(o, x[0]) for o in out])
    assert np.all(flipped ^ kept) and abs(flipped.mean() - 0.3) < 0.04
    tf = torch.flip(torch.tensor(x), dims=[-1]).numpy()
    np.testing.assert_array_equal(flip(bricks.tensor(x)).numpy(), tf)


# ---------------------------------------------------------------- deterministic transforms
def test_normalize_numbers_match_torch():
    x = _images((2, 3, 4, 4))
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]
    out = T.Normalize(mean, std)(x)
    m, s = torch.tensor(mean).view(3, 1, 1), torch.tensor(std).view(3, 1, 1)
    np.testing.assert_allclose(out, ((torch.tensor(x) - m) / s).numpy(), rtol=1e-6)
    np.testing.assert_allclose(T.Normalize(mean, std)(x[0]), out[0], rtol=1e-6)
    assert out.dtype == np.float32
    np.testing.assert_allclose(T.Normalize(0.1307, 0.3081)(x), (x - 0.1307) / 0.3081,
                               rtol=1e-6)
    t = T.Normalize(2.0, 4.0)(bricks.tensor([[2, 6]]))
    assert isinstance(t, bricks.Tensor) and t.tolist() == [[0.0, 1.0]]


def test_flatten_and_onehot():
    x = _images((5, 1, 4, 4))
    assert T.Flatten()(x).shape == (5, 16)  # 4-D: a batch
    assert T.Flatten()(x[0]).shape == (16,)
    assert T.Flatten()(x[:, 0], batched=True).shape == (5, 16)
    np.testing.assert_array_equal(T.Flatten()(x), x.reshape(5, -1))
    y = np.array([[0, 2], [1, 1]])
    oh = T.OneHot(3)(y)
    assert oh.shape == (2, 2, 3) and oh.dtype == np.float32
    np.testing.assert_array_equal(
        oh, torch.nn.functional.one_hot(torch.tensor(y), 3).numpy().astype(np.float32))
    t = T.OneHot(4, dtype=bricks.int64)(bricks.tensor([3, 0]))
    assert isinstance(t, bricks.Tensor) and t.tolist() == [[0, 0, 0, 1], [1, 0, 0, 0]]


def test_compose_chains_and_passes_batched():
    pipeline = T.Compose([T.RandomHorizontalFlip(p=1.0), T.Normalize(0.5, 0.5), T.Flatten(),
                          lambda a: a * 2])
    x = _images((6, 4, 4))
    out = pipeline(x, batched=True)
    np.testing.assert_allclose(out, ((x[..., ::-1] - 0.5) / 0.5 * 2).reshape(6, 16),
                               rtol=1e-6)
    assert "RandomHorizontalFlip" in repr(pipeline)


def test_augmentation_in_a_dataloader_is_reproducible():
    from bricks.data import DataLoader, TensorDataset

    X = _images((20, 8, 8))
    ds = TensorDataset(X, np.arange(20))
    aug = T.Compose([T.RandomShift(1), T.RandomRotation(10), T.GaussianNoise(0.05)])

    def run():
        bricks.manual_seed(21)
        loader = DataLoader(ds, batch_size=8, shuffle=True, transform=aug)
        return [x.numpy() for x, _ in loader]

    a, b = run(), run()
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert a[0].shape == (8, 8, 8)


# ---------------------------------------------------------------- errors
def test_errors_are_clear():
    with pytest.raises(ValueError, match=r"RandomShift: expected a batch.*got shape \(4, 784\)"):
        T.RandomShift(1)(np.zeros((4, 784)), batched=True)
    with pytest.raises(ValueError, match=r"an image of shape \(H, W\).*got shape \(5,\)"):
        T.RandomRotation(5)(np.zeros(5))
    with pytest.raises(ValueError, match="max_shift"):
        T.RandomShift(-1)
    with pytest.raises(ValueError, match="max_shift"):
        T.RandomShift(1.5)
    with pytest.raises(ValueError, match="interpolation"):
        T.RandomRotation(5, interpolation="cubic")
    with pytest.raises(ValueError, match="min > max"):
        T.RandomRotation((10, -10))
    with pytest.raises(ValueError, match="std must be"):
        T.GaussianNoise(-0.1)
    with pytest.raises(ValueError, match="p must be in"):
        T.RandomHorizontalFlip(p=1.5)
    with pytest.raises(ValueError, match="std must be positive"):
        T.Normalize(0.0, 0.0)
    with pytest.raises(ValueError, match="C=3 channels"):
        T.Normalize([0, 0, 0], [1, 1, 1])(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="class index 3 is out of range"):
        T.OneHot(3)(np.array([0, 3]))
    with pytest.raises(TypeError, match="integer class indices"):
        T.OneHot(3)(np.array([0.5]))
    with pytest.raises(ValueError, match="num_classes"):
        T.OneHot(0)
    with pytest.raises(TypeError, match="not callable"):
        T.Compose([T.Flatten(), 3])
