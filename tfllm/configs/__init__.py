"""Job configs, free of TensorFlow so that a config is checked (and a typo answered) before it loads.

- `sections`: the sections every task shares (`backbone`, `data`, `training`, `export`, `generation`)
  and their BERT, GPT-2 and masked-LM variants;
- one module per task (`text_classification`, ...): its `data` and `model` sections and its `TaskSpec`;
- `job`: `load_config`, which reads a YAML file into those sections and checks every key.
"""
