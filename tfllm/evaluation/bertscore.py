"""BERTScore-style similarity of generated texts to references: each token's contextual vector matched to
its most similar token on the other side (Zhang et al., 2020, greedy matching).

Precision averages the best cosine of each predicted token against the reference's tokens, recall the
best of each reference token against the prediction's, F1 their harmonic mean; the figures are means
over the examples. Unlike the paper's defaults there is no idf weighting and no baseline rescaling,
and the vectors are the last layer of a BERT backbone (the embedded all-MiniLM-L6-v2 unless another
is given), so values sit high (unrelated English sentences score about 0.2-0.4 in F1, paraphrases
0.8 and more) and compare runs rather than papers. It reads what the backbone's vocabulary covers:
an English vocabulary says little about Chinese.
"""

import numpy as np
import tensorflow as tf

from tfllm.text.vocabulary import special_token_ids


def bertscore(predictions, references, bert, batch_size=32):
    """{"bertscore_precision", "bertscore_recall", "bertscore_f1"} of `predictions` against `references`.

    Args:
        predictions, references: lists of strings of one length.
        bert: a `Bert` (`tfllm.backbones.load_bert`) whose backbone's last layer gives the token vectors.
        batch_size: texts per forward pass.
    """
    predicted, expected = _token_vectors(bert, predictions, batch_size), _token_vectors(bert, references,
                                                                                           batch_size)
    precision, recall, f1 = [], [], []
    for p, r in zip(predicted, expected):
        if not len(p) or not len(r):
            p_score = r_score = float(len(p) == len(r))  # two empty texts match; one empty matches nothing
        else:
            similarity = p @ r.T
            p_score, r_score = float(similarity.max(axis=1).mean()), float(similarity.max(axis=0).mean())
        precision.append(p_score)
        recall.append(r_score)
        f1.append(2 * p_score * r_score / (p_score + r_score) if p_score + r_score > 0 else 0.0)
    return {"bertscore_precision": float(np.mean(precision)), "bertscore_recall": float(np.mean(recall)),
            "bertscore_f1": float(np.mean(f1))}


def _token_vectors(bert, texts, batch_size):
    """Unit-length vectors of each text's tokens ([CLS], [SEP] and padding left out), one array per text."""
    special = special_token_ids(bert.preprocessor.tokenizer.vocabulary_file)
    skipped = [special["[CLS]"], special["[SEP]"], special["[PAD]"]]
    vectors = []
    for start in range(0, len(texts), batch_size):
        features = bert.preprocessor(tf.constant(texts[start:start + batch_size]))
        sequence = bert.backbone(features, training=False)["sequence_output"]
        sequence = tf.math.l2_normalize(tf.cast(sequence, tf.float32), axis=-1).numpy()
        keep = ~np.isin(features["token_ids"].numpy(), skipped)
        vectors.extend(sequence[i][keep[i]] for i in range(len(sequence)))
    return vectors
