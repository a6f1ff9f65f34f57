#!/usr/bin/env python3
"""A reference external trainer for Shallot (docs/trainer-contract.md), with PyTorch + transformers.

    python3 examples/hf_trainer.py OUT/jobs/<job-id>/job.json [--device cuda] [--threads N]

Reads a `shallot.train-job/1` file, checks it (schema, files, hashes), trains a GPT-2 on the job's
packed token stream `train.tok` exactly as Shallot's own trainer would — the same "shallot/1"
window order, warm-up + cosine schedule, AdamW with decay on 2-D tensors only, global-norm clip —
and writes a Hugging Face directory plus `shallot-train-result.json` to the job's "output".
Exit 0 on success; 1 with a message naming the file on a bad job. Float32 on CPU or CUDA.

What cannot match Shallot bit for bit (different kernels): the float rounding of every step, the
dropout masks when the model has dropout (the study's models have none), and the initial weights of
a "pretrain" job (torch's initialiser seeded with the job's seed, same distribution as Shallot's).
Only torch, transformers, safetensors and the standard library are used.
"""
import argparse, hashlib, json, math, os, shutil, struct, sys, time

TRAINER = "hf_trainer.py 1"
MASK64 = (1 << 64) - 1


def fail(path, reason):
    sys.exit(f"hf_trainer: {path}: {reason}")


# ---- the job file -------------------------------------------------------------------------------

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def need(obj, key, kind, where):
    """obj[key], which must exist and be of `kind` (bool is not an int here)."""
    v = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(v, kind) or (kind in (int, (int, float)) and isinstance(v, bool)):
        raise ValueError(f'"{where}{key}" is missing or not {getattr(kind, "__name__", "a number")}')
    return v


def read_job(path):
    """The parsed job, checked field by field; every file it names exists and hashes as stated."""
    try:
        with open(path, "rb") as f:
            job = json.loads(f.read())
    except OSError as e:
        fail(path, f"cannot read: {e.strerror}")
    except ValueError as e:
        fail(path, f"not JSON: {e}")
    try:
        if not isinstance(job, dict) or job.get("schema") != "shallot.train-job/1":
            raise ValueError('"schema" is not "shallot.train-job/1"')
        need(job, "id", str, "")
        if job.get("kind") not in ("finetune", "pretrain"):
            raise ValueError('"kind" must be "finetune" or "pretrain"')
        if job["kind"] == "finetune":
            need(job, "base_model", str, "")
        cfg = need(job, "config", dict, "")
        for k in ("n_layer", "n_head", "n_embd", "n_positions", "vocab_size"):
            if need(cfg, k, int, "config.") <= 0:
                raise ValueError(f'"config.{k}" must be positive')
        need(job, "tokenizer", str, "")
        data = need(job, "data", dict, "")
        for k in ("tokens", "tokens_sha256", "records", "records_sha256"):
            need(data, k, str, "data.")
        need(data, "token_count", int, "data.")
        tr = need(job, "training", dict, "")
        for k in ("seed", "steps", "batch_size", "context", "warmup_steps"):
            need(tr, k, int, "training.")
        for k in ("learning_rate", "min_lr_fraction", "beta1", "beta2", "eps", "weight_decay", "grad_clip"):
            need(tr, k, (int, float), "training.")
        if tr.get("data_order") != "shallot/1":
            raise ValueError('"training.data_order" must be "shallot/1" (the only order this trainer knows)')
        if not (0 <= tr["seed"] <= MASK64) or tr["steps"] < 1 or tr["batch_size"] < 1 or tr["warmup_steps"] < 0:
            raise ValueError('"training": seed must be a u64, steps and batch_size ≥ 1, warmup_steps ≥ 0')
        if not 2 <= tr["context"] <= cfg["n_positions"]:
            raise ValueError(f'"training.context" {tr["context"]} must be in 2...n_positions ({cfg["n_positions"]})')
        need(job, "budget", dict, "")
        if not os.path.isabs(need(job, "output", str, "")):
            raise ValueError('"output" must be an absolute path')
    except ValueError as e:
        fail(path, str(e))
    # The files it names, and the hashes it promises.
    checks = [(data["tokens"], data["tokens_sha256"]), (data["records"], data["records_sha256"])]
    for f, want in checks:
        if not os.path.isfile(f):
            fail(f, f"no such file (named by {path})")
        got = sha256_file(f)
        if got != want:
            fail(f, f"SHA-256 is {got}, the job {path} says {want}; the file changed since the job was written")
    for f in ("vocab.json", "merges.txt"):
        if not os.path.isfile(os.path.join(job["tokenizer"], f)):
            fail(os.path.join(job["tokenizer"], f), f"no such file (the tokenizer of {path})")
    if job["kind"] == "finetune" and not os.path.isfile(os.path.join(job["base_model"], "config.json")):
        fail(os.path.join(job["base_model"], "config.json"), f"no such file (the base model of {path})")
    return job


