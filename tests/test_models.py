"""Registry, output shapes of every registered model, and Swin-Unet's fidelity."""

from __future__ import annotations

import pytest
import timm
import torch

from medbench.errors import ConfigError
from medbench.models import create_model, list_models
from medbench.models.swin_unet import MTLSwinUnet, PatchExpand, load_imagenet_swin

from .test_bus_models import TOY_ARGS as BUS_TOY_ARGS
from .test_swinfuse_models import ROI
from .test_swinfuse_models import SMALL as SWINFUSE_SMALL

# swinfuse's 3-D networks: output shapes in test_swinfuse_models (SSL heads, sliding windows)
SWINFUSE_MODELS = {"swin_ssl", "swin_unetr"}

SMALL_SWIN = {"img_size": 32, "embed_dim": 24, "window_size": 2, "num_heads": [1, 2, 3, 4]}
# hubmap models: RGB in, one logit channel out, auxiliary heads on two encoder levels
HUBMAP_SMALL = {"aux_levels": [1, 0], "img_size": 32}
SMALL = {"resnet152": {}, "swin_unet": SMALL_SWIN, "mtl_swin_unet": SMALL_SWIN,
         "swin_transformer": SMALL_SWIN, "joint_swin": SMALL_SWIN, "unet": {"encoder_name": "resnet18"},
         "joint_cnn": {},
         "coat_daformer": {**HUBMAP_SMALL, "encoder_name": "coat_lite_tiny", "embed_dim": 16},
         "pvt_v2_daformer": {**HUBMAP_SMALL, "encoder_name": "pvt_v2_b0", "embed_dim": 16},
         "segformer_daformer": {**HUBMAP_SMALL, "encoder_name": "mit_b0", "embed_dim": 16},
         "deeplabv3plus": {**HUBMAP_SMALL, "encoder_name": "resnet18"}}
EXPECTED_OUTPUTS = {"resnet152": {"cls"}, "swin_unet": {"seg"}, "mtl_swin_unet": {"cls", "seg", "rec"},
                    "swin_transformer": {"cls"}, "joint_swin": {"cls"}, "unet": {"seg"},
                    "joint_cnn": {"cls"}, "coat_daformer": {"seg", "aux"}, "pvt_v2_daformer": {"seg", "aux"},
                    "segformer_daformer": {"seg", "aux"}, "deeplabv3plus": {"seg", "aux"}}


def test_registry_lists_the_models_of_every_study():
    # every registered model has its output shapes tested: here (brain_ct, hubmap), in
    # test_bus_models or in test_swinfuse_models
    assert set(SMALL) | set(BUS_TOY_ARGS) | SWINFUSE_MODELS == set(list_models())
    assert not set(SMALL) & set(BUS_TOY_ARGS)
    assert list_models("swin*") == ["swin_ssl", "swin_transformer", "swin_unet", "swin_unetr"]


@pytest.mark.parametrize("name", sorted(SMALL))
def test_output_shapes(name):
    torch.manual_seed(0)
    model = create_model(name, **SMALL[name]).eval()
    rgb = "aux_levels" in SMALL[name]
    with torch.no_grad():
        out = model(torch.rand(2, 3 if rgb else 1, 32, 32))
    assert set(out) == EXPECTED_OUTPUTS[name]
    shapes = {"cls": (2, 2), "seg": (2, 1 if rgb else 2, 32, 32), "rec": (2, 1, 32, 32)}
    for task, tensor in out.items():
        if task == "aux":  # level l: the encoder output at stride 4 * 2**l
            assert {lv: tuple(t.shape) for lv, t in tensor.items()} == {1: (2, 1, 4, 4), 0: (2, 1, 8, 8)}
        else:
            assert tuple(tensor.shape) == shapes[task]


