#!/usr/bin/env python3
"""Side-by-side benchmark of the audit's hot paths: `shallot bench audit` and the same attack
written in PyTorch + transformers, on the exact same workload, threads and machine, in one run.

    pip install torch transformers
    python3 Scripts/bench_audit_peer.py --shallot .build/release/shallot --gpt2 ../shared/data/gpt2 [--threads 2]

Shallot runs first and writes the workload it timed (DIR/workload.json: the targeted-extraction
prompts as token ids with their decode lengths and values; the MIA records as text, token ids and
lower-cased token ids) and the tokenizer files. The peer then replays it on a random-weight
transformers model of the same shape:
  targeted extraction: batches of 32 prompts, left-padded, `generate` greedily for the batch's
    longest decode length (no stop at <|endoftext|>), `batch_decode`, and a hit test of the value
    in the continuation (the value's digits / lower-cased address, as Shallot's normalised match);
  membership inference: batches of 16 records (right-padded): log-probabilities of each token, the
    mean and standard deviation of log p under the predicted distribution (Min-K%++), the loss of
    the lower-cased text, and zlib.compress size.
Random weights: both sides decode exactly the requested number of tokens, so the work is equal.
"""
import argparse, json, os, re, subprocess, sys, tempfile, time, zlib

PRESETS = {
    "gpt2-small": dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12),
    "tiny": dict(vocab_size=8192, n_positions=1024, n_embd=256, n_layer=4, n_head=4),
}


def load_tokenizer(d):
    from transformers import GPT2TokenizerFast
    vocab = json.load(open(os.path.join(d, "vocab.json"), encoding="utf-8"))
    merges = []
    for line in open(os.path.join(d, "merges.txt"), encoding="utf-8"):
        if line.startswith("#version") or not line.strip():
            continue
        a, b = line.rstrip("\n").split(" ")
        merges.append((a, b))
    tok = GPT2TokenizerFast(vocab=vocab, merges=merges)
    if len(vocab) == 50257:  # the real GPT-2 vocabulary: check the known encoding
        assert tok("Hello world")["input_ids"] == [15496, 995], "tokenizer built wrong (transformers trap)"
    assert len(tok) >= len(vocab) - 1, "empty tokenizer"
    return tok


def norm(value, kind):
    if kind == "EMAIL_ADDRESS":
        return value.lower()
    return re.sub(r"\D", "", value)


def torch_side(preset, wdir, threads):
    import torch, transformers
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    w = json.load(open(os.path.join(wdir, "workload.json")))
    tok = load_tokenizer(wdir)
    cfg = transformers.GPT2Config(**{**PRESETS[preset], "vocab_size": w["vocab_size"]}, resid_pdrop=0, embd_pdrop=0, attn_pdrop=0)
    model = transformers.GPT2LMHeadModel(cfg).float().eval()
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0

    def extraction(prompts):
        hits = 0
        for i in range(0, len(prompts), 32):
            b = prompts[i:i + 32]
            L = max(len(p["ids"]) for p in b)
            ids = torch.tensor([[0] * (L - len(p["ids"])) + p["ids"] for p in b])
            mask = torch.tensor([[0] * (L - len(p["ids"])) + [1] * len(p["ids"]) for p in b])
            n = max(p["max_new"] for p in b)
            with torch.no_grad():
                out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=n, min_new_tokens=n, do_sample=False)
            texts = tok.batch_decode(out[:, L:].tolist())
            for p, t in zip(b, texts):
                t = t[: len(t)]
                want = norm(p["value"], p["type"])
                got = t.lower() if p["type"] == "EMAIL_ADDRESS" else re.sub(r"\D", "", t)
                hits += want in got
        return hits

    def mia(records):
        out = []
        for i in range(0, len(records), 16):
            b = records[i:i + 16]
            for key in ("ids", "lower_ids"):
                L = max(len(r[key]) for r in b)
                ids = torch.tensor([r[key] + [0] * (L - len(r[key])) for r in b])
                mask = torch.tensor([[1] * len(r[key]) + [0] * (L - len(r[key])) for r in b])
                with torch.no_grad():
                    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
                    lp = torch.log_softmax(logits, -1)
                    tgt = lp.gather(-1, ids[:, 1:, None])[..., 0]
                    if key == "ids":
                        p = lp.exp()
                        mu = (p * lp).sum(-1)
                        sd = ((p * lp * lp).sum(-1) - mu * mu).clamp_min(0).sqrt()
                        out.append((tgt, mu, sd))
                    else:
                        m = mask[:, 1:].float()
                        out.append(((-tgt * m).sum(1) / m.sum(1),))
            for r in b:
                len(zlib.compress(r["text"].encode()))
        return out

    # warm-up on a few items, then timed
    extraction(w["prompts"][:4]); mia(w["records"][:4])
    t = time.perf_counter(); extraction(w["prompts"]); ex_s = time.perf_counter() - t
    t = time.perf_counter(); mia(w["records"]); mia_s = time.perf_counter() - t
    return dict(prompts=len(w["prompts"]), extraction_seconds=ex_s, prompts_per_s=len(w["prompts"]) / ex_s,
                records=len(w["records"]), mia_seconds=mia_s, records_per_s=len(w["records"]) / mia_s,
                torch=torch.__version__, transformers=transformers.__version__)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shallot", default=".build/release/shallot")
    ap.add_argument("--gpt2", default="../shared/data/gpt2", help="GPT-2 vocab.json + merges.txt (for the gpt2-small preset)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompts", type=int, default=256)
    ap.add_argument("--records", type=int, default=256)
    ap.add_argument("--presets", default="tiny,gpt2-small")
    ap.add_argument("--_torch")
    a = ap.parse_args()
    if a._torch:
        print(json.dumps(torch_side(*json.loads(a._torch))))
        return
    rows = []
    for preset in a.presets.split(","):
        wdir = tempfile.mkdtemp(prefix=f"shallot-audit-bench-{preset}-")
        cmd = [a.shallot, "bench", "audit", "--preset", preset, "--threads", str(a.threads), "--prompts", str(a.prompts),
               "--records", str(a.records), "--workload", wdir, "--json"]
        if preset == "gpt2-small":
            cmd += ["--tokenizer", a.gpt2]
        s = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
        t = json.loads(subprocess.run([sys.executable, __file__, "--_torch", json.dumps([preset, wdir, a.threads])],
                                      capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
        rows.append((preset, s, t))
    print("| preset | attack | work | Shallot | PyTorch + transformers | ratio |")
    print("|---|---|---|---|---|---|")
    for preset, s, t in rows:
        print(f"| {preset} | targeted extraction | {s['prompts']} prompts, {s['generated_tokens']} tokens decoded | {s['prompts_per_s']:.1f} prompts/s | "
              f"{t['prompts_per_s']:.1f} prompts/s | {s['prompts_per_s'] / t['prompts_per_s']:.2f}× |")
        print(f"| {preset} | MIA signals | {s['records']} records, {s['record_tokens']} tokens (+ lower-cased) | {s['records_per_s']:.1f} records/s | "
              f"{t['records_per_s']:.1f} records/s | {s['records_per_s'] / t['records_per_s']:.2f}× |")
    print(f"\nPyTorch {rows[0][2]['torch']}, transformers {rows[0][2]['transformers']}; {a.threads} threads; {os.uname().machine}")


if __name__ == "__main__":
    main()