def read_tokens(path, expect_count, model_vocab):
    """A Shallot token file (Sources/Tokenizer/Batch.swift): "SHTK", u32 version 1, u32 width (2|4),
    u32 vocabulary, u64 count, then `count` little-endian ids of `width` bytes. Returns int64 ids."""
    import torch
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 24 or raw[:4] != b"SHTK":
        fail(path, "not a Shallot token file (no SHTK header)")
    version, width, vocab, count = struct.unpack_from("<IIIQ", raw, 4)
    if version != 1 or width not in (2, 4):
        fail(path, f"unsupported version {version} or width {width}")
    if not 1 <= vocab <= (1 << 21):
        fail(path, f"vocabulary size {vocab} is not in 1...{1 << 21}")
    if 24 + count * width != len(raw):
        fail(path, f"header says {count} tokens but the file holds {(len(raw) - 24) // width}")
    if count != expect_count:
        fail(path, f"holds {count} tokens, the job says {expect_count}")
    if vocab > model_vocab:
        fail(path, f"vocabulary {vocab} is larger than the model's ({model_vocab})")
    body = bytearray(raw[24:])
    if sys.byteorder != "little":
        import array
        a = array.array("H" if width == 2 else "I", body); a.byteswap(); body = bytearray(a.tobytes())
    if count == 0:
        return torch.zeros(0, dtype=torch.int64)
    if width == 2:  # int16 view, then back to unsigned
        ids = torch.frombuffer(body, dtype=torch.int16).to(torch.int64) & 0xFFFF
    else:  # ids are < 2^21, so the int32 view is already the value
        ids = torch.frombuffer(body, dtype=torch.int32).to(torch.int64)
    bad = ((ids < 0) | (ids >= vocab)).nonzero()
    if len(bad):
        i = bad[0].item()
        fail(path, f"token {i} = {ids[i].item()} is outside the vocabulary ({vocab})")
    return ids


# ---- "shallot/1": Sources/Kernels/Random.swift and Sources/Training/Dataset.swift ----------------

def mix64(x):
    """SplitMix64's finaliser (Shallot's mix64), in Python ints masked to 64 bits."""
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)


def permutation(windows, seed, epoch):
    """Epoch `epoch`'s window order: Fisher–Yates from the top, j = next() mod (i+1)."""
    idx = list(range(windows))
    rng = SplitMix64((mix64(seed ^ 0x5EEDDA7A) + epoch) & MASK64)
    for i in range(windows - 1, 0, -1):
        j = rng.next() % (i + 1)
        idx[i], idx[j] = idx[j], idx[i]
    return idx


def lr_at(step, max_lr, warmup, total, min_frac):
    """Sources/Training/Optimizer.swift LRSchedule.lr(at:), step 0-based."""
    min_lr = max_lr * min_frac
    if step < warmup:
        return max_lr * (step + 1) / warmup
    if step >= total:
        return min_lr
    ratio = (step - warmup) / max(1, total - warmup)
    return min_lr + 0.5 * (1 + math.cos(math.pi * ratio)) * (max_lr - min_lr)


# ---- the model ----------------------------------------------------------------------------------

def end_of_text_id(tokenizer_dir):
    with open(os.path.join(tokenizer_dir, "vocab.json"), encoding="utf-8") as f:
        return json.load(f).get("<|endoftext|>")


def load_model(job, job_path):
    import torch, transformers
    want = job["config"]
    if job["kind"] == "finetune":
        model = transformers.GPT2LMHeadModel.from_pretrained(job["base_model"], dtype=torch.float32)
    else:
        # Shallot's study pre-trains without dropout; the shape comes from the job.
        eot = end_of_text_id(job["tokenizer"])
        cfg = transformers.GPT2Config(vocab_size=want["vocab_size"], n_positions=want["n_positions"], n_embd=want["n_embd"],
                                      n_layer=want["n_layer"], n_head=want["n_head"], resid_pdrop=0.0, embd_pdrop=0.0,
                                      attn_pdrop=0.0, bos_token_id=eot, eos_token_id=eot, tie_word_embeddings=True)
        model = transformers.GPT2LMHeadModel(cfg).to(torch.float32)
    have = model.config
    for k in ("n_layer", "n_head", "n_embd", "n_positions", "vocab_size"):
        if getattr(have, k) != want[k]:
            fail(job.get("base_model") or job_path, f"{k} is {getattr(have, k)}, the job's config says {want[k]}")
    if model.lm_head.weight.data_ptr() != model.transformer.wte.weight.data_ptr():
        fail(job.get("base_model") or job_path, "lm_head is not tied to wte (Shallot's GPT-2 ties them)")
    return model


