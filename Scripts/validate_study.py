#!/usr/bin/env python3
"""Does the onion study see a planted onion effect, and only that? (docs/methods.md, "Validation: does the instrument see a planted effect, and only that?")

Each run writes a fresh pair of corpora with `shallot corpus synth` (seed = first seed + run): a
fine-tuning corpus with a planted onion mechanism (`--namesakes G` and the other plant options given
in --synth: groups of namesakes whose heavy member's phone number shadows the light members' behind
the same signature prefix, docs/namesakes.md) and its null twin (`--namesake-null`: the same people
and mail, light members with names and titles of their own), and a pre-training corpus of another
population. It runs `shallot study --corpus F --pretrain-corpus P` on each — the path a user's own
corpus takes — with deletion targets chosen by the study itself (blind to the plant; the sidecar
F.namesakes.json is read only afterwards, to say how many heavy members the study deleted and how
many light members surfaced in each arm), and prints the rate of each verdict with Clopper–Pearson
95% intervals (two-sided, exact). The requirement is judged on those intervals, not on the point
rates: it is *shown* only when

    planted → `exceeds`: the interval's lower end ≥ 0.80;
    null → `exceeds` and null → `fewer`: the interval's upper end ≤ 0.05

for every group count checked with --require (by default the largest of --groups); otherwise the
script says which bound is not met (and how many runs without a failure would meet it) and exits 1.
With no failure that takes 17 planted runs (0.025^(1/n) ≥ 0.80) and 72 null runs
(1 − 0.025^(1/n) ≤ 0.05); one failure needs more (the script prints how many).
`--groups 2,4,6` is the dial of the planted effect's size, so the detection rate is shown near Δ,
not only far above it. Resumable: a run whose study.json exists is read, not run again (and a killed
study resumes). Only the standard library.

    python3 Scripts/validate_study.py --shallot .build/release/shallot --planted-runs 17 --null-runs 72 --groups 6 --out runs/validation \
        --synth "--subjects 120 --records 1000 --zipf 0.7 --namesake-light-messages 20 --namesake-heavy-messages 40 --namesake-heavy-notes --namesake-heavy-exact" \
        -- --finetune-epochs 3 --finetune-lr 1.5e-3

With --leakage it validates the pre-training leakage verdict instead (docs/methods.md, "Pre-training
leakage"; issue 21), with no onion round (--rounds 0). Each run is a planted positive — a synthetic
pre-training corpus of few people writing many messages (--leakage-synth, default 20 people and 700
messages: most target values occur more than 20 times) — or its null twin (`--leakage-null`: the
base's corpus has half A of the target values replaced too, so neither base saw a target), each with
a fresh seed. It prints the rate of each leakage verdict with Clopper–Pearson 95% intervals and
passes only when

    planted → `leaks`: the interval's lower end ≥ 0.80;  null → `leaks`: its upper end ≤ 0.05

(17 planted and 72 null runs without a failure, as above); otherwise it says "not shown" and exits 1.
It also prints how often the fine-tuned contrast's interval alone lay above 0 in each kind (whatever
the preconditions said), so that a null run kept from `leaks` only by its base's precondition shows.
The verdict needs at least 3 seed pairs, so give at least --seeds 3 (the smoke preset has 2).
--leakage-user runs the same through `study --corpus F --pretrain-corpus P` (corpora written by
`corpus synth`; format-matched surrogates, the path a user's corpus takes).

    python3 Scripts/validate_study.py --leakage --shallot .build/release/shallot --preset smoke --planted-runs 17 --null-runs 72 --jobs 1 \
        --out runs/leakage-validation -- --seeds 3 --selection-seeds 1 --finetune-epochs 4 --finetune-lr 3e-3 --pretrain-epochs 4
"""
import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import time


