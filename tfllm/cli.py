"""The `tfllm` command: train, pretrain, evaluate, predict, embed, generate, chat, export, convert and tasks, driven by
YAML job configs."""

import argparse
import dataclasses
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _train(args):
    from tfllm import runner
    from tfllm.terminal import progress_verbosity

    runner.train(args.config, verbose=progress_verbosity())


def _evaluate(args):
    from tfllm import runner

    runner.evaluate(args.config, split=args.split, path=args.data, quantize=args.quantize)


def _predict(args):
    from tfllm.tasks.registry import BERT_TASKS, task_spec

    if not task_spec(args.config.task).predicts:
        raise ValueError(f"{args.config.path}: predict is for the tasks {', '.join(BERT_TASKS)}; a {args.config.task} "
                         "model answers tfllm generate or tfllm chat")
    from tfllm import runner

    if args.input and (args.text or args.text_pair):
        raise ValueError("--input names a file of texts to label: give it or --text, not both")
    if args.input:
        rows = runner.predict_file(args.config, args.input, progress=bool(args.output))
    else:  # one answer per line of standard input, blank ones too, so that answers line up with lines
        texts = args.text or [line.rstrip("\r\n") for line in sys.stdin]
        rows = runner.predict(args.config, (texts, args.text_pair) if args.text_pair else texts)
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    if args.output:
        out.close()
        print(f"wrote {len(rows)} predictions to {args.output}")


def _export(args):
    from tfllm import runner

    runner.export(args.config, version=args.version, quantize=args.quantize)


def _embed(args):
    from tfllm import runner
    from tfllm.tasks.text_embedding import embed_corpus

    if args.config.task != "text_embedding":
        raise ValueError(f"{args.config.path}: embed needs a model trained with task: text_embedding")
    manifest = embed_corpus(args.config, runner.task_of(args.config).load(args.config), args.input, args.output,
                            args.text_column, args.id_column, args.format, args.shard_size)
    print(f"wrote {manifest['count']} vectors of {manifest['dimension']} dimensions in {len(manifest['shards'])} "
          f"shard(s) to {args.output} (manifest.json lists them)")


def _generation_overrides(args):
    names = ("max_new_tokens", "temperature", "top_k", "top_p", "seed", "num_beams", "stop")
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def _loaded_lm(config):
    from tfllm import runner
    from tfllm.tasks.registry import task_spec

    if not task_spec(config.task).generates:
        raise ValueError(f"{config.path}: task {config.task} does not generate text")
    return runner.task_of(config).load(config)


def _generate(args):
    from tfllm.tasks.causal_lm import sampler

    lm = _loaded_lm(args.config)
    prompts = args.prompt or [line.rstrip("\r\n") for line in sys.stdin]
    config = dataclasses.replace(args.config, task="causal_lm")  # plain completion, also for chat models
    texts = sampler(config, lm, **_generation_overrides(args))(prompts)
    for prompt, text in zip(prompts, texts):
        print(json.dumps({"prompt": prompt, "text": text}, ensure_ascii=False) if args.json else prompt + text)


def _chat(args):
    from tfllm.tasks.causal_lm import sampler
    from tfllm.tasks.chat import run_chat

    if args.config.task != "chat":
        raise ValueError(f"{args.config.path}: chat needs a model trained with task: chat")
    run_chat(sampler(args.config, _loaded_lm(args.config), **_generation_overrides(args)), sys.stdin, sys.stdout)


def _convert(args):
    from tfllm.backbones import export_tf_hub_bert, load_bert

    bert = load_bert(args.source, sequence_length=args.seq_length, preprocess=args.preprocess)
    tokenizer = bert.preprocessor.tokenizer
    encoder_dir, preprocess_dir = os.path.join(args.output, "encoder"), os.path.join(args.output, "preprocess")
    export_tf_hub_bert(bert.backbone, tokenizer.vocabulary_file, getattr(tokenizer, "lowercase", True),
                       encoder_dir, preprocess_dir, seq_length=args.seq_length)
    print(f"TF-Hub encoder: {encoder_dir}\nTF-Hub preprocess model: {preprocess_dir}")


def _tasks(args):
    from tfllm.configs.job import task_keys
    from tfllm.tasks.registry import TASKS, task_spec

    for name in args.task or TASKS:
        spec = task_spec(name)
        print(f"{name} (tfllm {spec.command}): {spec.summary}")
        if args.task:
            for section, key, default, doc in task_keys(name):
                print(f"  {section}.{key} = {json.dumps(default, ensure_ascii=False)}\n      {doc}")
    if not args.task:
        print("\ntfllm tasks NAME lists a task's config keys with their defaults.")


def _with_config(command, trained=True, trains=None):
    """Runs `command` with `args.config` read and checked; `trained`: the command uses a trained run, whose
    recorded config gives the model's settings (see tfllm.configs.job); `trains`: "train" or "pretrain", the
    kind of task the command trains."""
    def run(args):
        from tfllm.configs.job import load_config

        args.config = load_config(args.config, args.set or (), trained=trained, command=trains)
        command(args)
    return run


def _config_argument(parser):
    _verbose_argument(parser)
    parser.add_argument("config", help="a job config (YAML)")
    parser.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                        help="override a config key, checked like the file's (repeatable), e.g. training.epochs=1")


def _verbose_argument(parser):
    parser.add_argument("--verbose", action="store_true",
                        help="also show TensorFlow's native start-up logs (CUDA probes, CPU features)")


