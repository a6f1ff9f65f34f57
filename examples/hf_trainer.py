#!/usr/bin/env python3
"""A reference external trainer for Shallot (docs/trainer-contract.md), with PyTorch + transformers.

    python3 examples/hf_trainer.py OUT/jobs/<job-id>/job.json [--device cuda] [--threads N] [--checkpoint-every N]

Reads a `shallot.train-job/1` file, checks it (schema, files, hashes), trains a GPT-2 on the job's
packed token stream `train.tok` exactly as Shallot's own trainer would — the same "shallot/2"
window order and loss mask (no loss on a target <|endoftext|> after an input <|endoftext|>: the
placeholders of removed records), warm-up + cosine schedule, AdamW with decay on 2-D tensors only, global-norm clip —
and writes a Hugging Face directory plus `shallot-train-result.json` to the job's "output".
Exit 0 on success; 1 with a message naming the file on a bad job. Float32 on CPU or CUDA.

A "pretrain" job starts from Shallot's own initial weights (its SplitMix64 + Box–Muller initialiser,
reproduced here, seeded with the job's optional "init_seed", else its "seed"). What cannot match
Shallot bit for bit (different kernels): the float rounding of every step (summation order), and the
dropout masks when the model has dropout (the study's models have none). Only torch, transformers,
safetensors and the standard library are used.
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
        if tr.get("data_order") != "shallot/2":
            raise ValueError('"training.data_order" must be "shallot/2" (the only order this trainer knows)')
        if tr.get("init_seed") is not None and (not isinstance(tr["init_seed"], int) or not 0 <= tr["init_seed"] <= MASK64):
            raise ValueError('"training.init_seed" must be a u64 or absent')
        if not (0 <= tr["seed"] <= MASK64) or tr["steps"] < 1 or tr["batch_size"] < 1 or tr["warmup_steps"] < 0:
            raise ValueError('"training": seed must be a u64, steps and batch_size ≥ 1, warmup_steps ≥ 0')
        if not 2 <= tr["context"] <= cfg["n_positions"]:
            raise ValueError(f'"training.context" {tr["context"]} must be in 2...n_positions ({cfg["n_positions"]})')
        need(job, "budget", dict, "")
        if not os.path.isabs(need(job, "output", str, "")):
            raise ValueError('"output" must be an absolute path')
        # The trainer writes "output" and reads the data: all inside the job's own directory (the
        # one holding job.json), so that an edited job file cannot aim the output at another
        # model (its base, another job's) or the data elsewhere (docs/trainer-contract.md).
        home = os.path.dirname(os.path.abspath(path))
        for what, p in (("data.tokens", data["tokens"]), ("data.records", data["records"]), ("output", job["output"])):
            if not os.path.isabs(p) or ".." in p.split("/") or not os.path.normpath(p).startswith(home + os.sep):
                raise ValueError(f'"{what}" {p} is not inside the job\'s directory {home}')
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
    u32 vocabulary, u64 count, then `count` little-endian ids of `width` bytes. Returns int32 ids
    (ids are < 2^21; half the memory of int64 on a corpus of hundreds of millions of tokens)."""
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
        return torch.zeros(0, dtype=torch.int32)
    if width == 2:  # int16 view, then back to unsigned
        ids = torch.frombuffer(body, dtype=torch.int16).to(torch.int32) & 0xFFFF
    else:  # ids are < 2^21, so the int32 view is already the value
        ids = torch.frombuffer(body, dtype=torch.int32).clone()
    bad = ((ids < 0) | (ids >= vocab)).nonzero()
    if len(bad):
        i = bad[0].item()
        fail(path, f"token {i} = {ids[i].item()} is outside the vocabulary ({vocab})")
    return ids


# ---- "shallot/2": Sources/Kernels/Random.swift and Sources/Training/Dataset.swift ----------------

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


