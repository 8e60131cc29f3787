"""How a multi-turn chat becomes GPT-2 tokens, the same way in training and in the serving graph.

A dialogue alternates two speakers and always ends, at inference, with the user. Each user turn
becomes "User: <text>\\nBot:" and each reply " <text>" followed by the `<|endoftext|>` id, so the model
learns to end its replies, and decoding stops there:

    <|endoftext|>User: Hi!\\nBot: Hello.<|endoftext|>User: How are you?\\nBot: Fine, thanks.<|endoftext|>

Only reply tokens (with their end token) are trained on. The end token is appended as an id, never
parsed from text, so a user who types "<|endoftext|>" cannot end a turn. When a history does not fit the
context, whole turns are dropped from the oldest; a latest turn that alone is too long keeps its end.
"""

import tensorflow as tf

USER_PREFIX = "User: "
REPLY_PROMPT = "\nBot:"


def tokenize_turns(tokenizer, turns, is_reply, end_token_id):
    """Token ids (ragged [turns, None]) of turns (a flat string tensor) rendered by speaker."""
    text = tf.where(is_reply, tf.strings.join([" ", turns]), tf.strings.join([USER_PREFIX, turns, REPLY_PROMPT]))
    ids = tokenizer(text)
    end = tf.fill([tf.size(turns), 1], tf.cast(end_token_id, ids.dtype))
    return tf.concat([ids, tf.ragged.boolean_mask(end, is_reply[:, tf.newaxis])], axis=1)


def chat_prompt_ids(tokenizer, history, room, end_token_id):
    """Prompt ids (ragged [batch, None]) for the next reply to each chat history, at most `room` long.

    Args:
        history: string [batch, turns]: each row's turns, oldest first, right-padded with "". The last
            non-empty turn is the user's; an all-empty row is one empty user turn.
        room: the most tokens a prompt may have.
    """
    max_turns = tf.shape(history)[1]
    positions = tf.range(max_turns)[tf.newaxis, :]
    counts = tf.reduce_max(tf.where(tf.strings.length(history) > 0, positions + 1, 0), axis=1)
    counts = tf.maximum(counts, 1)
    present = positions < counts[:, tf.newaxis]
    # Speakers alternate backwards from the user's latest turn.
    is_reply = tf.logical_and(present, tf.math.floormod(counts[:, tf.newaxis] - 1 - positions, 2) == 1)
    ids = tokenize_turns(tokenizer, tf.boolean_mask(history, present), tf.boolean_mask(is_reply, present),
                         end_token_id)
    lengths = tf.scatter_nd(tf.where(present), tf.cast(ids.row_lengths(), tf.int32), tf.shape(history, tf.int64))
    # Keep the newest turns that fit (and always the latest, which the caller trims to its end).
    keep = tf.logical_and(present, tf.logical_or(tf.cumsum(lengths, axis=1, reverse=True) <= room,
                                                 positions == counts[:, tf.newaxis] - 1))
    kept = tf.ragged.boolean_mask(ids, tf.boolean_mask(keep, present))
    per_dialogue = tf.RaggedTensor.from_row_lengths(kept, tf.reduce_sum(tf.cast(keep, tf.int64), axis=1))
    return per_dialogue.merge_dims(1, 2)[:, -room:]


def chat_training_examples(tokenizer, dialogues, end_token_id, window):
    """(ids, weights) examples, each at most `window` tokens, that train every reply of `dialogues` once.

    Turns alternate user, reply, user, ... from the first. An example starts with the end token and
    holds whole turns; when the next turn does not fit, the example is closed, and the next one starts
    with as many of the latest turns as fit, now as untrained history. A single turn longer than the
    window is cut: a reply keeps its start, a user turn its end.
    """
    flags = [index % 2 == 1 for dialogue in dialogues for index in range(len(dialogue))]
    # Rendered as `tokenize_turns` renders them in the serving graph.
    texts = [f" {turn}" if reply else f"{USER_PREFIX}{turn}{REPLY_PROMPT}"
             for turn, reply in zip((turn for dialogue in dialogues for turn in dialogue), flags)]
    turn_ids = [ids + [end_token_id] if reply else ids for ids, reply in zip(tokenizer.token_ids(texts), flags)]
    examples, position, room = [], 0, window - 1

    def close(current):
        if any(trained for _, trained in current):
            tokens = [end_token_id] + [token for ids, _ in current for token in ids]
            weights = [0.0] + [float(trained) for ids, trained in current for _ in ids]
            examples.append((tokens, weights))
        return [(ids, False) for ids, _ in current]

    for dialogue in dialogues:
        current = []
        for ids, reply in zip(turn_ids[position: position + len(dialogue)], flags[position: position + len(dialogue)]):
            ids = ids[:room] if reply else ids[-room:]
            while current and sum(len(i) for i, _ in current) + len(ids) > room:
                current = close(current)
                current.pop(0)
            current.append((ids, reply))
        close(current)
        position += len(dialogue)
    return examples
