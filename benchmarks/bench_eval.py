"""Embedding throughput vs the FLOP bound, and full Tatoeba-112 / FLORES-200 evaluation times.

Usage (from the repository root, with the extracted LASER and OPUS-MT-testsets archives):

    .venv/bin/python benchmarks/bench_eval.py --laser DIR --opus DIR [--threads 1] [--out bench.json]

Model: a randomly initialised 2-layer, 256-hidden, 4-head, 1024-FFN BERT (the default EMS
shape; weights do not change the cost) with a 16k unigram tokenizer trained here on a
Tatoeba sample. FLOP bound = measured fp32 matmul peak / forward matmul FLOPs per sentence
(counted from the real token lengths, no padding: per layer and token 2·(4h² + 2h·f), plus
4·n·h per token for attention scores and weighted sums).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

logger = logging.getLogger("bench_eval")


def matmul_peak(threads: int, size: int = 1024, repeats: int = 20) -> float:
    """Best fp32 GFLOP/s of square matmuls and of the model's own shapes."""
    torch.set_num_threads(threads)
    best = 0.0
    for m, k, n in ((size, size, size), (4096, 256, 1024), (4096, 1024, 256), (4096, 256, 256)):
        a, b = torch.randn(m, k), torch.randn(k, n)
        for _ in range(3):
            a @ b
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        seconds = (time.perf_counter() - start) / repeats
        best = max(best, 2 * m * k * n / seconds / 1e9)
    return best


def forward_flops(lengths: list[int], layers: int, hidden: int, ffn: int) -> float:
    per_token = 2 * (4 * hidden * hidden + 2 * hidden * ffn)
    return float(sum(layers * (n * per_token + 4 * n * n * hidden) for n in lengths))


def build_model(folder: Path, sentences: list[str], vocab: int = 16000) -> Path:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.train_from_iterator(sentences, trainers.UnigramTrainer(vocab_size=vocab, special_tokens=["<pad>", "<unk>"],
                                                                unk_token="<unk>"))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", model_max_length=128)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=fast.vocab_size, hidden_size=256, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=1024, max_position_embeddings=130, pad_token_id=0)
    BertModel(cfg, add_pooling_layer=False).eval().save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--laser", required=True, type=Path)
    ap.add_argument("--opus", required=True, type=Path)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--flores-languages", type=int, default=20, help="FLORES subset timed, extrapolated to all")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from ems.datasets import load_flores, load_tatoeba
    from ems.encoders.transformer import TransformerEncoder
    from ems.evaluation.flores import build_flores
    from ems.evaluation.tatoeba import build_tatoeba
    from ems.model.batching import encode_ids

    report: dict = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                                "torch": torch.__version__, "threads": args.threads,
                                "loadavg_start": os.getloadavg()}}
    tatoeba = load_tatoeba(args.laser)
    sentences = [s for xx, en in tatoeba.values() for s in xx + en]
    random.Random(1).shuffle(sentences)
    report["peak_gflops"] = peak = matmul_peak(args.threads)
    logger.info("fp32 matmul peak: %.1f GFLOP/s on %d thread(s)", peak, args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_model(Path(tmp) / "model", sentences[:50000])
        enc = TransformerEncoder(model_dir, batch_size=args.batch_size, max_tokens=None, num_threads=args.threads,
                                 add_special_tokens=False)
        sample = sentences[:20000]
        ids = enc.tokenize(sample)
        lengths = [len(x) for x in ids]
        flops = forward_flops(lengths, 2, 256, 1024)
        bound = peak * 1e9 / (flops / len(sample))
        report["tokens_per_sentence"] = float(np.mean(lengths))
        report["mflops_per_sentence"] = flops / len(sample) / 1e6
        report["flop_bound_sentences_per_s"] = bound
        runs = {}
        for name, kw in (("length_sorted", {}), ("length_sorted_max_tokens_16384", {"max_tokens": 16384})):
            encode_ids(enc._forward, ids[:2000], enc.pad_id, args.batch_size, **kw)  # warm-up
            start = time.perf_counter()
            encode_ids(enc._forward, ids, enc.pad_id, args.batch_size, **kw)
            runs[name] = len(ids) / (time.perf_counter() - start)
        # unsorted baseline: the same batches in input order (padding to each batch's longest)
        start = time.perf_counter()
        with torch.inference_mode():
            for s in range(0, len(ids), args.batch_size):
                encode_ids(enc._forward, ids[s:s + args.batch_size], enc.pad_id, len(ids))
        runs["sorted_within_batch_only"] = len(ids) / (time.perf_counter() - start)
        start = time.perf_counter()
        enc.encode(sample, "eng")
        runs["end_to_end_with_tokenisation"] = len(sample) / (time.perf_counter() - start)
        report["throughput_sentences_per_s"] = runs
        report["fraction_of_flop_bound"] = {k: v / bound for k, v in runs.items()}
        logger.info("FLOP bound %.0f sent/s; measured %s", bound, {k: round(v) for k, v in runs.items()})

        enc.max_tokens = None
        start, cpu = time.perf_counter(), time.process_time()
        res = build_tatoeba(args.laser, "all", data=tatoeba)(enc)
        report["tatoeba112_seconds"] = time.perf_counter() - start
        report["tatoeba112_cpu_seconds"] = time.process_time() - cpu  # < wall time when others share the cores
        report["tatoeba112_sentences"] = sum(len(xx) + len(en) for xx, en in tatoeba.values())
        report["tatoeba112_languages"] = int(res.metrics["tatoeba/n_languages"])
        logger.info("Tatoeba-112: %.1f s", report["tatoeba112_seconds"])

        flores = load_flores(args.opus, "devtest")
        langs = sorted(lang for lang in flores if lang != "eng")
        subset = random.Random(1).sample(langs, min(args.flores_languages, len(langs)))
        start, cpu = time.perf_counter(), time.process_time()
        build_flores(args.opus, subset, data=flores)(enc)
        seconds = time.perf_counter() - start
        report["flores_subset_cpu_seconds"] = time.process_time() - cpu
        report["flores_subset_languages"] = len(subset)
        report["flores_subset_seconds"] = seconds
        report["flores_languages"] = len(langs)
        report["flores_all_seconds_extrapolated"] = seconds * len(langs) / len(subset)
        logger.info("FLORES %d languages: %.1f s -> %d languages ≈ %.0f s", len(subset), seconds, len(langs),
                    report["flores_all_seconds_extrapolated"])
    report["machine"]["loadavg_end"] = os.getloadavg()
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