def betainc(a, b, x):
    """Regularised incomplete beta I_x(a, b) (continued fraction, Numerical Recipes' betacf)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x)
    if x > (a + 1) / (a + b + 2):
        return 1 - betainc(b, a, 1 - x)
    tiny, qab, qap, qam = 1e-300, a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1 + aa * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-14:
            break
    return math.exp(lbeta) * h / a


def claim_run(out, path, used, wanted):
    """A run directory holds one set of options (args.json): the study it finished (study.json) is
    returned; a directory of other options is an error; otherwise the options are recorded
    (atomically) and None says the run is to be done."""
    if os.path.exists(used) and json.load(open(used)) != wanted:
        sys.exit(f"{out} holds a run with other options ({used}); choose another --out")
    if os.path.exists(path) and not os.path.exists(used):
        sys.exit(f"{out} holds a study.json without the options that made it ({used}); choose another --out")
    if os.path.exists(path):
        return json.load(open(path))
    os.makedirs(out, mode=0o700, exist_ok=True)
    with open(used + ".tmp", "w") as fh:
        json.dump(wanted, fh)
    os.replace(used + ".tmp", used)
    return None


def clopper_pearson(k, n, level=0.95):
    """Exact binomial interval by bisection on the beta CDF."""
    if n == 0:
        return (0.0, 1.0)
    alpha = 1 - level

    def solve(f):
        lo, hi = 0.0, 1.0
        for _ in range(100):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if f(mid) else (lo, mid)
        return (lo + hi) / 2
    low = 0.0 if k == 0 else solve(lambda p: betainc(k, n - k + 1, p) < alpha / 2)
    high = 1.0 if k == n else solve(lambda p: betainc(k + 1, n - k, p) < 1 - alpha / 2)
    return (low, high)


REQUIRED_POWER, REQUIRED_FALSE = 0.80, 0.05


def shown_at_least(k, n, rate=REQUIRED_POWER):
    """Is a rate of at least `rate` shown by k successes in n runs (the CP lower end ≥ rate)?"""
    return n > 0 and clopper_pearson(k, n)[0] >= rate


def shown_at_most(k, n, rate=REQUIRED_FALSE):
    """Is a rate of at most `rate` shown by k events in n runs (the CP upper end ≤ rate)?"""
    return n > 0 and clopper_pearson(k, n)[1] <= rate


def runs_needed(failures, at_least=True, limit=2000):
    """The fewest runs with this many failures (misses of a planted run, or events in a null run)
    whose Clopper–Pearson bound shows the requirement."""
    for n in range(failures + 1, limit):
        if (shown_at_least(n - failures, n) if at_least else shown_at_most(failures, n)):
            return n
    return None


def gate(label, k, n, at_least):
    """None when the requirement is shown by k of n runs, else why not (with the runs it would take)."""
    low, high = clopper_pearson(k, n)
    if at_least and shown_at_least(k, n):
        return None
    if not at_least and shown_at_most(k, n):
        return None
    failures = n - k if at_least else k
    need = runs_needed(failures, at_least)
    bound = f"lower end {low:.3f} < {REQUIRED_POWER:.2f}" if at_least else f"upper end {high:.3f} > {REQUIRED_FALSE:.2f}"
    more = f"; with {failures} failure(s) it takes {need} runs" if need else ""
    return f"{label} in {k}/{n} runs, 95% CP [{low:.3f}, {high:.3f}]: not shown ({bound}{more})"


def shallot(args, cmd):
    r = subprocess.run([args.shallot] + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"failed ({' '.join(cmd)}):\n{r.stderr[-3000:]}")


def corpora(args, out, seed, groups, null):
    """The run's pre-training corpus and its planted (or null) fine-tuning corpus, written once."""
    os.makedirs(out, mode=0o700, exist_ok=True)
    p, f = os.path.join(out, "P.jsonl"), os.path.join(out, "F.jsonl")
    if not os.path.exists(p):
        shallot(args, ["corpus", "synth", "--population", "0", "--seed", str(seed)] + shlex.split(args.pretrain_synth) + ["--out", p])
    if not os.path.exists(f + ".namesakes.json"):
        shallot(args, ["corpus", "synth", "--population", "1", "--seed", str(seed + 1), "--namesakes", str(groups)]
                + shlex.split(args.synth) + (["--namesake-null"] if null else []) + ["--out", f])
    return p, f


def run_study(args, out, seed, groups, null):
    """One study; a finished one is read back only if it ran with the same options (args.json)."""
    path, used = os.path.join(out, "study.json"), os.path.join(out, "args.json")
    wanted = {"preset": args.preset, "synth": args.synth, "pretrain_synth": args.pretrain_synth, "study": args.extra,
              "seed": seed, "groups": groups, "null": null}
    done = claim_run(out, path, used, wanted)
    if done is not None:
        return done, 0.0
    p, f = corpora(args, out, seed, groups, null)
    cmd = ["study", "--preset", args.preset, "--seed", str(seed), "--corpus", f, "--pretrain-corpus", p,
           "--salt-file", os.path.join(args.out, "salt"), "--reveal-pii", "--jobs", str(args.jobs), "--out", out] + args.extra
    t0 = time.time()
    shallot(args, cmd)
    return json.load(open(path)), time.time() - t0