def optimizer_for(model, tr):
    """AdamW with weight decay on 2-D tensors only (Sources/GPT/ParameterTable.swift `decays`):
    wte, wpe and the Conv1D weights; never biases or layer norms. The tied head is wte itself."""
    import torch
    params = list(model.parameters())  # deduplicated: the tied lm_head appears once, as wte
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": tr["weight_decay"]},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=tr["learning_rate"], betas=(tr["beta1"], tr["beta2"]), eps=tr["eps"], foreach=False)


def clip_(params, max_norm):
    """Shallot's clip: the global L2 norm (summed in float64); when it exceeds max_norm, every
    gradient is scaled by max_norm / (norm + 1e-6). Returns the norm before clipping."""
    import torch
    grads = [p.grad for p in params if p.grad is not None]
    norm = torch.stack([g.double().pow(2).sum() for g in grads]).sum().sqrt().item()
    if max_norm > 0 and norm > max_norm:
        for g in grads:
            g.mul_(max_norm / (norm + 1e-6))
    return norm


# ---- training -----------------------------------------------------------------------------------

def train(job, job_path, device):
    import torch
    tr, T, B = job["training"], job["training"]["context"], job["training"]["batch_size"]
    seed, steps = tr["seed"], tr["steps"]
    torch.manual_seed(seed)  # pretrain initialisation and dropout (if the model has any)
    model = load_model(job, job_path).to(device)
    tokens = read_tokens(job["data"]["tokens"], job["data"]["token_count"], model.config.vocab_size)
    windows = max(0, (len(tokens) - 1) // T)  # window i = tokens[i·T ..< i·T + T + 1]
    if windows < B:
        fail(job["data"]["tokens"], f"{len(tokens)} tokens make no full batch; at least {B * T + 1} are needed")
    per_epoch = windows // B
    opt = optimizer_for(model, tr)
    params = [p for g in opt.param_groups for p in g["params"]]
    model.train()
    offsets = torch.arange(T + 1)
    perm, perm_epoch, loss_value, t0 = None, -1, float("nan"), time.time()
    for step in range(steps):
        epoch, k = divmod(step, per_epoch)
        if epoch != perm_epoch:
            perm, perm_epoch = permutation(windows, seed, epoch), epoch
        starts = torch.tensor(perm[k * B:(k + 1) * B]) * T
        batch = tokens[starts[:, None] + offsets].to(device)  # (B, T+1)
        x, y = batch[:, :-1], batch[:, 1:]
        logits = model(input_ids=x, use_cache=False).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = clip_(params, tr["grad_clip"])
        lr = lr_at(step, tr["learning_rate"], tr["warmup_steps"], steps, tr["min_lr_fraction"])
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        loss_value = loss.item()
        # One JSON line a step, as `shallot train --json`.
        print(json.dumps({"event": "step", "step": step + 1, "total": steps, "loss": loss_value, "lr": lr, "grad_norm": norm}), flush=True)
    return model, loss_value, time.time() - t0


def write_outputs(job, model, final_loss):
    """The HF directory (config.json, model.safetensors, tokenizer files), then the result file —
    last, via a temporary name — so a directory with a result file is a finished one."""
    import torch, transformers
    out = job["output"]
    result_path = os.path.join(out, "shallot-train-result.json")
    os.makedirs(out, mode=0o700, exist_ok=True)
    if os.path.exists(result_path):
        os.remove(result_path)
    model.to("cpu").save_pretrained(out, safe_serialization=True)
    for f in ("vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json"):
        src = os.path.join(job["tokenizer"], f)
        if os.path.isfile(src):
            shutil.copyfile(src, os.path.join(out, f))
    result = {"schema": "shallot.train-result/1", "job_id": job["id"], "tokens_sha256": job["data"]["tokens_sha256"],
              "steps": job["training"]["steps"], "final_loss": final_loss,
              "trainer": f"{TRAINER} (torch {torch.__version__}, transformers {transformers.__version__})"}
    tmp = result_path + f".tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    os.replace(tmp, result_path)
    return result_path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("job", help="the job's job.json")
    ap.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda, cuda:1, …")
    ap.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    a = ap.parse_args()
    job = read_job(a.job)
    import torch
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 means float32, also on Ampere+
    torch.backends.cudnn.allow_tf32 = False
    model, final_loss, seconds = train(job, a.job, torch.device(a.device))
    if not math.isfinite(final_loss):
        fail(a.job, f"training diverged (final loss {final_loss}); nothing written")
    path = write_outputs(job, model, final_loss)
    print(f"hf_trainer: {job['id']}: {job['training']['steps']} steps in {seconds:.1f} s, final loss {final_loss:.4f}; {path}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
