"""Chooses the main job's training recipe without looking at dev: recipes are scored on train's own
held-out wordings.

`examples/intents/dev.csv` holds wordings that train never shows, and the README reports the job's
accuracy on it, so the recipe must not be tuned there. This script splits the training phrasings of
`examples/intents/make_dataset.py` the way that file splits dev from train (per intent and language,
whole phrasings held out, never single fillings), in three folds: the last training phrasings of the
first batch, then the last of the second batch (the third batch always trains), then the whole fourth
batch (requests that describe a situation instead of naming what they want, a style the other batches
lack: 230 rows, three times dev, trained on the other 682). Each recipe (a set of
`--set` overrides of `examples/intents/config.yaml`) trains on the rest and is scored on the held-out
phrasings, per language, for each fold and seed; the table prints the mean and spread.

    python benchmarks/intents_recipe.py --seeds 0 1
    python benchmarks/intents_recipe.py --recipe "lower rate" training.learning_rate=5e-5 training.epochs=15
"""

import argparse
import csv
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "examples", "intents")
sys.path.insert(0, EXAMPLE)

import make_dataset  # noqa: E402

# name -> overrides of examples/intents/config.yaml; the job's own settings first.
RECIPES = {
    "config as shipped": [],
    "dropout 0.3": ["training.dropout=0.3"],
    "lower rate, more epochs": ["training.learning_rate=5e-5", "training.epochs=15",
                                "training.early_stopping_patience=4"],
    "token cutoff 0.1": ["augmentation.token_cutoff=0.1"],
    "span cutoff 0.2 + swaps": ["augmentation.span_cutoff=0.2", "augmentation.local_swaps=0.1"],
    "R-Drop 1.0": ["augmentation.consistency=1.0"],
    "label smoothing 0.1": ["augmentation.label_smoothing=0.1"],
    "keyword cutoff 0.3": ["augmentation.keyword_cutoff=0.3"],
    "keyword cutoff 0.3 + label smoothing 0.1": ["augmentation.keyword_cutoff=0.3", "augmentation.label_smoothing=0.1"],
}


def fold_rows(fold, held_per_language):
    """(train rows, held-out rows) of one fold: the last phrasings of the first (fold 0) or second (fold 1)
    training batch held out whole, as dev is from train, or (fold 2) the whole situations batch, requests
    written in another style than the rest; every other training phrasing trains."""
    rng = random.Random(fold)
    train, held = [], []
    for intent in make_dataset.PHRASINGS:
        for language in ("en", "zh"):
            slots = make_dataset.ZH_SLOTS if language == "zh" else make_dataset.SLOTS
            first = make_dataset.PHRASINGS[intent][language][:-make_dataset.HELD_OUT[language]]  # dev's never here
            batches = [first, make_dataset.EXTRA_TRAIN[intent][language]]
            rest = make_dataset.MORE_TRAIN[intent][language]
            situations = make_dataset.SITUATIONS_TRAIN[intent][language]
            if fold == 2:
                kept, held_out = batches[0] + batches[1] + rest, situations
            else:
                k = held_per_language[language]
                kept = batches[fold][:-k] + batches[1 - fold] + rest + situations
                held_out = batches[fold][-k:]
            train.extend((text, intent, language) for text in make_dataset.filled(kept, slots, rng))
            held.extend((text, intent, language) for text in make_dataset.filled(held_out, slots, rng))
    rng.shuffle(train)
    return train, held


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "intent", "language"])
        writer.writerows(rows)


def run_recipe(workdir, fold, seed, overrides):
    """Trains the job's config on one fold and returns its held-out report (accuracy, per language)."""
    train, held = fold_rows(fold, make_dataset.HELD_OUT)
    write_csv(os.path.join(workdir, "train.csv"), train)
    write_csv(os.path.join(workdir, "held_out.csv"), held)
    sets = [f"data.train={workdir}/train.csv", f"data.validation={workdir}/held_out.csv",
            f"training.seed={seed}", f"name=intents_recipe_{fold}_{seed}", *overrides]
    shutil.rmtree(os.path.join(workdir, "runs"), ignore_errors=True)  # a run left there would be resumed
    config = os.path.join(EXAMPLE, "config.yaml")
    arguments = [item for pair in (("--set", value) for value in sets) for item in pair]
    for command in ("train", "evaluate"):
        subprocess.run([sys.executable, "-m", "tfllm.cli", command, config, *arguments], check=True, cwd=workdir,
                       stdout=subprocess.DEVNULL)
    report_path = os.path.join(workdir, "runs", f"intents_recipe_{fold}_{seed}", "evaluation", "validation",
                               "report.json")
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    return {"all": report["accuracy"], **{group: scores["accuracy"] for group, scores in report["groups"].items()}}


def summary(values):
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {spread:.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2], choices=[0, 1, 2])
    parser.add_argument("--only", nargs="+", help="names of RECIPES to run (default: all)")
    parser.add_argument("--recipe", nargs="+", metavar=("NAME", "SECTION.KEY=VALUE"),
                        help="one more recipe: a name and its overrides")
    args = parser.parse_args()
    recipes = {name: RECIPES[name] for name in (args.only or RECIPES)}
    if args.recipe:
        recipes[args.recipe[0]] = args.recipe[1:]
    print(f"{'recipe':28s} {'all':>15s} {'English':>15s} {'Chinese':>15s}  (held-out train phrasings; "
          f"folds {args.folds}, seeds {args.seeds})", flush=True)
    with tempfile.TemporaryDirectory() as workdir:
        for name, overrides in recipes.items():
            scores = [run_recipe(workdir, fold, seed, overrides) for fold in args.folds for seed in args.seeds]
            print(f"{name:28s} " + " ".join(f"{summary([s[key] for s in scores]):>15s}" for key in ("all", "en", "zh"))
                  + "  " + " ".join(f"{s['all']:.3f}" for s in scores), flush=True)


if __name__ == "__main__":
    main()
