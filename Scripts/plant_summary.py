#!/usr/bin/env python3
"""What a namesake plant looks like to the onion study (BENCHMARKS.md, the w1–w4 pilots).

    plant_summary.py strata CORPUS.jsonl
        From the corpus alone (its CORPUS.jsonl.namesakes.json sidecar from `corpus synth
        --namesakes`): the activity deciles (tokens ≈ characters / 4, as the study's strata rank
        subjects) of the heavy and light members, and how often a draw from a heavy member's decile
        is a heavy member — the share of the random control's draws that would open a group.

    plant_summary.py study CORPUS.jsonl OUT
        After `shallot study --corpus CORPUS.jsonl … --reveal-pii --out OUT` (subjects in the clear
        are needed to name the members): heavy members among the deletion targets, and per arm and
        evaluation seed the heavy and light members removed, the light members newly vulnerable,
        all newly vulnerable, the analysis set and the subjects vulnerable; then the round's
        comparisons, score changes and control balance.

Only the standard library.
"""
import collections
import json
import sys


def plant(corpus):
    groups = json.load(open(corpus + ".namesakes.json"))["groups"]
    heavy = {g["heavy"]["subject"] for g in groups}
    light = {m["subject"] for g in groups for m in g["light"]}
    return heavy, light


def strata(corpus):
    heavy, light = plant(corpus)
    chars, messages = collections.Counter(), collections.Counter()
    for line in open(corpus):
        r = json.loads(line)
        chars[r["subject"]] += len(r["text"]) // 4
        messages[r["subject"]] += 1
    order = sorted(chars, key=lambda s: (chars[s], s))
    n = len(order)
    decile = {s: min(9, i * 10 // n) for i, s in enumerate(order)}
    size = collections.Counter(decile.values())
    share = sum(sum(decile[x] == decile[h] for x in heavy) / size[decile[h]] for h in heavy) / len(heavy)
    ordinary = sorted((messages[s] for s in order if s not in heavy and s not in light), reverse=True)
    print(f"{n} subjects; heavy members' deciles {sorted(decile[h] for h in heavy)}, light members' {sorted(decile[s] for s in light)}")
    print(f"a draw from a heavy member's decile is a heavy member {share:.0%} of the time")
    print(f"heavy members' share of the tokens {sum(chars[h] for h in heavy) / sum(chars.values()):.3f}; "
          f"most messages of an ordinary sender {ordinary[:5]}")


def listed(x):
    return x if isinstance(x, list) else []


def study(corpus, out):
    heavy, light = plant(corpus)
    d = json.load(open(out + "/study.json"))
    r = d["rounds"][0]
    targets = r["deletion_targets"]
    if targets and all(len(t) == 16 and all(c in "0123456789abcdef" for c in t) for t in targets):
        sys.exit(f"{out}/study.json names subjects by salted keys: run the study with --reveal-pii to name the plant's members")
    print(f"vulnerable at baseline {d['baseline']['vulnerable_share']:.0%}, churn {d['baseline']['seed_churn']:.3f}; "
          f"heavy members among the {len(r['deletion_targets'])} deletion targets: {len(heavy & set(r['deletion_targets']))}")
    for arm, v in r["arms"].items():
        removed = v.get("removed_per_seed") or []
        for i, s in enumerate(v["seeds"]):
            gone = set(removed[i]) if i < len(removed) else (set(r["deletion_targets"]) if arm == "deletion" else set())
            newly = set(listed(s["newly_vulnerable"]))
            print(f"  {arm:15} seed {i}: heavy removed {len(heavy & gone)}, light removed {len(light & gone)}; "
                  f"newly vulnerable {len(newly)} (light {len(newly & light)}) of {s['analysis_set']}; vulnerable {len(listed(s['vulnerable']))}")
    for c in r["verdict"]["comparisons"]:
        ci = c["difference_ci_95"]
        print(f"  deletion − {c['control']}: {c['difference']:+.3f} [{ci['low']:.3f}, {ci['high']:.3f}], MDE {c['minimum_detectable_effect']:.3f}")
    for c in r["score_change"]:
        ci = c["estimate_ci_95"]
        print(f"  score change vs {c['control']}: {c['estimate']:+.3f} [{ci['low']:.3f}, {ci['high']:.3f}]")
    b = r["balance"]
    print(f"  verdict {r['verdict']['outcome']}; control's draws that were targets {b['overlap_with_targets']:.0%}, "
          f"token ratio {b['median_token_ratio']:.2f}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "strata":
        strata(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "study":
        study(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