def _positive_int(text):
    """argparse's type for counts and version numbers: a whole number, 1 or more."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number, 1 or more, not {text!r}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(prog="tfllm", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="fine-tune a model as a job config says")
    _config_argument(train)
    train.set_defaults(run=_with_config(_train, trained=False, trains="train"))

    pretrain = commands.add_parser("pretrain", help="pretrain a backbone: masked-LM BERT or causal-LM GPT-2")
    _config_argument(pretrain)
    pretrain.set_defaults(run=_with_config(_train, trained=False, trains="pretrain"))

    evaluate = commands.add_parser("evaluate", help="score the trained model; writes a report and plots")
    _config_argument(evaluate)
    evaluate.add_argument("--split", default="validation", choices=["train", "validation", "test"])
    evaluate.add_argument("--data", help="another labeled file to score instead of the split (report: "
                          "evaluation/data_<its name>)")
    evaluate.add_argument("--quantize", choices=["int8"],
                          help="score the model with int8 backbone weights (BERT and GPT-2 tasks)")
    evaluate.set_defaults(run=_with_config(_evaluate))

    predict = commands.add_parser("predict",
                                  help="label texts, find entities or answer questions (--text, --input or stdin)")
    _config_argument(predict)
    predict.add_argument("--text", action="append", help="a text to label, or a question (repeatable)")
    predict.add_argument("--text-pair", action="append",
                         help="the second text for pair models, or the context of a question (repeatable)")
    predict.add_argument("--input", help="a data file whose texts to label")
    predict.add_argument("--output", help="write JSON lines here instead of standard output")
    predict.set_defaults(run=_with_config(_predict))

    export = commands.add_parser("export", help="write a verified SavedModel for TF Serving")
    _config_argument(export)
    export.add_argument("--version", type=_positive_int, help="version number (default: the next free one)")
    export.add_argument("--quantize", choices=["int8"],
                        help="export int8 backbone weights (BERT and GPT-2 tasks; default: export.quantize)")
    export.set_defaults(run=_with_config(_export))

    embed = commands.add_parser("embed", help="embed a corpus with a text_embedding model, into .npy shards")
    _config_argument(embed)
    embed.add_argument("--input", required=True, help="the passages: a .txt file (one per line) or CSV/TSV/JSON(L)")
    embed.add_argument("--output", required=True, help="a new directory for the shards and manifest.json")
    embed.add_argument("--text-column", default="text", help="the text field of CSV/TSV/JSON(L) rows")
    embed.add_argument("--id-column", help="the id field (default: line numbers)")
    embed.add_argument("--format", choices=["text", "csv", "tsv", "jsonl", "json", "squad"],
                       help="default: from the extension (squad: the paragraphs of a SQuAD file)")
    embed.add_argument("--shard-size", type=_positive_int, default=100_000, help="passages per shard")
    embed.set_defaults(run=_with_config(_embed))

    generation = argparse.ArgumentParser(add_help=False)
    generation.add_argument("--max-new-tokens", type=int, help="tokens to generate (default: the config's)")
    generation.add_argument("--temperature", type=float, help="0: greedy; higher: more varied")
    generation.add_argument("--top-k", type=int, help="sample from the k most likely tokens (0: all)")
    generation.add_argument("--top-p", type=float, help="sample from the most likely tokens holding this probability")
    generation.add_argument("--seed", type=int, help="the same seed gives the same sample")
    generation.add_argument("--stop", action="append", help="end the text where this string appears (repeatable)")

    generate = commands.add_parser("generate", parents=[generation],
                                   help="continue prompts with a trained GPT-2 (conditional models: targets of sources)")
    _config_argument(generate)
    generate.add_argument("--prompt", action="append", help="a prompt (repeatable; default: one per stdin line)")
    generate.add_argument("--num-beams", type=int, help="beam search with this many beams")
    generate.add_argument("--json", action="store_true", help="print JSON lines with prompt and text")
    generate.set_defaults(run=_with_config(_generate))

    chat = commands.add_parser("chat", parents=[generation], help="talk with a chat model in the terminal")
    _config_argument(chat)
    chat.set_defaults(run=_with_config(_chat))

    tasks = commands.add_parser("tasks", help="list the tasks, or one task's config keys and defaults")
    tasks.add_argument("task", nargs="*", help="tasks whose keys to list")
    tasks.set_defaults(run=_tasks)

    convert = commands.add_parser("convert", help="write a BERT backbone as TF-Hub encoder + preprocess SavedModels")
    _verbose_argument(convert)
    convert.add_argument("source", help="any backbone source (see tfllm.backbones.load_bert)")
    convert.add_argument("--output", required=True, help="directory for encoder/ and preprocess/")
    convert.add_argument("--preprocess", help="matching preprocess model, for TF-Hub sources")
    convert.add_argument("--seq-length", type=_positive_int, default=128, help="the preprocess model's default length")
    convert.set_defaults(run=_convert)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (ValueError, FileNotFoundError, ImportError, OSError) as error:
        # Input and setup problems: one clear message, no traceback.
        print(f"tfllm {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


def console(argv=None):
    """The `tfllm` executable: `main` with TensorFlow's native start-up logs filtered out of stderr,
    unless `--verbose` is given or TF_CPP_MIN_LOG_LEVEL is set (see `tfllm.terminal`)."""
    argv = sys.argv[1:] if argv is None else argv
    if "--verbose" not in argv:
        from tfllm.terminal import quiet_native_logs

        quiet_native_logs()
    return main(argv)


if __name__ == "__main__":
    sys.exit(console())
