#!/usr/bin/env python3
"""Side-by-side benchmark: `shallot bench` and PyTorch + transformers on the same shapes,
threads and machine, in one run. Prints a Markdown table (paste into BENCHMARKS.md).

    pip install torch transformers
    python3 Scripts/bench_peer.py --shallot .build/release/shallot [--threads 2] [--only train,score]

Each measurement runs in its own process so that peak RSS is per benchmark.
Shapes (the issue's): train 4x128 (gpt2-small) / 8x128 (tiny), dropout 0.1; score 16x128;
generate 32-token prompts, 64 new tokens, greedy, batch 1 and 16.
"""
import argparse, json, os, resource, subprocess, sys, time

PRESETS = {
    "gpt2-small": dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12),
    "tiny": dict(vocab_size=8192, n_positions=1024, n_embd=256, n_layer=4, n_head=4),
}


def timed(fn, iters, warmup=None):
    """Seconds for `iters` calls of fn after one warm-up call (of `warmup`, default fn)."""
    (warmup or fn)()
    t = time.perf_counter()
    for _ in range(iters): fn()
    return time.perf_counter() - t


def torch_bench(kind, preset, batch, iters, threads):
    import torch, transformers
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(**PRESETS[preset], resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1)
    model = transformers.GPT2LMHeadModel(cfg).float()
    V, T = cfg.vocab_size, 128
    res = {}
    if kind == "gemm":
        a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
        s = timed(lambda: a @ b, iters)
        res = dict(gflops=2 * 2048 ** 3 * iters / s / 1e9, seconds=s)
    elif kind == "train":
        model.train()
        decay = [p for p in model.parameters() if p.dim() >= 2]
        other = [p for p in model.parameters() if p.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}], lr=1e-4, betas=(0.9, 0.95))
        def step():
            x = torch.randint(0, V, (batch, T))
            loss = model(x, labels=x).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        s = timed(step, iters)
        res = dict(tokens_per_s=batch * T * iters / s, seconds=s)
    elif kind == "score":
        model.eval()
        x = torch.randint(0, V, (batch, T))
        def run():
            with torch.no_grad():
                lp = torch.log_softmax(model(x).logits[:, :-1].float(), -1)
                return lp.gather(-1, x[:, 1:, None])
        s = timed(run, iters)
        res = dict(tokens_per_s=batch * T * iters / s, seconds=s)
    elif kind == "generate":
        model.eval()
        x = torch.randint(0, V, (batch, 32))
        kw = dict(max_new_tokens=64, min_new_tokens=64, do_sample=False, pad_token_id=0, attention_mask=torch.ones_like(x))
        with torch.no_grad():
            s = timed(lambda: model.generate(x, **kw), iters, warmup=lambda: model.generate(x, **{**kw, "max_new_tokens": 4, "min_new_tokens": 4}))
        res = dict(tokens_per_s=batch * 64 * iters / s, seconds=s)
    res["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    res["torch"] = torch.__version__
    return res


def run_torch(kind, preset, batch, iters, threads):
    out = subprocess.run([sys.executable, __file__, "--_torch", json.dumps([kind, preset, batch, iters, threads])],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_shallot(binary, kind, preset, batch, iters, threads):
    args = [binary, "bench", kind, "--preset", preset, "--threads", str(threads), "--json"]
    if batch: args += ["--batch", str(batch)]
    if iters: args += ["--iterations", str(iters)]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shallot", default=".build/release/shallot")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default="")
    ap.add_argument("--_torch")
    a = ap.parse_args()
    if a._torch:
        print(json.dumps(torch_bench(*json.loads(a._torch))))
        return
    # OpenBLAS's kernel choice must be Shallot's own: do not inherit a forced one.
    os.environ.pop("OPENBLAS_CORETYPE", None)
    rows = [
        ("gemm", "gpt2-small", None, 10),
        ("train", "tiny", 8, 20), ("score", "tiny", 16, 20),
        ("train", "gpt2-small", 4, 3), ("score", "gpt2-small", 16, 3),
        ("generate", "gpt2-small", 1, 2), ("generate", "gpt2-small", 16, 1),
    ]
    only = set(filter(None, a.only.split(",")))
    print(f"| benchmark | preset | batch | Shallot | PyTorch | ratio | Shallot peak RSS | PyTorch peak RSS |")
    print(f"|---|---|---|---|---|---|---|---|")
    for kind, preset, batch, iters in rows:
        if only and kind not in only and f"{kind}:{preset}" not in only: continue
        s = run_shallot(a.shallot, kind, preset, batch, iters, a.threads)
        t = run_torch(kind, preset, batch or 0, iters, a.threads)
        key = "gflops" if kind == "gemm" else "tokens_per_s"
        unit = "GFLOP/s" if kind == "gemm" else "tok/s"
        gib = lambda b: f"{b / 2**30:.2f} GiB"
        print(f"| {kind} | {preset if kind != 'gemm' else '2048³'} | {batch or '-'} | {s[key]:.1f} {unit} | {t[key]:.1f} {unit} | "
              f"{s[key] / t[key]:.2f}× | {gib(s['peak_rss_bytes'])} | {gib(t['peak_rss_bytes'])} |", flush=True)
    print(f"\nShallot BLAS: {s['blas']}; PyTorch {t['torch']}; {a.threads} threads; {os.uname().machine}")


if __name__ == "__main__":
    main()
