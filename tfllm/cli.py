"""The `tfllm` command: train, evaluate, predict, export and convert, driven by YAML job configs."""

import argparse
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _train(args):
    from tfllm.jobs import text_classification

    text_classification.train(args.config)


def _evaluate(args):
    from tfllm.jobs import text_classification

    text_classification.evaluate(args.config, split=args.split, path=args.data)


def _predict(args):
    from tfllm.jobs import text_classification

    if args.input:
        rows = text_classification.predict_file(args.config, args.input)
    elif args.text:
        rows = text_classification.predict(args.config, args.text, args.text_pair or None)
    else:
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
        rows = text_classification.predict(args.config, texts)
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    if args.output:
        out.close()
        print(f"wrote {len(rows)} predictions to {args.output}")


def _export(args):
    from tfllm.jobs import text_classification

    text_classification.export(args.config, version=args.version)


def _convert(args):
    from tfllm.backbones import export_tf_hub_bert, load_backbone

    backbone = load_backbone(args.source, sequence_length=args.seq_length, preprocess=args.preprocess)
    tokenizer = backbone.preprocessor.tokenizer
    encoder_dir, preprocess_dir = os.path.join(args.output, "encoder"), os.path.join(args.output, "preprocess")
    export_tf_hub_bert(backbone.layer, tokenizer.vocabulary_file, getattr(tokenizer, "lowercase", True),
                       encoder_dir, preprocess_dir, seq_length=args.seq_length)
    print(f"TF-Hub encoder: {encoder_dir}\nTF-Hub preprocess model: {preprocess_dir}")


def _with_config(command):
    def run(args):
        from tfllm.config import load_config

        args.config = load_config(args.config)
        command(args)
    return run


def build_parser():
    parser = argparse.ArgumentParser(prog="tfllm", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="fine-tune a model as a job config says")
    train.add_argument("config")
    train.set_defaults(run=_with_config(_train))

    evaluate = commands.add_parser("evaluate", help="score the trained model; writes a report and plots")
    evaluate.add_argument("config")
    evaluate.add_argument("--split", default="validation", choices=["train", "validation", "test"])
    evaluate.add_argument("--data", help="another labeled file to score instead of the split")
    evaluate.set_defaults(run=_with_config(_evaluate))

    predict = commands.add_parser("predict", help="label texts (from --text, --input or standard input)")
    predict.add_argument("config")
    predict.add_argument("--text", action="append", help="a text to label (repeatable)")
    predict.add_argument("--text-pair", action="append", help="the second text, for pair models (repeatable)")
    predict.add_argument("--input", help="a data file whose texts to label")
    predict.add_argument("--output", help="write JSON lines here instead of standard output")
    predict.set_defaults(run=_with_config(_predict))

    export = commands.add_parser("export", help="write a verified SavedModel for TF Serving")
    export.add_argument("config")
    export.add_argument("--version", type=int, help="version number (default: the next free one)")
    export.set_defaults(run=_with_config(_export))

    convert = commands.add_parser("convert", help="write a BERT backbone as TF-Hub encoder + preprocess SavedModels")
    convert.add_argument("source", help="any backbone source (see tfllm.backbones.load_backbone)")
    convert.add_argument("--output", required=True, help="directory for encoder/ and preprocess/")
    convert.add_argument("--preprocess", help="matching preprocess model, for TF-Hub sources")
    convert.add_argument("--seq-length", type=int, default=128, help="the preprocess model's default length")
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


if __name__ == "__main__":
    sys.exit(main())
