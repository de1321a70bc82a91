"""EMS model: heads on/off, gradient flow, zero-weight heads cost nothing, mean pooling."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from ems.config import section
from ems.errors import ConfigError
from ems.model import EmsModel, mean_pool
from ems.train.settings import ObjectiveSettings
from ems.train.step import compute_losses

torch.set_num_threads(1)

MODEL = section({"model": {"layers": 1, "hidden_size": 16, "heads": 2, "ffn_size": 32, "activation": "gelu",
                           "dropout": 0.0, "max_positions": 16, "lang_embedding_dim": 4, "projection_dim": 8,
                           "tie_xtr_output": False}}, "model")  # the schema fills the rest
VOCAB = 500  # large against the hidden size, so the XTR output layer dominates its FLOPs


def _batch(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(5, VOCAB, (6, 7), generator=g)
    tgt = torch.randint(5, VOCAB, (6, 5), generator=g)
    smask = torch.ones_like(src)
    smask[0, 4:] = 0
    src = src * smask
    return {"src_ids": src, "src_mask": smask, "tgt_ids": tgt, "tgt_mask": torch.ones_like(tgt),
            "src_lang": torch.tensor([0, 1, 0, 1, 0, 1]), "tgt_lang": torch.full((6,), 2)}


def _model(xtr: float, cl: float, **model_kw: object) -> tuple[EmsModel, ObjectiveSettings]:
    torch.manual_seed(0)
    obj = section({"objective": {"xtr_weight": xtr, "contrastive_weight": cl}}, "objective", into=ObjectiveSettings)
    return EmsModel({**MODEL, **model_kw}, obj.__dict__, VOCAB, 3), obj


@pytest.mark.parametrize("xtr,cl", [(1.0, 2.0), (1.0, 0.0), (0.0, 1.0)])
def test_gradients_reach_exactly_the_heads_that_are_on(xtr: float, cl: float) -> None:
    model, obj = _model(xtr, cl)
    assert (model.xtr_head is not None) == (xtr > 0)
    assert (model.contrastive_head is not None) == (cl > 0)
    batch = _batch()
    terms = compute_losses(model(**batch), batch, obj)
    assert set(terms) == {"total"} | ({"xtr"} if xtr else set()) | ({"contrastive"} if cl else set())
    terms["total"].backward()
    for name, p in model.named_parameters():
        if name.startswith(("encoder.embeddings.token_type", "encoder.embeddings.word")):
            continue  # only rows of used tokens get gradient
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    heads = {n.split(".")[0] for n, _ in model.named_parameters() if not n.startswith("encoder.")}
    assert heads == ({"xtr_head"} if xtr else set()) | ({"contrastive_head"} if cl else set())


def test_both_weights_zero_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        _model(0.0, 0.0)


def _flops(model: EmsModel, obj: ObjectiveSettings) -> int:
    batch = _batch()
    with FlopCounterMode(display=False) as counter:
        compute_losses(model(**batch), batch, obj)["total"].backward()
    return counter.get_total_flops()


def test_zero_weight_head_costs_no_compute() -> None:
    both = _flops(*_model(1.0, 1.0))
    xtr_only = _flops(*_model(1.0, 0.0))
    cl_only = _flops(*_model(0.0, 1.0))
    # the XTR vocabulary projection alone: 2 directions x 6 rows x 16 x 500 MACs, fwd + 2 bwd
    vocab_proj = 2 * 6 * 16 * VOCAB * 2 * 3
    assert both - cl_only >= vocab_proj
    assert cl_only < xtr_only
    # encoder FLOPs are shared: both = encoder + xtr head + contrastive head
    encoder_only = xtr_only + cl_only - both
    assert 0 < encoder_only < cl_only


def test_language_embedding_switch_and_tied_output() -> None:
    model, _ = _model(1.0, 1.0)
    assert model.xtr_head.lang_embedding is not None
    b = _batch()
    out1 = model(**b)["xtr_src"]
    b2 = dict(b, tgt_lang=torch.zeros(6, dtype=torch.long))
    assert not torch.allclose(out1, model(**b2)["xtr_src"])  # the target language matters
    no_lang = EmsModel(MODEL, section({"objective": {"language_embedding": False}}, "objective"), VOCAB, 3)
    assert no_lang.xtr_head.lang_embedding is None
    assert torch.allclose(no_lang(**b)["xtr_src"], no_lang(**b2)["xtr_src"])
    tied, _ = _model(1.0, 1.0, tie_xtr_output=True)
    assert tied.xtr_head.output_weight is tied.encoder.embeddings.word_embeddings.weight
    assert sum(p.numel() for p in tied.parameters()) < sum(p.numel() for p in model.parameters())


def test_official_xtr_head_has_the_official_shapes_and_computation() -> None:
    from ems.model.heads import OfficialXtrHead

    # paper size: 1024 hidden + 128 language dims -> Linear 1152 -> 1152, output 1152 -> V without bias
    head = OfficialXtrHead(1024, 50, 62, 128, True, "swish", lang_dropout=0.1)
    assert tuple(head.dense.weight.shape) == (1152, 1152) and head.dense.bias is not None
    assert tuple(head.output.weight.shape) == (50, 1152) and head.output.bias is None
    assert tuple(head.norm.normalized_shape) == (1152,)
    assert isinstance(head.lang_embedding.norm, torch.nn.LayerNorm) and head.lang_embedding.dropout.p == 0.1
    assert not any(n.endswith("output_bias") for n, _ in head.named_parameters())
    # forward = official BertForMaskedLM: decoder(LN(swish(dense([LN(emb(lang)); s])))) in eval mode
    head.eval()
    torch.manual_seed(1)
    s, lang = torch.randn(3, 1024), torch.tensor([0, 5, 61])
    la = torch.nn.functional.layer_norm(head.lang_embedding.embedding(lang), (128,),
                                        head.lang_embedding.norm.weight, head.lang_embedding.norm.bias, 1e-12)
    h = head.dense(torch.cat([la, s], dim=-1))
    h = torch.nn.functional.layer_norm(h * torch.sigmoid(h), (1152,), head.norm.weight, head.norm.bias, 1e-12)
    torch.testing.assert_close(head(s, lang), h @ head.output.weight.T)
    # without the language embedding: 1024 -> 1024; through EmsModel with the option
    assert tuple(OfficialXtrHead(1024, 50, 62, 128, False).dense.weight.shape) == (1024, 1024)
    official, obj = _model(1.0, 1.0, xtr_head="official", activation="swish")
    assert isinstance(official.xtr_head, OfficialXtrHead)
    assert tuple(official.xtr_head.dense.weight.shape) == (16 + 4, 16 + 4)
    batch = _batch()
    compute_losses(official(**batch), batch, obj)["total"].backward()
    assert official.xtr_head.lang_embedding.embedding.weight.grad.abs().sum() > 0
    compact, _ = _model(1.0, 1.0)
    assert tuple(compact.xtr_head.dense.weight.shape) == (16, 16 + 4) and compact.xtr_head.output_bias.shape == (VOCAB,)
    with pytest.raises(ConfigError, match="xtr_head"):
        _model(1.0, 1.0, xtr_head="other")


def test_mean_pool_ignores_padding() -> None:
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.allclose(mean_pool(hidden, mask), torch.tensor([[2.0, 3.0]]))


def test_sentence_vector_does_not_depend_on_padding() -> None:
    model, _ = _model(1.0, 1.0)
    model.eval()
    ids = torch.tensor([[7, 8, 9]])
    padded = torch.tensor([[7, 8, 9, 0, 0]])
    v1 = model.embed(ids, torch.ones_like(ids))
    v2 = model.embed(padded, torch.tensor([[1, 1, 1, 0, 0]]))
    assert torch.allclose(v1, v2, atol=1e-5)
