"""The names the plan checks before any job, importable without torch or numpy.

Snakemake parses the workflow (the DAG, `snakemake -n`, `--lint`) on a submit host that may hold
Snakemake and the standard library alone: everything the plan needs to know about
activations, image models and embedded datasets lives here, and the modules that implement them
(activations, vision, data) check on import that they agree with it.
"""

from __future__ import annotations

# Fixed activation functions (nnclaims.nets.activations.ACTIVATIONS holds their code).
ACTIVATIONS = (
    "relu",
    "swish",
    "max_sigmoid",
    "mish",
    "hat",
    "hat_wide",
    "hat_narrow",
    "tanh",
    "sin",
    "leaky_relu",
    "elu",
    "selu",
    "softplus",
    "gelu",
    "identity",
    "square",
    "cube",
    "abs",
    "softplus_abs",
)
TRAINABLE = ("swish_beta",)  # x·σ(βx) with β learned, one β per model and layer, β0 = 1


def known_activations() -> list[str]:
    return sorted([*ACTIVATIONS, *TRAINABLE])


IMAGE_MODELS = ("vgg_he", "resnet", "conv", "lenet", "airbench")  # built by nnclaims.nets.vision
STACKED_MODELS = ("mlp", "mlp_res", "cnn")  # models.MODELS: one tensor per layer for all K models

# Embedded datasets' example shape, training-set size and classes (downloads carry their own).
# `sines` is the spectral probe's target, made by the probe itself.
EMBEDDED_SHAPES = {
    "mnist1d": ((40,), 4000, 10),
    "digits": ((64,), 1437, 10),
    "sines": ((1,), 200, 1),
}
EMBEDDED_DATASETS = ("mnist1d", "digits")  # made by nnclaims.data.datasets, no download
ALPHA = 0.05  # familywise error level of each claim's Holm families (nnclaims.stats.paired)
DRAWABLE = ("mnist1d", "digits")  # a draw of their own per data seed (nnclaims.data.datasets.DRAWS)
# n_test / n_train of a dataset whose seeds' draws resplit one pool, so that their test sets
# overlap: its paired t-tests use Nadeau & Bengio's corrected resampled t (nnclaims.stats.paired.se)
RESPLIT_OVERLAP = {"digits": 360 / 1437}


def check_depth(name: str, depth: int, hw: int | None = None) -> None:
    """Whether image model `name` can be built at `depth` (on hw × hw images): the constructors
    call this, and the plan calls it before any job starts."""
    resnet = depth % 6 == 2 or (depth % 9 == 2 and depth >= 164)
    if name == "resnet" and not (depth >= 8 and resnet):
        raise ValueError(f"ResNet depth must be 6n+2 (20, 56, 110) or 9n+2 ≥ 164, got {depth}")
    if name == "conv" and depth not in (2, 4, 6):
        raise ValueError(f"Conv-N needs N in 2, 4, 6 (Frankle & Carbin), got {depth}")
    if name == "vgg_he" and hw is not None and hw >> depth < 1:
        raise ValueError(f"{depth} VGG blocks halve a {hw}-pixel image below one pixel")
    # airbench: a 2×2 whitening conv, then conv groups that halve the image (4 widths known)
    if name == "airbench" and (not 1 <= depth <= 4 or (hw is not None and (hw - 1) >> depth < 1)):
        raise ValueError(
            f"airbench needs 1 to 4 conv groups (the recipe: 3) that leave at least one pixel, "
            f"got {depth}"
        )


def layer_slots(name: str, depth: int) -> int:
    """How many activation slots a per-layer set fills: VGG-HE's blocks and its dense layer,
    ResNet's 4 stages, Conv-N's conv pairs and dense layer, LeNet's 2 layers, airbench's conv
    groups; else the hidden layers."""
    return {"vgg_he": depth + 1, "resnet": 4, "conv": depth // 2 + 1, "lenet": 2}.get(name, depth)


def n_sets(n_functions: int, depth: int) -> int:
    """Per-layer sets of `depth` layers with at least two distinct functions."""
    return n_functions**depth - n_functions


def agree(module: str, names, expected) -> None:
    """A module's implementations must match this catalog: a clear error for a name added to
    one and not the other."""
    if sorted(names) != sorted(expected):
        extra = sorted(set(names) - set(expected))
        missing = sorted(set(expected) - set(names))
        raise ImportError(
            f"{module} and nnclaims.core.catalog disagree: implemented but not in the catalog "
            f"{extra}, in the catalog but not implemented {missing}. Add a new name to both."
        )