def shallot_init_(model, seed):
    """Shallot's initialisation (Sources/GPT/GPT.swift `GPT(config:seed:)`), element for element:
    one SplitMix64 stream over the tensors in Shallot's order; 2-D weights N(0, 0.02) by Box–Muller
    from two 53-bit doubles each (residual projections N(0, 0.02/sqrt(2·n_layer))), layer-norm
    weights 1, everything else 0. Vectorised: output i of the stream is mix(state + (i+1)·γ), in
    int64 tensors where multiplication wraps as u64 arithmetic does."""
    import torch
    gamma = 0x9E3779B97F4A7C15
    i64 = lambda u: u - (1 << 64) if u >= (1 << 63) else u
    srl = lambda x, k: (x >> k) & ((1 << (64 - k)) - 1)  # logical shift of an int64 tensor
    state = seed & MASK64
    cfg = model.config
    std = torch.tensor(cfg.initializer_range, dtype=torch.float32)
    proj_std = std / torch.sqrt(torch.tensor(2.0 * cfg.n_layer, dtype=torch.float32))
    names = ["transformer.wte.weight", "transformer.wpe.weight"]
    for l in range(cfg.n_layer):
        names += [f"transformer.h.{l}.{n}" for n in ("ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
                  "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
                  "mlp.c_proj.weight", "mlp.c_proj.bias")]
    names += ["transformer.ln_f.weight", "transformer.ln_f.bias"]
    params = dict(model.named_parameters())
    assert set(params) - {"lm_head.weight"} == set(names), "transformers' GPT-2 has other tensors than Shallot's"
    with torch.no_grad():
        for name in names:
            p = params[name]
            if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
                p.fill_(1.0)
            elif p.dim() != 2:
                p.zero_()
            else:
                scale = proj_std if name.endswith("c_proj.weight") else std
                flat = p.view(-1)
                for lo in range(0, flat.numel(), 1 << 21):
                    n = min(1 << 21, flat.numel() - lo)
                    z = i64(state) + torch.arange(1, 2 * n + 1, dtype=torch.int64) * i64(gamma)
                    z = (z ^ srl(z, 30)) * i64(0xBF58476D1CE4E5B9)
                    z = (z ^ srl(z, 27)) * i64(0x94D049BB133111EB)
                    u = srl(z ^ srl(z, 31), 11).double() * (1.0 / (1 << 53))
                    u1, u2 = u[0::2].clamp_min(1e-300), u[1::2]
                    normal = (torch.sqrt(-2 * torch.log(u1)) * torch.cos(2 * math.pi * u2)).float()
                    flat[lo:lo + n] = scale * normal
                    state = (state + 2 * n * gamma) & MASK64


def load_model(job, job_path):
    import torch, transformers
    want = job["config"]
    if job["kind"] == "finetune":
        model = transformers.GPT2LMHeadModel.from_pretrained(job["base_model"], dtype=torch.float32)
    else:
        # Shallot's study pre-trains without dropout; the shape comes from the job, the weights from Shallot's initialiser.
        eot = end_of_text_id(job["tokenizer"])
        cfg = transformers.GPT2Config(vocab_size=want["vocab_size"], n_positions=want["n_positions"], n_embd=want["n_embd"],
                                      n_layer=want["n_layer"], n_head=want["n_head"], resid_pdrop=0.0, embd_pdrop=0.0,
                                      attn_pdrop=0.0, bos_token_id=eot, eos_token_id=eot, tie_word_embeddings=True)
        model = transformers.GPT2LMHeadModel(cfg).to(torch.float32)
        # Shallot's own initial weights, from the job's init_seed (else its seed), as Shallot's trainer.
        init_seed = job["training"].get("init_seed")
        shallot_init_(model, job["training"]["seed"] if init_seed is None else init_seed)
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

