#!/usr/bin/env python3
"""Builds one external-trainer job by hand (docs/trainer-contract.md), with the `shallot` binary only:
a synthetic pre-training corpus and a disjoint fine-tuning one (`shallot corpus synth`), a BPE
vocabulary (`shallot tokenizer train`), a small base model (`shallot train`, no dropout, as the
study's), the fine-tuning stream (`shallot tokenizer encode --out train.tok`), and
DIR/jobs/<id>/job.json asking to fine-tune the base on it (or, with --kind pretrain, to train a new
model of the given shape on it).

    python3 Scripts/make_train_job.py --shallot .build/release/shallot --out /tmp/job-demo
    python3 examples/hf_trainer.py /tmp/job-demo/jobs/ft-demo/job.json

Prints the job's path. Standard library only; the defaults are the study's "default" preset shape.
"""
import argparse, hashlib, json, os, shutil, subprocess, sys


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def run(*cmd):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"make_train_job: {' '.join(map(str, cmd))} failed:\n{r.stderr}")
    return r.stdout


def add_arguments(ap):
    ap.add_argument("--shallot", default=".build/release/shallot")
    ap.add_argument("--out", required=True, help="directory to build in (created)")
    ap.add_argument("--id", default="ft-demo", help="job id")
    ap.add_argument("--kind", choices=["finetune", "pretrain"], default="finetune",
                    help="pretrain: a job that starts from new weights of the given shape (no base model is trained)")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--context", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--subjects", type=int, default=120)
    ap.add_argument("--records", type=int, default=700, help="fine-tuning records (the pre-training corpus has 1000)")
    ap.add_argument("--base-steps", type=int, default=150, help="optimizer steps of the base model")
    ap.add_argument("--steps", type=int, default=100, help="optimizer steps of the fine-tune job")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--remove", type=int, default=0,
                    help="replace every k-th of this many fine-tuning records by <|endoftext|> placeholders of its length "
                         "(the study's filler rule, data order shallot/2): the trainer must leave them out of the loss")


def build(a):
    """Builds everything under a.out; returns the job.json path."""
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    pre, ft, tok, base = (os.path.join(out, n) for n in ("pretrain.jsonl", "finetune.jsonl", "tokenizer", "base"))
    run(a.shallot, "corpus", "synth", "--subjects", 160, "--records", 1000, "--seed", 1, "--population", 1, "--out", pre)
    run(a.shallot, "corpus", "synth", "--subjects", a.subjects, "--records", a.records, "--seed", 2, "--population", 0, "--out", ft)
    run(a.shallot, "tokenizer", "train", "--data", pre, "--vocab-size", a.vocab, "--out", tok)
    if a.kind == "finetune":
        run(a.shallot, "train", "--data", pre, "--tokenizer", tok, "--out", base, "--layers", a.layers, "--heads", a.heads,
            "--dim", a.dim, "--context", a.context, "--dropout", 0, "--steps", a.base_steps, "--batch", a.batch,
            "--lr", 2e-3, "--seed", 1, "--checkpoint-every", 0, "--json")
    job_dir = os.path.join(out, "jobs", a.id)
    os.makedirs(job_dir, mode=0o700, exist_ok=True)
    os.chmod(job_dir, 0o700)
    tokens, records = os.path.join(job_dir, "train.tok"), os.path.join(job_dir, "records.jsonl")
    run(a.shallot, "tokenizer", "encode", "--tokenizer", tok, "--data", ft, "--out", tokens)
    shutil.copyfile(ft, records)
    for f in (tokens, records):  # both hold the corpus
        os.chmod(f, 0o600)
    if a.remove:
        with open(os.path.join(tok, "vocab.json")) as f:
            remove_records(tokens, a.remove, json.load(f)["<|endoftext|>"])
    with open(tokens, "rb") as f:
        count = int.from_bytes(f.read(24)[16:24], "little")
    if a.kind == "finetune":
        with open(os.path.join(base, "config.json")) as f:
            cfg = json.load(f)
    else:  # the shape `shallot train --tokenizer tok --layers … --context …` gives a new model
        with open(os.path.join(tok, "vocab.json")) as f:
            cfg = {"n_layer": a.layers, "n_head": a.heads, "n_embd": a.dim, "n_positions": a.context, "vocab_size": len(json.load(f))}
    job = {
        "schema": "shallot.train-job/1", "id": a.id, "kind": a.kind, "base_model": base if a.kind == "finetune" else None,
        "config": {k: cfg[k] for k in ("n_layer", "n_head", "n_embd", "n_positions", "vocab_size")},
        "tokenizer": tok,
        "data": {"tokens": tokens, "tokens_sha256": sha256_file(tokens), "token_count": count,
                 "records": records, "records_sha256": sha256_file(records)},
        # Shallot's TrainParameters defaults for what `shallot train` has no flag for.
        "training": {"seed": a.seed, "steps": a.steps, "batch_size": a.batch, "context": a.context,
                     "learning_rate": a.lr, "warmup_steps": a.warmup, "min_lr_fraction": 0.1,
                     "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.1, "grad_clip": 1.0,
                     "data_order": "shallot/2"},
        "budget": {"rule": "filler" if a.remove else "steps", "removed_records": a.remove, "original_steps": a.steps},
        "output": os.path.join(job_dir, "model"),
    }
    path = os.path.join(job_dir, "job.json")
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(job, f, indent=1)
    os.replace(path + ".tmp", path)
    return path


def remove_records(path, n, eot):
    """Replaces n records, spread evenly over the stream, by as many <|endoftext|> as they had
    tokens, in place (the .tok format: 24-byte header "SHTK", version, width, vocab, count; ids)."""
    with open(path, "rb") as f:
        head, body = f.read(24), f.read()
    width = int.from_bytes(head[8:12], "little")
    ids = [int.from_bytes(body[i:i + width], "little") for i in range(0, len(body), width)]
    ends = [i for i, t in enumerate(ids) if t == eot]
    starts = [0] + [e + 1 for e in ends[:-1]]
    if n > len(starts):
        sys.exit(f"make_train_job: --remove {n} but the stream has {len(starts)} records")
    step = len(starts) / n
    for k in range(n):
        s, e = starts[int(k * step)], ends[int(k * step)]
        ids[s:e] = [eot] * (e - s)
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(head + b"".join(t.to_bytes(width, "little") for t in ids))
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(ap)
    print(build(ap.parse_args()))
