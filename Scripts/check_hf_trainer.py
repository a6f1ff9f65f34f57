#!/usr/bin/env python3
"""Checks examples/hf_trainer.py against the contract's failure and resume rules, on a tiny job:

1. bad jobs (wrong schema, a changed or missing token file, a wrong token count, another data
   order, a context beyond n_positions, another shape, a relative output, a truncated token file)
   exit 1 with a message naming the offending file, and write no result file;
2. a run killed (SIGKILL) after a checkpoint and run again ends with the same loss and the same
   weights as an uninterrupted run;
3. the result file's fields are the job's;
4. a pre-training job's initial weights equal Shallot's bit for bit.

    python3 Scripts/check_hf_trainer.py --shallot .build/release/shallot

Needs torch + transformers. Prints one line per check and "ok", or exits 1.
"""
import argparse, copy, hashlib, json, os, shutil, signal, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINER = os.path.join(HERE, "..", "examples", "hf_trainer.py")
sys.path.insert(0, HERE)
import make_train_job  # noqa: E402


def trainer(job_path, *extra):
    return subprocess.run([sys.executable, TRAINER, job_path, "--threads", "1", *extra], capture_output=True, text=True)


def weights_sha(out):
    with open(os.path.join(out, "model.safetensors"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shallot", default=".build/release/shallot")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="check-hf-trainer-")
    ns = argparse.Namespace(shallot=os.path.abspath(a.shallot), out=tmp, id="tiny", kind="finetune", layers=1, heads=2, dim=32,
                            context=32, vocab=300, subjects=20, records=60, base_steps=10, steps=12, batch=4, lr=3e-3, warmup=2, seed=5)
    job_path = make_train_job.build(ns)
    job = json.load(open(job_path))
    failures = []

    # 1. Bad jobs: exit 1, the message names the file, nothing written.
    bad_tok = os.path.join(tmp, "truncated.tok")
    with open(bad_tok, "wb") as f:
        f.write(b"SHTK\x01\x00\x00\x00\x02\x00")
    cases = [
        ("schema", lambda j: j.update(schema="shallot.train-job/0"), "bad-schema.json"),
        ("changed tokens", lambda j: j["data"].update(tokens_sha256="0" * 64), "train.tok"),
        ("missing tokens", lambda j: j["data"].update(tokens=os.path.join(tmp, "nope.tok")), "nope.tok"),
        ("token count", lambda j: j["data"].update(token_count=7), "train.tok"),
        ("data order", lambda j: j["training"].update(data_order="random"), "bad-data order.json"),
        ("context", lambda j: j["training"].update(context=10_000), "bad-context.json"),
        ("shape", lambda j: j["config"].update(n_embd=64), "base"),
        ("relative output", lambda j: j.update(output="model"), "bad-relative output.json"),
        ("truncated tokens", lambda j: j["data"].update(tokens=bad_tok, tokens_sha256=hashlib.sha256(open(bad_tok, "rb").read()).hexdigest()), "truncated.tok"),
    ]
    for name, change, named in cases:
        j = copy.deepcopy(job)
        change(j)
        j["output"] = j["output"] if not os.path.isabs(j["output"]) else os.path.join(tmp, "bad-out")
        p = os.path.join(tmp, f"bad-{name}.json")
        json.dump(j, open(p, "w"))
        r = trainer(p)
        last = (r.stderr.strip().splitlines() or [""])[-1]
        good = r.returncode == 1 and named in last and not os.path.exists(os.path.join(tmp, "bad-out", "shallot-train-result.json"))
        print(f"{'ok  ' if good else 'FAIL'} bad job ({name}): exit {r.returncode}: {last[:140]}")
        if not good:
            failures.append(name)

    # 2. Uninterrupted vs killed-and-resumed.
    r = trainer(job_path)
    assert r.returncode == 0, r.stderr
    clean_loss = json.load(open(os.path.join(job["output"], "shallot-train-result.json")))["final_loss"]
    clean_sha = weights_sha(job["output"])
    shutil.rmtree(job["output"])
    log = os.path.join(tmp, "killed.jsonl")
    with open(log, "w") as out:
        p = subprocess.Popen([sys.executable, TRAINER, job_path, "--threads", "1", "--checkpoint-every", "4"], stdout=out, stderr=subprocess.DEVNULL)
        deadline = time.time() + 600
        while time.time() < deadline and p.poll() is None and '"step": 6,' not in open(log).read():
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait()
    checkpoint = os.path.join(os.path.dirname(job_path), "hf_trainer-checkpoint.pt")
    killed_midway = os.path.exists(checkpoint) and not os.path.exists(os.path.join(job["output"], "shallot-train-result.json"))
    r = trainer(job_path, "--checkpoint-every", "4")
    resumed = "resuming" in r.stderr
    result = json.load(open(os.path.join(job["output"], "shallot-train-result.json")))
    same = result["final_loss"] == clean_loss and weights_sha(job["output"]) == clean_sha
    good = r.returncode == 0 and killed_midway and resumed and same and not os.path.exists(checkpoint)
    print(f"{'ok  ' if good else 'FAIL'} killed at step 6 and rerun: killed mid-run {killed_midway}, resumed {resumed}, "
          f"same loss and weights {same} ({result['final_loss']} vs {clean_loss})")
    if not good:
        failures.append("resume")

    # 3. The result file.
    good = (result["schema"] == "shallot.train-result/1" and result["job_id"] == job["id"]
            and result["tokens_sha256"] == job["data"]["tokens_sha256"] and result["steps"] == job["training"]["steps"]
            and result["trainer"].startswith("hf_trainer.py"))
    mode = oct(os.stat(os.path.join(job["output"], "shallot-train-result.json")).st_mode & 0o777)
    print(f"{'ok  ' if good else 'FAIL'} result file: {json.dumps(result)} (mode {mode})")
    if not good:
        failures.append("result")
    # 4. A pre-training job's initial weights are Shallot's, bit for bit: `shallot train --lr 0
    #    --steps 1` saves its initialisation unchanged (AdamW with lr 0 moves nothing).
    import transformers
    sys.path.insert(0, os.path.join(HERE, "..", "examples"))
    import hf_trainer
    from safetensors.torch import load_file
    init_dir = os.path.join(tmp, "init0")
    cmd = [ns.shallot, "train", "--data", job["data"]["tokens"], "--tokenizer", job["tokenizer"], "--layers", 2, "--heads", 2,
           "--dim", 32, "--context", 32, "--dropout", 0, "--seed", 99, "--steps", 1, "--lr", 0, "--batch", 4,
           "--checkpoint-every", 0, "--out", init_dir, "--json"]
    subprocess.run([str(x) for x in cmd], check=True, capture_output=True)
    with open(os.path.join(init_dir, "config.json")) as f:
        c = json.load(f)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(**{k: c[k] for k in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head")}))
    hf_trainer.shallot_init_(model, 99)
    ours, theirs = model.state_dict(), load_file(os.path.join(init_dir, "model.safetensors"))
    differ = sum((ours[k if k in ours else "transformer." + k] != v).sum().item() for k, v in theirs.items())
    total = sum(v.numel() for v in theirs.values())
    print(f"{'ok  ' if differ == 0 else 'FAIL'} pre-training initialisation: {differ} of {total} weights differ from Shallot's")
    if differ:
        failures.append("init")
    shutil.rmtree(tmp)
    if failures:
        sys.exit(f"check_hf_trainer: failed: {', '.join(failures)}")
    print("ok")


if __name__ == "__main__":
    main()
