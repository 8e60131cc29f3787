"""Per-class precision, recall and F1, and a confusion-matrix plot."""

import json
import os

import numpy as np

from tfllm import storage


def _precision_recall_f1(true_positives, false_positives, false_negatives):
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.nan_to_num(true_positives / (true_positives + false_positives))
        recall = np.nan_to_num(true_positives / (true_positives + false_negatives))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    return precision, recall, f1


def _per_class(names, precision, recall, f1, support):
    return {name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(names, precision, recall, f1, support)}


def classification_report(label_ids, predicted_ids, names):
    """Accuracy, macro F1 (over the classes that the labels or the predictions hold), per-class scores and
    the confusion matrix (rows: true, columns: predicted)."""
    matrix = np.zeros((len(names), len(names)), np.int64)
    np.add.at(matrix, (np.asarray(label_ids), np.asarray(predicted_ids)), 1)
    true_positives = np.diag(matrix).astype(float)
    precision, recall, f1 = _precision_recall_f1(
        true_positives, matrix.sum(0) - true_positives, matrix.sum(1) - true_positives)
    present = (matrix.sum(0) + matrix.sum(1)) > 0  # as scikit-learn and `MacroF1` average
    return {"examples": int(matrix.sum()), "accuracy": float(true_positives.sum() / max(matrix.sum(), 1)),
            "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
            "per_class": _per_class(names, precision, recall, f1, matrix.sum(1)),
            "confusion_matrix": matrix.tolist(), "labels": list(names)}


def multi_label_report(targets, predicted, names):
    """Micro and macro F1 and per-label scores of 0/1 matrices [examples, labels]."""
    targets, predicted = np.asarray(targets, bool), np.asarray(predicted, bool)
    true_positives = (targets & predicted).sum(0).astype(float)
    false_positives = (~targets & predicted).sum(0).astype(float)
    false_negatives = (targets & ~predicted).sum(0).astype(float)
    precision, recall, f1 = _precision_recall_f1(true_positives, false_positives, false_negatives)
    _, _, micro_f1 = _precision_recall_f1(true_positives.sum(), false_positives.sum(), false_negatives.sum())
    return {"examples": int(len(targets)), "micro_f1": float(micro_f1), "macro_f1": float(f1.mean()),
            "exact_match": float((targets == predicted).all(1).mean()) if len(targets) else 0.0,
            "per_class": _per_class(names, precision, recall, f1, targets.sum(0)), "labels": list(names)}


def format_report(report):
    """The report as a text table."""
    width = max(12, *(len(name) for name in report["labels"]))
    lines = [f"{'label':<{width}}  precision  recall     f1  support"]
    for name, scores in report["per_class"].items():
        lines.append(f"{name:<{width}}  {scores['precision']:9.3f}  {scores['recall']:6.3f}  {scores['f1']:5.3f}  "
                     f"{scores['support']:7d}")
    lines.append(_totals(report))
    for group, scores in report.get("groups", {}).items():
        lines.append(f"{report['group_column']} {group}: {_totals(scores)}")
    return "\n".join(lines)


def _totals(report):
    """'accuracy: 0.9000  macro_f1: ...  (N examples)' of a report's overall scores."""
    totals = {k: v for k, v in report.items() if k in ("accuracy", "precision", "recall", "micro_f1", "macro_f1",
                                                        "exact_match")}
    return "  ".join(f"{k}: {v:.4f}" for k, v in totals.items()) + f"  ({report['examples']} examples)"


def plot_confusion_matrix(matrix, names, path, title="Confusion matrix"):
    """Saves the confusion matrix as a PNG: counts in cells, rows normalized for colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix)
    share = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    size = max(4.0, 0.6 * len(names) + 2)
    figure, axes = plt.subplots(figsize=(size + 1, size))
    image = axes.imshow(share, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(names)), names, rotation=45, ha="right")
    axes.set_yticks(range(len(names)), names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    for row in range(len(names)):
        for column in range(len(names)):
            axes.text(column, row, str(matrix[row, column]), ha="center", va="center",
                      color="white" if share[row, column] > 0.5 else "black", fontsize=8)
    figure.colorbar(image, ax=axes, label="share of the true class")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def write_report(report, directory):
    """Writes report.json into `directory`, with report.txt for per-class reports and confusion_matrix.png
    for single-label ones; returns `directory`."""
    with storage.local_directory(directory) as local:
        with open(os.path.join(local, "report.json"), "w") as f:
            json.dump(report, f, indent=2, ensure_ascii=False)
        if "per_class" in report:
            with open(os.path.join(local, "report.txt"), "w") as f:
                f.write(format_report(report) + "\n")
        if "confusion_matrix" in report:
            plot_confusion_matrix(report["confusion_matrix"], report["labels"],
                                  os.path.join(local, "confusion_matrix.png"))
    return directory


def write_predictions(rows, directory):
    """Writes `rows` (dicts) as JSON lines to `directory`/predictions.jsonl; returns that path (None
    for no directory: a score computed during training writes nothing)."""
    if directory is None:
        return None
    with storage.local_directory(directory) as local:
        with open(os.path.join(local, "predictions.jsonl"), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return storage.join(directory, "predictions.jsonl")
