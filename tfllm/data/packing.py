"""Packing token sequences into fixed windows for causal-LM training, so no step computes padding.

Both functions return `(windows, weights)`, int32 and float32 arrays [n, window]: `weights[i, j]` is 1
where token `windows[i, j]` is a training target (the model predicts it from the tokens before it).
"""

import numpy as np


def pack_stream(documents, end_token_id, window):
    """Joins documents (lists of ids) with the end token and cuts the stream into windows.

    Consecutive windows overlap by one token, so every token after the first is a target exactly once;
    the last window is padded with weight 0.
    """
    stream = [end_token_id]
    for ids in documents:
        stream.extend(ids)
        stream.append(end_token_id)
    stream = np.asarray(stream, np.int32)
    step = window - 1
    count = max(1, -(-(len(stream) - 1) // step))
    padded = np.full(count * step + 1, end_token_id, np.int32)
    padded[: len(stream)] = stream
    weights = np.zeros(count * step + 1, np.float32)
    weights[1: len(stream)] = 1.0
    index = (np.arange(count) * step)[:, None] + np.arange(window)[None, :]
    return padded[index], weights[index]


def pack_examples(examples, end_token_id, window):
    """Places whole examples ((ids, weights) pairs, each at most `window` long) in windows, first fit in order.

    An example never straddles two windows, so each keeps its own context; the rest of a window is
    end tokens with weight 0.
    """
    windows, weights, used = [], [], []
    for ids, example_weights in examples:
        if len(ids) > window:
            raise ValueError(f"an example of {len(ids)} tokens does not fit a window of {window}")
        if not windows or used[-1] + len(ids) > window:
            windows.append(np.full(window, end_token_id, np.int32))
            weights.append(np.zeros(window, np.float32))
            used.append(0)
        windows[-1][used[-1]: used[-1] + len(ids)] = ids
        weights[-1][used[-1]: used[-1] + len(ids)] = example_weights
        used[-1] += len(ids)
    return np.stack(windows), np.stack(weights)
