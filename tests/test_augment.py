import pytest
import torch

from pagan_lightning.augment import (
    Augmenter,
    AugmenterError,
    Identity,
    ReflectPadCrop,
    check_augmenter,
)
from pagan_lightning.runtime.configs import instantiate_model
from tests.helpers.configs import TINY, compose_train


class HorizontalFlip(Augmenter):
    """A user's augmentation, selected from config in a test below."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flip(-1)


def test_reflect_pad_crop_keeps_shape_and_changes_pixels() -> None:
    x = torch.rand(16, 3, 32, 32) * 2 - 1
    y = ReflectPadCrop(0.1)(x)
    assert y.shape == x.shape and y.device == x.device
    assert not torch.equal(x, y)


def test_pad_is_ten_percent_of_the_size() -> None:
    assert ReflectPadCrop(0.1).pad_size(torch.zeros(1, 1, 32, 64)) == (3, 6)


def test_one_draw_per_sample() -> None:
    x = torch.rand(1, 1, 32, 32).expand(32, -1, -1, -1)  # the same image 32 times
    y = ReflectPadCrop(0.1)(x)
    distinct = {tuple(img.flatten().tolist()) for img in y}
    assert len(distinct) > 10  # 49 possible shifts, 32 independent draws


def test_zero_shift_and_zero_pad_are_the_identity() -> None:
    x = torch.rand(4, 3, 32, 32)
    zero = torch.zeros(4, dtype=torch.long)
    assert torch.equal(ReflectPadCrop(0.1).shift(x, zero, zero), x)
    assert torch.equal(ReflectPadCrop(0.0)(x), x)
    assert torch.equal(Identity()(x), x)


def test_a_shift_keeps_the_content() -> None:
    """a(x) is x translated (content kept): inside the image, out[i, j] = x[i + dy, j + dx];
    outside, mirrored pixels of x."""
    x = torch.rand(2, 1, 32, 32)
    dy, dx = torch.tensor([2, -3]), torch.tensor([-1, 3])
    y = ReflectPadCrop(0.1).shift(x, dy, dx)
    assert torch.equal(y[0, :, 0:30, 1:32], x[0, :, 2:32, 0:31])
    assert torch.equal(y[1, :, 3:32, 0:29], x[1, :, 0:29, 3:32])
    assert torch.equal(y[0, :, 30, 1:], x[0, :, 30, :-1])  # reflected row (index 32 -> 30)
    # pixel histogram mostly preserved: a shift moves pixels, it does not change them
    assert (y.mean() - x.mean()).abs() < 0.05


def test_augmenter_keeps_the_input_dtype() -> None:
    x = torch.rand(3, 1, 16, 16, dtype=torch.float64)
    assert ReflectPadCrop()(x).dtype == torch.float64


def test_pad_fraction_is_validated() -> None:
    with pytest.raises(ValueError, match="pad_fraction"):
        ReflectPadCrop(1.5)


def test_a_subclass_is_picked_up_from_config(tmp_path) -> None:
    overrides = ["model/augmenter=identity", f"model.augmenter._target_={__name__}.HorizontalFlip"]
    model = instantiate_model(compose_train([*TINY, *overrides], tmp_path))
    assert isinstance(model.augmenter, HorizontalFlip)
    x = torch.rand(2, 1, 32, 32)
    assert torch.equal(model.augmenter(x), x.flip(-1))


class Brighter(Augmenter):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.5


class Smaller(Augmenter):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., 1:, 1:]


class Half(Augmenter):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.half()


class OwnGenerator(Augmenter):
    """Draws from a private generator: a fixed seed does not fix it."""

    def __init__(self) -> None:
        super().__init__()
        self.generator = torch.Generator()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rand(len(x), 1, 1, 1, generator=self.generator)


class OneShiftPerBatch(ReflectPadCrop):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dy, dx = torch.randint(-3, 4, (2,))
        return self.shift(x, dy.expand(len(x)), dx.expand(len(x)))


class Fails(Augmenter):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise ValueError("no")


@pytest.mark.parametrize(
    ("augmenter", "rule"),
    [
        (Brighter(), "leaves the image range [-1, 1]"),
        (Smaller(), "changes the batch: shape, dtype, device ((8, 1, 15, 15)"),
        (Half(), "torch.float16"),
        (OwnGenerator(), "is not reproducible: the same seed gives another a(x)"),
        (OneShiftPerBatch(), "draws once per batch, not once per sample"),
        (Fails(), "fails on a batch of shape (8, 1, 16, 16): ValueError: no"),
    ],
)
def test_check_augmenter_names_the_rule_broken(augmenter: Augmenter, rule: str) -> None:
    x = torch.rand(8, 1, 16, 16) * 2 - 1
    with pytest.raises(AugmenterError) as err:
        check_augmenter(augmenter, x)
    assert str(err.value).startswith(f"augmenter {type(augmenter).__name__} ")
    assert rule in str(err.value)


def test_the_projects_augmenters_keep_the_contract_and_the_random_state() -> None:
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    state = torch.get_rng_state()
    for augmenter in (ReflectPadCrop(0.1), Identity(), HorizontalFlip()):
        check_augmenter(augmenter, x)
    assert torch.equal(torch.get_rng_state(), state)
