"""Entity-level precision, recall and F1 with strict matching: the same type and the same span."""

import collections

import numpy as np

from tfllm.evaluation.classification_report import _per_class, _precision_recall_f1


def entity_report(gold, predicted, types):
    """Scores predicted entities against gold ones, as conlleval and seqeval (strict) do.

    A predicted entity is correct only if an entity of the same type has exactly its start and end.

    Args:
        gold, predicted: lists with, per example, an iterable of (start, end, type).
        types: the entity types to report, in order.

    Returns:
        A dict with micro `precision`, `recall` and `f1` (named `micro_f1` too), `macro_f1` over the
        types, and `per_class` scores with each type's gold count as support.

    Example:
    >>> entity_report([[(0, 2, "PER")]], [[(0, 2, "PER"), (3, 5, "LOC")]], ["LOC", "PER"])["micro_f1"]
    0.6666666666666666
    """
    counts = {name: collections.Counter() for name in ("true", "gold", "predicted")}
    for gold_entities, predicted_entities in zip(gold, predicted):
        gold_set, predicted_set = set(map(tuple, gold_entities)), set(map(tuple, predicted_entities))
        counts["gold"].update(kind for _, _, kind in gold_set)
        counts["predicted"].update(kind for _, _, kind in predicted_set)
        counts["true"].update(kind for _, _, kind in gold_set & predicted_set)
    true, gold_count, predicted_count = (np.array([counts[name][kind] for kind in types], float)
                                         for name in ("true", "gold", "predicted"))
    precision, recall, f1 = _precision_recall_f1(true, predicted_count - true, gold_count - true)
    micro = _precision_recall_f1(true.sum(), predicted_count.sum() - true.sum(), gold_count.sum() - true.sum())
    return {"examples": len(gold),
            "precision": float(micro[0]), "recall": float(micro[1]), "micro_f1": float(micro[2]),
            "macro_f1": float(f1.mean()) if len(types) else 0.0,
            "per_class": _per_class(types, precision, recall, f1, gold_count), "labels": list(types)}