def _official_swin_unet_parameters(num_classes, C=96, depths=(2, 2, 2, 2), heads=(3, 6, 12, 24),
                                   window=7, img=224, patch=4):
    """Parameter count of HuCaoFighting/Swin-Unet's SwinTransformerSys, module by module."""
    def block(d, h, w):  # 2 LayerNorms, qkv, proj, relative position table, MLP
        return 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (2 * w - 1) ** 2 * h + 8 * d * d + 5 * d

    grid, n = img // patch, len(depths)
    total = 3 * C * patch * patch + C + 2 * C  # patch embedding conv + LayerNorm
    for i in range(n):
        d, w = C * 2**i, min(window, grid // 2**i)
        total += depths[i] * block(d, heads[i], w)
        total += (8 * d + 8 * d * d) if i < n - 1 else 2 * d  # PatchMerging / final norm
    d = C * 2 ** (n - 1)
    total += 2 * d * d + d  # first PatchExpand
    for i in range(n - 2, -1, -1):
        d, w = C * 2**i, min(window, grid // 2**i)
        total += 2 * d * d + d + depths[i] * block(d, heads[i], w)
        total += (2 * d * d + d) if i > 0 else 0
    return total + 2 * C + 16 * C * C + 2 * C + C * num_classes


def test_swin_unet_has_the_official_parameter_count():
    model = create_model("swin_unet", num_classes=9, img_size=224)
    n = sum(p.numel() for p in model.parameters())
    assert n == _official_swin_unet_parameters(9) == 27_168_900  # "27.17M" in the Swin-Unet paper


def test_patch_expand_rearranges_channels_into_space():
    expand = PatchExpand(8, scale=2)
    with torch.no_grad():
        expand.expand.weight.copy_(torch.eye(16, 8))  # keep channels 0..7, zero the rest
    x = torch.arange(8.0).view(1, 1, 1, 8)
    raw = expand.expand(x).view(1, 1, 1, 2, 2, 4)
    y = expand(x)
    assert y.shape == (1, 2, 2, 4)
    # (p1, p2, c) order: pixel (0, 1) holds channels 4..7 before normalisation
    torch.testing.assert_close(y[0, 0, 1], torch.nn.functional.layer_norm(raw[0, 0, 0, 0, 1], (4,)))


def test_shared_decoder_has_fewer_parameters_than_separate():
    shared = MTLSwinUnet(decoder="shared", **SMALL_SWIN)
    separate = MTLSwinUnet(decoder="separate", **SMALL_SWIN)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert len(shared.decoders) == 1 and len(separate.decoders) == 2
    assert count(separate) - count(shared) == count(shared.decoders[0])


def test_task_subsets():
    cls_rec = MTLSwinUnet(tasks=("cls", "rec"), **SMALL_SWIN)
    assert set(cls_rec(torch.rand(1, 1, 32, 32))) == {"cls", "rec"}
    with pytest.raises(ValueError, match="subset of cls/seg/rec"):
        MTLSwinUnet(tasks=("cls", "depth"), **SMALL_SWIN)


def test_imagenet_weights_seed_encoder_and_mirrored_decoder(tmp_path):
    """A timm Swin-T state dict given as `pretrained_path`: encoder stage i and decoder level i
    get the same block weights (Swin-Unet's initialisation); stage 3's third block (depths
    2,2,6,2) is unused."""
    source = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False).state_dict()
    torch.save(source, tmp_path / "swin_t.pth")
    model = create_model("mtl_swin_unet", img_size=224, pretrained_path=str(tmp_path / "swin_t.pth"))
    enc = model.encoder.body.layers[1].blocks[0].attn.qkv.weight
    dec = model.decoders[0].stages[1].blocks[0].attn.qkv.weight  # stage 1 decodes level 1
    torch.testing.assert_close(enc, source["layers.1.blocks.0.attn.qkv.weight"])
    torch.testing.assert_close(dec, source["layers.1.blocks.0.attn.qkv.weight"])
    stats = load_imagenet_swin(MTLSwinUnet(img_size=224), source)
    assert stats["loaded"] > 100 and stats["skipped"] > 0


def _small_args(name: str) -> dict:
    if name in SWINFUSE_MODELS:
        return {"img_size": ROI, **SWINFUSE_SMALL}
    return BUS_TOY_ARGS.get(name, SMALL.get(name))


@pytest.mark.parametrize("name", list_models())
def test_every_model_loads_a_local_checkpoint_given_as_pretrained_path(name, tmp_path):
    """`pretrained_path` is honoured by every registered model: a checkpoint written from the
    model itself comes back tensor for tensor into a differently seeded build."""
    torch.manual_seed(0)
    source = create_model(name, **_small_args(name)).state_dict()
    torch.save({"state_dict": source}, tmp_path / "weights.pt")
    torch.manual_seed(1)
    loaded = create_model(name, **_small_args(name), pretrained_path=str(tmp_path / "weights.pt"))
    for key, tensor in loaded.state_dict().items():
        torch.testing.assert_close(tensor, source[key], msg=f"{name}: {key} not loaded")


def test_a_foreign_checkpoint_loads_into_the_matching_part_and_a_wrong_one_is_refused(tmp_path):
    backbone = timm.create_model("resnet18", pretrained=False, num_classes=0)
    torch.save(backbone.state_dict(), tmp_path / "resnet18.pth")
    model = create_model("busbench_mobilenet", timm_name="resnet18",
                         pretrained_path=str(tmp_path / "resnet18.pth"))
    torch.testing.assert_close(model.backbone.conv1.weight, backbone.conv1.weight)
    torch.save({"x.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(ConfigError, match="other.pth: none of its 1 tensors matches"):
        create_model("unet", encoder_name="resnet18", pretrained_path=str(tmp_path / "other.pth"))
    with pytest.raises(ConfigError, match="missing.pth: no such file"):
        create_model("unet", encoder_name="resnet18", pretrained_path=str(tmp_path / "missing.pth"))


def test_unknown_architecture_and_arguments_are_config_errors():
    with pytest.raises(ConfigError, match="unknown model architecture 'resnet999'"):
        create_model("resnet999")
    with pytest.raises(ConfigError, match="unexpected Swin argument.*windw_size.*window_size"):
        create_model("swin_unet", windw_size=4)


def test_an_error_inside_a_builder_is_not_reported_as_a_bad_argument():
    """A TypeError raised while building (a bug, or a library's complaint) goes through as it is."""
    with pytest.raises(TypeError) as raised:
        create_model("swin_unet", window_size="4")
    assert not isinstance(raised.value, ConfigError)
