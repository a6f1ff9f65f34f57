#!/usr/bin/env python3
"""The corpora behind BENCHMARKS.md "Masked placeholders": what filler text does to memorisation.

    python3 Scripts/filler_effect.py CORPUS.jsonl OUTDIR [--share 0.31] [--add 450] [--seed 7] [--add-seed 3]

From a planted corpus (`corpus synth ... --namesakes G`, with its .namesakes.json sidecar) writes:
  OUTDIR/replaced.jsonl  a share of the records outside the plant with their text replaced by the
                         fixed sentence " This message was removed." repeated to the same length;
  OUTDIR/dropped.jsonl   the same records left out;
  OUTDIR/added.jsonl     the corpus unchanged plus --add records of that sentence, nothing removed.
Each gets a copy of the sidecar. Then run, for each, `shallot study --preset validation --corpus
FILE --pretrain-corpus P --rounds 0 --seeds 2 --selection-seeds 1 --finetune-epochs 3
--finetune-lr 1.5e-3 --seed 100` (added.jsonl with --finetune-epochs 2.07, so the real records are
seen about as often) and compare the subjects vulnerable per model with the corpus as it is.
"""
import argparse, json, os, random, shutil

SENTENCE = " This message was removed."


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus"); ap.add_argument("out")
    ap.add_argument("--share", type=float, default=0.31); ap.add_argument("--add", type=int, default=450)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--add-seed", type=int, default=3)
    a = ap.parse_args()
    recs = [json.loads(l) for l in open(a.corpus, encoding="utf-8") if l.strip()]
    sidecar = a.corpus + ".namesakes.json"
    plant = set()
    if os.path.exists(sidecar):
        for g in json.load(open(sidecar, encoding="utf-8"))["groups"]:
            plant.add(g["heavy"]["subject"]); plant.update(m["subject"] for m in g["light"])
    os.makedirs(a.out, mode=0o700, exist_ok=True)
    rng = random.Random(a.seed)
    outside = [i for i, r in enumerate(recs) if r["subject"] not in plant]
    chosen = set(rng.sample(outside, int(a.share * len(recs))))

    def filler(r):
        r = dict(r); r["text"] = (SENTENCE * max(1, len(r["text"]) // len(SENTENCE))).strip(); return r

    def write(name, rows):
        path = os.path.join(a.out, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        if os.path.exists(sidecar):
            shutil.copyfile(sidecar, path + ".namesakes.json"); os.chmod(path + ".namesakes.json", 0o600)

    write("replaced.jsonl", [filler(r) if i in chosen else r for i, r in enumerate(recs)])
    write("dropped.jsonl", [r for i, r in enumerate(recs) if i not in chosen])
    rng = random.Random(a.add_seed)
    added = list(recs)
    for i in range(a.add):
        r = filler(recs[rng.randrange(len(recs))]); r["id"] = f"fill-{i}"; r["subject"] = f"filler{i}@nowhere.invalid"; r["meta"] = {}
        added.insert(rng.randrange(len(added) + 1), r)
    write("added.jsonl", added)
    print(f"{len(chosen)} records replaced/dropped, {a.add} added → {a.out}")


if __name__ == "__main__":
    main()
