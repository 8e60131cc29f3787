"""The base of the BERT models: a backbone and preprocessor under a head, saved in the one format."""

from tfllm.backbones.sources import Bert
from tfllm.models.task_files import TaskFiles


class BertTaskModel(TaskFiles):
    """A mixin (before `keras.Model` in the bases) for models built as `Model(backbone, **head_config)`.

    The model keeps the backbone layer as `backbone` and its `BertPreprocessor` as `preprocessor`, and
    defines `head_config()`, the keyword arguments that rebuild its head. `get_config()` is
    {"backbone": `Bert.get_config()`, **head_config()}, and `from_config` builds the model again
    (fresh weights for native backbones; `load` then reads the trained ones).
    """

    distillation = None  # a `tfllm.training.distillation.Distillation` while a teacher trains this model

    def compile(self, *args, distillation=None, **kwargs):
        """Keras `compile`; `distillation` (a `Distillation`) makes this model a student of its teacher."""
        self.distillation = distillation
        super().compile(*args, **kwargs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = super().compute_loss(x, y, y_pred, sample_weight, training)
        if not (training and self.distillation):
            return loss
        # Per-token outputs count where their tags do; a classifier's rows all count, those without a label too.
        weights = sample_weight if len(y_pred.shape) == 3 else None
        return self.distillation.loss(x, loss, y_pred, weights, getattr(self, "multi_label", False))

    def head_config(self):
        raise NotImplementedError

    def get_config(self):
        return {"backbone": Bert(self.backbone, self.preprocessor).get_config(), **self.head_config()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(Bert.from_config(config.pop("backbone")), **config)
