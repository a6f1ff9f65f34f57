#!/usr/bin/env python3
"""Runs one fine-tune job two ways and compares them: examples/hf_trainer.py (PyTorch +
transformers) and Shallot's own engine (`shallot train --data train.tok --init BASE` with the job's
seed, steps, batch, context, learning rate, warm-up, weight decay and clip). Both start from the same
base weights (a pre-training job: the same seeded initialisation, which hf_trainer.py reproduces)
and read the same windows in the same order, so their per-step losses should agree
closely at first and drift apart slowly (different float rounding, summation order).

Reports max |Δloss| over the first 20 steps and over all steps, both final losses, both wall times
(whole process, and the training loop alone; same machine, both on CPU, the same thread count)
and checks that Shallot reads the external model
(`shallot score` on the job's records, beside the same score of Shallot's own model).

    python3 Scripts/compare_hf_trainer.py --shallot .build/release/shallot --out /tmp/hf-compare --threads 2

Needs torch + transformers (for hf_trainer.py). Writes OUT/comparison.json.
"""
import argparse, json, os, re, shutil, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_train_job  # noqa: E402


def steps_of(text):
    """Per-step losses from JSON lines with {"event": "step", "step", "loss"} (`shallot train
    --json` writes the numbers as strings)."""
    rows = [json.loads(l) for l in text.splitlines() if l.startswith("{")]
    steps = sorted((int(r["step"]), float(r["loss"])) for r in rows if r.get("event") == "step")
    return [loss for _, loss in steps]


def timed(cmd, env=None):
    t0 = time.time()
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"compare_hf_trainer: {' '.join(map(str, cmd))} failed:\n{r.stderr[-3000:]}")
    return r.stdout, r.stderr, time.time() - t0


def loop_seconds(stdout, stderr, tokens_per_step, steps):
    """The training loop's own time, without start-up (imports, loading): Shallot's summary line
    gives tokens/s, hf_trainer.py's last stderr line "N steps in X s"."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("{") and "tokensPerSecond" in line:
            return steps * tokens_per_step / float(json.loads(line)["tokensPerSecond"])
    m = re.search(r"steps in ([0-9.]+) s", stderr)
    return float(m.group(1)) if m else None


def mean_loss(shallot, model, records):
    """Mean per-token loss of `model` on the records, as `shallot score` computes it."""
    out = subprocess.run([shallot, "score", "--model", model, "--data", records, "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"compare_hf_trainer: shallot score --model {model} failed:\n{out.stderr}")
    rows = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
    losses = [r["loss"] for r in rows if "loss" in r and r.get("tokens", 1) > 0]
    return sum(losses) / len(losses), len(losses)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    make_train_job.add_arguments(ap)
    ap.add_argument("--threads", type=int, default=2, help="threads of both trainers")
    ap.add_argument("--repeats", type=int, default=1, help="run each trainer this many times (alternating); report the fastest")
    a = ap.parse_args()
    shallot = os.path.abspath(a.shallot)
    a.shallot = shallot
    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    job_path = make_train_job.build(a)
    job = json.load(open(job_path))
    tr = job["training"]
    own_out = os.path.join(os.path.abspath(a.out), "shallot-model")
    start = ["--init", job["base_model"]] if job["kind"] == "finetune" else \
        ["--layers", a.layers, "--heads", a.heads, "--dim", a.dim, "--dropout", 0]  # new weights from --seed, as the job's
    own_cmd = [shallot, "train", "--data", job["data"]["tokens"], *start, "--tokenizer", job["tokenizer"],
               "--out", own_out, "--steps", tr["steps"], "--batch", tr["batch_size"], "--context", tr["context"],
               "--lr", tr["learning_rate"], "--warmup", tr["warmup_steps"], "--weight-decay", tr["weight_decay"],
               "--clip", tr["grad_clip"], "--seed", tr["seed"], "--checkpoint-every", 0, "--threads", a.threads, "--json"]
    hf_cmd = [sys.executable, os.path.join(HERE, "..", "examples", "hf_trainer.py"), job_path, "--threads", a.threads]
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    own_times, hf_times, own_loops, hf_loops = [], [], [], []
    tps = tr["batch_size"] * tr["context"]
    for _ in range(a.repeats):
        own_text, err, t = timed(own_cmd); own_times.append(t); own_loops.append(loop_seconds(own_text, err, tps, tr["steps"]))
        hf_text, err, t = timed(hf_cmd, env); hf_times.append(t); hf_loops.append(loop_seconds(hf_text, err, tps, tr["steps"]))
    own, hf = steps_of(own_text), steps_of(hf_text)
    assert len(own) == len(hf) == tr["steps"], (len(own), len(hf))
    d = [abs(x - y) for x, y in zip(own, hf)]
    records = job["data"]["records"]
    hf_score, n = mean_loss(shallot, job["output"], records)
    own_score, _ = mean_loss(shallot, own_out, records)
    base_score = mean_loss(shallot, job["base_model"], records)[0] if job["base_model"] else None
    result = {
        "job": {k: tr[k] for k in ("steps", "batch_size", "context", "learning_rate", "warmup_steps", "seed")} | {"kind": job["kind"], "config": job["config"]},
        "threads": a.threads, "load_average": os.getloadavg(),
        "max_abs_dloss_first_20": max(d[:20]), "max_abs_dloss_all": max(d), "step_of_max_all": d.index(max(d)) + 1,
        "first_losses": {"shallot": own[:5], "hf_trainer": hf[:5]},
        "final_loss": {"shallot": own[-1], "hf_trainer": hf[-1]},
        "wall_seconds": {"shallot": min(own_times), "hf_trainer": min(hf_times), "all_shallot": own_times, "all_hf_trainer": hf_times},
        "loop_seconds": {"shallot": min(own_loops), "hf_trainer": min(hf_loops), "all_shallot": own_loops, "all_hf_trainer": hf_loops},
        "shallot_score_mean_loss": {"records": n, "base": base_score, "shallot": own_score, "hf_trainer": hf_score},
    }
    with open(os.path.join(a.out, "comparison.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