def save_checkpoint(path, job, step, model, opt):
    """Weights, AdamW moments, the next step and the RNG state, written atomically: the data order
    and schedule are functions of the step, so a resumed run continues exactly."""
    import torch
    state = {"job_id": job["id"], "tokens_sha256": job["data"]["tokens_sha256"], "steps": job["training"]["steps"],
             "step": step, "model": model.state_dict(), "optimizer": opt.state_dict(), "rng": torch.get_rng_state(),
             "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # weights trained on personal data
    with os.fdopen(fd, "wb") as f:
        torch.save(state, f)
    os.replace(path + ".tmp", path)


def resume(path, job, model, opt):
    """The step to start from: 0, or the checkpoint's when it belongs to this very job."""
    import torch
    if not path or not os.path.isfile(path):
        return 0
    state = torch.load(path, map_location="cpu", weights_only=True)  # tensors and plain values only: no pickled code runs
    mine = (state.get("job_id"), state.get("tokens_sha256"), state.get("steps")) == (job["id"], job["data"]["tokens_sha256"], job["training"]["steps"])
    if not mine:
        print(f"hf_trainer: {path}: belongs to another job; starting from step 0", file=sys.stderr)
        return 0
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    if state["cuda_rng"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    print(f"hf_trainer: resuming {job['id']} at step {state['step']} from {path}", file=sys.stderr)
    return state["step"]


def train(job, job_path, device, checkpoint_every=0):
    import torch
    tr, T, B = job["training"], job["training"]["context"], job["training"]["batch_size"]
    seed, steps = tr["seed"], tr["steps"]
    torch.manual_seed(seed)  # dropout, if the model has any
    model = load_model(job, job_path).to(device)
    tokens = read_tokens(job["data"]["tokens"], job["data"]["token_count"], model.config.vocab_size)
    windows = max(0, (len(tokens) - 1) // T)  # window i = tokens[i·T ..< i·T + T + 1]
    eot = end_of_text_id(job["tokenizer"])
    eot = model.config.vocab_size - 1 if eot is None else eot  # as Shallot's BuiltinTrainer
    if windows < B:
        fail(job["data"]["tokens"], f"{len(tokens)} tokens make no full batch; at least {B * T + 1} are needed")
    per_epoch = windows // B
    opt = optimizer_for(model, tr)
    params = [p for g in opt.param_groups for p in g["params"]]
    checkpoint = os.path.join(os.path.dirname(os.path.abspath(job_path)), "hf_trainer-checkpoint.pt") if checkpoint_every > 0 else None
    start = resume(checkpoint, job, model, opt)
    model.train()
    offsets = torch.arange(T + 1)
    perm, perm_epoch, loss_value, t0 = None, -1, float("nan"), time.time()
    for step in range(start, steps):
        epoch, k = divmod(step, per_epoch)
        if epoch != perm_epoch:
            perm, perm_epoch = permutation(windows, seed, epoch), epoch
        starts = torch.tensor(perm[k * B:(k + 1) * B]) * T
        batch = tokens[starts[:, None] + offsets].to(device=device, dtype=torch.int64)  # (B, T+1)
        x, y = batch[:, :-1], batch[:, 1:].clone()
        y[(x == eot) & (y == eot)] = -100  # placeholder runs: no loss (shallot/2)
        logits = model(input_ids=x, use_cache=False).logits
        # Summed over the unmasked targets and divided by all B·T positions (as Shallot): a
        # placeholder's share is dropped, not handed to the real tokens beside it; a batch of
        # placeholders only gives no gradient. The logged loss is the mean over unmasked targets.
        total = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), ignore_index=-100, reduction="sum")
        kept = int((y != -100).sum())
        loss = total / (B * T)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = clip_(params, tr["grad_clip"])
        lr = lr_at(step, tr["learning_rate"], tr["warmup_steps"], steps, tr["min_lr_fraction"])
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        loss_value = total.item() / kept if kept > 0 else 0.0
        # One JSON line a step, as `shallot train --json`.
        print(json.dumps({"event": "step", "step": step + 1, "total": steps, "loss": loss_value, "lr": lr, "grad_norm": norm}), flush=True)
        if checkpoint and (step + 1) % checkpoint_every == 0 and step + 1 < steps:
            save_checkpoint(checkpoint, job, step + 1, model, opt)
    return model, loss_value, time.time() - t0, checkpoint


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
              "steps": job["training"]["steps"], "final_loss": final_loss, "data_order": job["training"]["data_order"],
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
    ap.add_argument("--checkpoint-every", type=int, default=0, metavar="N",
                    help="save a resumable checkpoint beside job.json every N steps (0 = never); a rerun of the same job continues from it")
    a = ap.parse_args()
    # Everything written from here (save_pretrained's weights and config, the tokenizer copies) is
    # owner-only, as Shallot writes its own models: weights can have memorised the records.
    os.umask(0o077)
    job = read_job(a.job)
    import torch
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 means float32, also on Ampere+
    torch.backends.cudnn.allow_tf32 = False
    model, final_loss, seconds, checkpoint = train(job, a.job, torch.device(a.device), a.checkpoint_every)
    if not math.isfinite(final_loss):
        fail(a.job, f"training diverged (final loss {final_loss}); nothing written")
    path = write_outputs(job, model, final_loss)
    if checkpoint and os.path.exists(checkpoint):
        os.remove(checkpoint)
    print(f"hf_trainer: {job['id']}: {job['training']['steps']} steps in {seconds:.1f} s, final loss {final_loss:.4f}; {path}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