def plant_size(j, groups):
    """Per run: heavy members the study deleted, and light members newly vulnerable per arm (mean
    over evaluation seeds), from the corpus's sidecar (the study never read it)."""
    heavy = {g["heavy"]["subject"] for g in groups}
    light = {m["subject"] for g in groups for m in g["light"]}
    rd = (j.get("rounds") or [None])[0]
    if rd is None:
        return None
    arms = {}
    for arm, a in rd["arms"].items():
        seeds = a["seeds"]
        arms[arm] = sum(len(light & set(s["newly_vulnerable"])) for s in seeds) / max(1, len(seeds))
    drawn = rd["arms"]["random_removal"]["removed_per_seed"]
    return {"heavy_deleted": len(heavy & set(rd["deletion_targets"])), "heavy": len(heavy), "light_newly": arms,
            "heavy_drawn_by_random": sum(len(heavy & set(d)) for d in drawn) / max(1, len(drawn))}


def summarise(runs, plants):
    """Verdict counts of round 1, and the plant's realised size (light namesakes newly vulnerable)."""
    out = {"runs": len(runs), "outcomes": {}}
    sizes = [p for p in plants if p]
    if sizes:
        out["heavy_deleted_mean"] = sum(p["heavy_deleted"] for p in sizes) / len(sizes)
        out["heavy_drawn_by_random_mean"] = sum(p["heavy_drawn_by_random"] for p in sizes) / len(sizes)
        out["light_newly_mean"] = {a: sum(p["light_newly"].get(a, 0) for p in sizes) / len(sizes) for a in ("deletion", "random_removal", "reseed")}
    for j in runs:
        rounds = j.get("rounds") or []
        o = rounds[0]["verdict"]["outcome"] if rounds else "stopped"
        out["outcomes"][o] = out["outcomes"].get(o, 0) + 1
    for o in ("exceeds", "fewer", "does_not_exceed", "inconclusive", "stopped"):
        k = out["outcomes"].get(o, 0)
        out[o] = {"count": k, "rate": k / max(1, len(runs)), "ci_95": clopper_pearson(k, len(runs))}
    diffs = {}
    for j in runs:
        for c in (j.get("rounds") or [{}])[0].get("verdict", {}).get("comparisons", []):
            diffs.setdefault(c["control"], []).append(c["difference"])
    out["mean_difference"] = {k: sum(v) / len(v) for k, v in diffs.items()}
    mdes = sorted(m for m in (j["rounds"][0]["verdict"].get("minimum_detectable_effect") for j in runs if j.get("rounds")) if m is not None)
    out["median_mde"] = mdes[len(mdes) // 2] if mdes else None
    out["seconds"] = [j.get("seconds") for j in runs]
    return out


def table(report):
    print("\n| G | corpus | runs | exceeds | fewer | does_not_exceed | inconclusive | mean diff vs random / reseed | median MDE | heavy deleted / drawn by random | light newly (del / rand / reseed) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for g, kinds in report["groups"].items():
        for kind, s in kinds.items():
            cell = lambda o: f"{s[o]['count']}/{s['runs']} [{s[o]['ci_95'][0]:.2f}, {s[o]['ci_95'][1]:.2f}]"
            md = s["mean_difference"]
            mde = s["median_mde"]
            print(f"| {g} | {kind} | {s['runs']} | {cell('exceeds')} | {cell('fewer')} | {cell('does_not_exceed')} | {cell('inconclusive')} | "
                  + " / ".join(f"{md[c]:+.3f}" if c in md else "n/a" for c in ("random_removal", "reseed")) + " | "
                  f"{'n/a' if mde is None else f'{mde:.3f}'} | "
                  f"{s.get('heavy_deleted_mean', float('nan')):.1f} / {s.get('heavy_drawn_by_random_mean', float('nan')):.1f} | "
                  + " / ".join(f"{s.get('light_newly_mean', {}).get(a, float('nan')):.2f}" for a in ("deletion", "random_removal", "reseed")) + " |")


def check(report, required):
    """The requirements of issue 16 on the Clopper–Pearson bounds (not the point rates)."""
    failures = []
    for g in required:
        kinds = report["groups"].get(str(g))
        if not kinds:
            failures.append(f"G={g}: not run")
            continue
        pl, nu = kinds["planted"], kinds["null"]
        for why in (gate(f"G={g}: planted → exceeds", pl["exceeds"]["count"], pl["runs"], True),
                    gate(f"G={g}: null → exceeds", nu["exceeds"]["count"], nu["runs"], False),
                    gate(f"G={g}: null → fewer", nu["fewer"]["count"], nu["runs"], False)):
            if why:
                failures.append(why)
        # A run that stopped after round 0 tested nothing: it cannot count for either side.
        for kind, k in (("planted", pl), ("null", nu)):
            if k["stopped"]["count"]:
                failures.append(f"G={g}: {kind}: {k['stopped']['count']} run(s) stopped after round 0 (calibrate memorisation first)")
    return failures


def run_leakage(args, out, seed, null):
    """One leakage validation study (no onion round); read back if it ran with the same options."""
    path, used = os.path.join(out, "study.json"), os.path.join(out, "args.json")
    wanted = {"mode": "leakage", "preset": args.preset, "leakage_synth": args.leakage_synth, "user": args.leakage_user,
              "study": args.extra, "seed": seed, "null": null}
    done = claim_run(out, path, used, wanted)
    if done is not None:
        return done, 0.0
    if args.leakage_user:
        p, f = os.path.join(out, "P.jsonl"), os.path.join(out, "F.jsonl")
        if not os.path.exists(p):
            shallot(args, ["corpus", "synth", "--population", "0", "--seed", str(seed)] + leakage_corpus_options(args) + ["--out", p])
        if not os.path.exists(f):
            shallot(args, ["corpus", "synth", "--population", "1", "--seed", str(seed + 1)] + shlex.split(args.leakage_finetune_synth) + ["--out", f])
        corpus = ["--corpus", f, "--pretrain-corpus", p]
    else:
        corpus = shlex.split(args.leakage_synth)
    cmd = (["study", "--preset", args.preset, "--seed", str(seed), "--rounds", "0", "--salt-file", os.path.join(args.out, "salt"),
            "--jobs", str(args.jobs), "--out", out] + corpus + (["--leakage-null"] if null else []) + args.extra)
    t0 = time.time()
    shallot(args, cmd)
    return json.load(open(path)), time.time() - t0


def leakage_corpus_options(args):
    """--leakage-synth's study options as `corpus synth` options (--pretrain-subjects N → --subjects N)."""
    words = shlex.split(args.leakage_synth)
    names = {"--pretrain-subjects": "--subjects", "--pretrain-records": "--records"}
    return [names.get(w, w) for w in words]


def summarise_leakage(runs):
    """Leakage verdict counts with Clopper-Pearson intervals, and what the numbers behind them were."""
    out = {"runs": len(runs)}
    verdicts = [j["pretraining_leakage"]["verdict"] for j in runs]
    for o in ("leaks", "no_leak_above_delta", "inconclusive"):
        k = sum(1 for v in verdicts if v["outcome"] == o)
        out[o] = {"count": k, "rate": k / max(1, len(runs)), "ci_95": clopper_pearson(k, len(runs))}
    above = sum(1 for v in verdicts if v["finetuned"].get("ci_95") and as_float(v["finetuned"]["ci_95"]["low"]) > 0)
    base = sum(1 for v in verdicts if v["base"].get("ci_95") and as_float(v["base"]["ci_95"]["low"]) > 0)
    out["finetuned_interval_above_0"] = {"count": above, "rate": above / max(1, len(runs)), "ci_95": clopper_pearson(above, len(runs))}
    out["base_interval_above_0"] = {"count": base, "rate": base / max(1, len(runs))}
    estimates = [as_float(v["finetuned"]["estimate"]) for v in verdicts]
    out["mean_estimate"] = sum(estimates) / max(1, len(estimates))
    mdes = sorted(as_float(v["finetuned"]["minimum_detectable_effect"]) for v in verdicts if v["finetuned"].get("minimum_detectable_effect") is not None)
    out["median_mde"] = mdes[len(mdes) // 2] if mdes else None
    # The SD of d_v the run realised (SE / √(1/n_A + 1/n_B)), against the preset's committed
    # prospective SD, and the prospective MDE the study printed before training.
    sds = sorted(as_float(v["finetuned"]["standard_error"]) / math.sqrt(1 / v["finetuned"]["values_a"] + 1 / v["finetuned"]["values_b"])
                 for v in verdicts if v["finetuned"].get("standard_error") is not None)
    out["median_sd_dv"] = sds[len(sds) // 2] if sds else None
    out["sd_dv_range"] = [sds[0], sds[-1]] if sds else None
    designs = [j["pretraining_leakage"]["design"] for j in runs]
    out["prospective_sd"] = designs[0].get("prospective_sd") if designs else None
    pm = sorted(as_float(d["prospective_mde"]) for d in designs if d.get("prospective_mde") is not None)
    out["median_prospective_mde"] = pm[len(pm) // 2] if pm else None
    out["scored_mean"] = [sum(d["scored"][h] for d in designs) / max(1, len(designs)) for h in ("a", "b")] if designs and "scored" in designs[0] else None
    out["seconds"] = [j.get("seconds") for j in runs]
    return out


def as_float(x):
    """A number of study.json (non-finite ones are written as strings)."""
    return float(x)


def leakage_table(report):
    print("\n| corpus | runs | leaks | no_leak_above_delta | inconclusive | fine-tuned interval above 0 | base above 0 | mean A − B (nats/token) "
          "| median MDE (prospective) | SD of d_v: median [range] (assumed) | scored A + B (mean) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    f3 = lambda x: "n/a" if x is None else f"{x:.3f}"
    for kind, s in report["kinds"].items():
        cell = lambda o: f"{s[o]['count']}/{s['runs']} [{s[o]['ci_95'][0]:.3f}, {s[o]['ci_95'][1]:.3f}]"
        sd = f"{f3(s.get('median_sd_dv'))} [{f3((s.get('sd_dv_range') or [None])[0])}, {f3((s.get('sd_dv_range') or [None, None])[-1])}] ({f3(s.get('prospective_sd'))})"
        scored = " + ".join(f"{x:.1f}" for x in s["scored_mean"]) if s.get("scored_mean") else "n/a"
        print(f"| {kind} | {s['runs']} | {cell('leaks')} | {cell('no_leak_above_delta')} | {cell('inconclusive')} | {cell('finetuned_interval_above_0')} | "
              f"{s['base_interval_above_0']['count']}/{s['runs']} | {s['mean_estimate']:+.3f} | {f3(s['median_mde'])} ({f3(s.get('median_prospective_mde'))}) | {sd} | {scored} |")


def validate_leakage(args):
    """The planted/null validation of the pre-training leakage verdict; exits 1 when it fails."""
    report = {"mode": "leakage", "preset": args.preset, "runs": args.runs, "leakage_synth": args.leakage_synth, "user": args.leakage_user,
              "study": args.extra, "kinds": {}}
    report["runs"] = {"planted": args.planted_runs or args.runs, "null": args.null_runs or args.runs}
    for kind in ("planted", "null"):
        runs = []
        for r in range(report["runs"][kind]):
            seed = args.first_seed + r
            j, secs = run_leakage(args, os.path.join(args.out, "leakage", f"{kind}-{seed}"), seed, kind == "null")
            v = j["pretraining_leakage"]["verdict"]
            above = v["finetuned"].get("ci_95") and as_float(v["finetuned"]["ci_95"]["low"]) > 0
            print(f"leakage {kind:7s} seed {seed}: {v['outcome']}" + (" (fine-tuned interval above 0)" if above else "")
                  + (f" ({secs:.0f} s)" if secs else " (read)"), flush=True)
            runs.append(j)
        report["kinds"][kind] = summarise_leakage(runs)
    path = os.path.join(args.out, "leakage-validation.json")
    with open(path + ".tmp", "w") as f:
        json.dump(report, f, indent=2)
    os.replace(path + ".tmp", path)
    leakage_table(report)
    pl, nu = report["kinds"]["planted"], report["kinds"]["null"]
    failures = [why for why in (gate("planted → leaks", pl["leaks"]["count"], pl["runs"], True),
                                gate("null → leaks", nu["leaks"]["count"], nu["runs"], False)) if why]
    fa = nu["finetuned_interval_above_0"]
    print(f"\nnull runs whose fine-tuned interval alone lay above 0: {fa['count']}/{nu['runs']} "
          f"(95% CP [{fa['ci_95'][0]:.3f}, {fa['ci_95'][1]:.3f}])")
    print(f"\n{path}")
    if failures:
        print("LEAKAGE VALIDATION NOT SHOWN (Clopper–Pearson 95%: planted lower end ≥ 0.80, null upper end ≤ 0.05):\n  " + "\n  ".join(failures))
        sys.exit(1)
    print(f"leakage validation passed: planted → leaks in {pl['leaks']['count']}/{pl['runs']} (CP lower end {pl['leaks']['ci_95'][0]:.3f} ≥ 0.80), "
          f"null → leaks in {nu['leaks']['count']}/{nu['runs']} (CP upper end {nu['leaks']['ci_95'][1]:.3f} ≤ 0.05)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shallot", default=".build/release/shallot")
    ap.add_argument("--preset", default="validation")
    ap.add_argument("--runs", type=int, default=10, help="runs per corpus kind and group count (see --planted-runs, --null-runs)")
    ap.add_argument("--planted-runs", type=int, default=None, help="planted runs (default --runs); 17 without a miss show ≥ 80%%")
    ap.add_argument("--null-runs", type=int, default=None, help="null runs (default --runs); 72 without a false verdict show ≤ 5%%")
    ap.add_argument("--groups", default="6", help="comma-separated namesake group counts (the dial)")
    ap.add_argument("--require", default=None, help="group counts the thresholds apply to (default: the largest of --groups)")
    ap.add_argument("--synth", default="--subjects 120 --records 1000 --zipf 0.7 --namesake-light-messages 20 --namesake-heavy-messages 40 "
                    "--namesake-heavy-notes --namesake-heavy-exact", help="`corpus synth` options of the fine-tuning corpora (plant included)")
    ap.add_argument("--pretrain-synth", default="--subjects 60 --records 300 --zipf 0.7", help="`corpus synth` options of the pre-training corpora")
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="runs/validation")
    ap.add_argument("--leakage", action="store_true", help="validate the pre-training leakage verdict instead (planted positive and null twin)")
    ap.add_argument("--leakage-synth", default="--pretrain-subjects 20 --pretrain-records 700",
                    help="with --leakage: `shallot study` options of the planted synthetic pre-training corpus")
    ap.add_argument("--leakage-user", action="store_true", help="with --leakage: through --corpus F --pretrain-corpus P written by `corpus synth`")
    ap.add_argument("--leakage-finetune-synth", default="--subjects 24 --records 60", help="with --leakage-user: `corpus synth` options of F")
    ap.add_argument("extra", nargs="*", help="after --: more `shallot study` options")
    args = ap.parse_args()
    os.makedirs(args.out, mode=0o700, exist_ok=True)
    salt = os.path.join(args.out, "salt")
    if not os.path.exists(salt):
        fd = os.open(salt, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, os.urandom(32))
        os.close(fd)
    if args.leakage:
        validate_leakage(args)
        return
    groups = [int(x) for x in args.groups.split(",")]
    report = {"preset": args.preset, "runs": args.runs, "synth": args.synth, "pretrain_synth": args.pretrain_synth, "study": args.extra, "groups": {}}
    for g in groups:
        kinds = {}
        for kind in ("planted", "null"):
            runs, plants = [], []
            for r in range((args.planted_runs if kind == "planted" else args.null_runs) or args.runs):
                seed = args.first_seed + r
                out = os.path.join(args.out, f"g{g}", f"{kind}-{seed}")
                j, secs = run_study(args, out, seed, g, kind == "null")
                plants.append(plant_size(j, json.load(open(os.path.join(out, "F.jsonl.namesakes.json")))["groups"]))
                o = (j.get("rounds") or [{"verdict": {"outcome": "stopped"}}])[0]["verdict"]["outcome"]
                print(f"G={g} {kind:7s} seed {seed}: {o}" + (f" ({secs:.0f} s)" if secs else " (read)"), flush=True)
                runs.append(j)
            kinds[kind] = summarise(runs, plants)
        report["groups"][str(g)] = kinds
    path = os.path.join(args.out, "validation.json")
    with open(path + ".tmp", "w") as f:
        json.dump(report, f, indent=2)
    os.replace(path + ".tmp", path)
    table(report)
    required = [int(x) for x in args.require.split(",")] if args.require else [max(groups)]
    failures = check(report, required)
    print(f"\n{path}")
    if failures:
        print("VALIDATION NOT SHOWN (Clopper–Pearson 95%: planted lower end ≥ 0.80, null upper ends ≤ 0.05):\n  " + "\n  ".join(failures))
        sys.exit(1)
    print(f"validation passed (Clopper–Pearson bounds) for G = {', '.join(map(str, required))}")


if __name__ == "__main__":
    main()
