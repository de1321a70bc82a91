"""XTR targets/loss against a slow reference; InfoNCE against a hand-computed case."""

from __future__ import annotations

import math

import pytest
import torch

from ems.losses.contrastive import info_nce
from ems.losses.xtr import bag_of_tokens, bag_of_tokens_reference, xtr_kl, xtr_kl_from_ids, xtr_loss

torch.set_num_threads(1)


def _padded(sentences: list[list[int]], pad: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in sentences)
    ids = torch.full((len(sentences), width), pad)
    mask = torch.zeros((len(sentences), width), dtype=torch.long)
    for i, s in enumerate(sentences):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return ids, mask


SENTS = [[5, 6, 5, 7], [3], [9, 9, 9, 2, 8, 1], [4, 5]]  # repeats, a single token, pad id 0 never used


@pytest.mark.parametrize("variant", ["normalised", "official"])
def test_bag_of_tokens_equals_row_loop(variant: str) -> None:
    ids, mask = _padded(SENTS)
    fast = bag_of_tokens(ids, mask, 12, variant)
    assert torch.allclose(fast, bag_of_tokens_reference(SENTS, 12, variant))
    assert fast[:, 0].sum() == 0  # padding contributes nothing


def test_target_variants_differ_only_with_repeats() -> None:
    ids, mask = _padded(SENTS)
    norm = bag_of_tokens(ids, mask, 12, "normalised")
    off = bag_of_tokens(ids, mask, 12, "official")
    assert torch.allclose(norm.sum(1), torch.ones(4))
    # row 0 has 4 tokens, 3 distinct: official sums to 3/4; row 2: 4 distinct of 6
    assert torch.allclose(off.sum(1), torch.tensor([0.75, 1.0, 4 / 6, 1.0]))
    assert torch.equal(norm[1], off[1]) and torch.equal(norm[3], off[3])
    assert norm[0, 5] == pytest.approx(0.5) and off[0, 5] == pytest.approx(0.25)


def _kl_reference(logits: torch.Tensor, target: torch.Tensor) -> float:
    total = 0.0
    for i in range(logits.shape[0]):
        z = logits[i].tolist()
        lse = math.log(sum(math.exp(v) for v in z))
        for j, p in enumerate(target[i].tolist()):
            if p > 0:
                total += p * (math.log(p) - (z[j] - lse))
    return total / logits.shape[0]


@pytest.mark.parametrize("variant", ["normalised", "official"])
def test_xtr_kl_equals_reference(variant: str) -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 12, generator=g, dtype=torch.float64)
    target = bag_of_tokens_reference(SENTS, 12, variant).double()
    assert xtr_kl(logits, target).item() == pytest.approx(_kl_reference(logits, target), rel=1e-5)
    # agrees with torch's KLDivLoss (batchmean), the official implementation's loss
    ref = torch.nn.KLDivLoss(reduction="batchmean")(torch.log_softmax(logits.float(), -1), target.float())
    assert xtr_kl(logits, target).item() == pytest.approx(ref.item(), rel=1e-5)


def test_xtr_kl_is_zero_at_target_and_positive_elsewhere() -> None:
    target = bag_of_tokens_reference(SENTS, 12, "normalised")
    perfect = torch.log(target.clamp(min=1e-30))
    assert xtr_kl(perfect, target).item() == pytest.approx(0.0, abs=1e-5)
    assert xtr_kl(torch.zeros(4, 12), target).item() > 0.1


def test_xtr_loss_sums_both_directions() -> None:
    g = torch.Generator().manual_seed(1)
    src = [[1, 2, 3], [4, 4]]
    tgt = [[5, 6], [7, 8, 9, 7]]
    s_ids, s_mask = _padded(src)
    t_ids, t_mask = _padded(tgt)
    out = {"xtr_src": torch.randn(2, 12, generator=g), "xtr_tgt": torch.randn(2, 12, generator=g)}
    expected = _kl_reference(out["xtr_src"].double(), bag_of_tokens_reference(tgt, 12).double()) + _kl_reference(
        out["xtr_tgt"].double(), bag_of_tokens_reference(src, 12).double()
    )
    assert xtr_loss(out, s_ids, s_mask, t_ids, t_mask).item() == pytest.approx(expected, rel=1e-5)


def test_info_nce_hand_computed() -> None:
    # unit vectors at 0°, 90° for a; b = a rotated by 0° and 180°-ish: cosines are known.
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])  # norms differ: cosine ignores them
    b = torch.tensor([[1.0, 0.0], [0.0, -1.0]])
    tau = 0.5
    # cos(a_i, b_j) = [[1, 0], [0, -1]] -> logits / tau = [[2, 0], [0, -2]]
    row0 = -math.log(math.exp(2) / (math.exp(2) + math.exp(0)))
    row1 = -math.log(math.exp(-2) / (math.exp(0) + math.exp(-2)))
    # b->a uses the transpose [[2, 0], [0, -2]] (symmetric here)
    expected = ((row0 + row1) / 2 + (row0 + row1) / 2) / 2
    assert info_nce(a, b, tau).item() == pytest.approx(expected, rel=1e-6)


def test_info_nce_asymmetric_case_is_mean_of_directions() -> None:
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    s = math.sqrt(0.5)
    cos = [[s, 0.0], [1.0, s]]  # cos(a_i, b_j)
    tau = 1.0
    a2b = -(math.log(math.exp(cos[0][0]) / (math.exp(cos[0][0]) + math.exp(cos[0][1])))
            + math.log(math.exp(cos[1][1]) / (math.exp(cos[1][0]) + math.exp(cos[1][1])))) / 2
    b2a = -(math.log(math.exp(cos[0][0]) / (math.exp(cos[0][0]) + math.exp(cos[1][0])))
            + math.log(math.exp(cos[1][1]) / (math.exp(cos[0][1]) + math.exp(cos[1][1])))) / 2
    assert info_nce(a, b, tau).item() == pytest.approx((a2b + b2a) / 2, rel=1e-6)


@pytest.mark.parametrize("variant", ["normalised", "official"])
def test_sparse_training_path_equals_dense_kl_with_gradients(variant: str) -> None:
    ids, mask = _padded(SENTS)
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(4, 12, generator=g, dtype=torch.float64, requires_grad=True)
    dense = xtr_kl(logits, bag_of_tokens(ids, mask, 12, variant).double())
    (grad_dense,) = torch.autograd.grad(dense, logits)
    sparse = xtr_kl_from_ids(logits, ids, mask, variant)
    (grad_sparse,) = torch.autograd.grad(sparse, logits)
    assert sparse.item() == pytest.approx(dense.item(), rel=1e-6)
    assert torch.allclose(grad_sparse.double(), grad_dense, atol=1e-6)
