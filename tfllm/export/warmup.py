"""TF Serving warmup records (assets.extra/tf_serving_warmup_requests)."""

import os

import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

WARMUP_FILE = "tf_serving_warmup_requests"


def write_warmup_requests(saved_model_dir, model_name, requests):
    """Writes a PredictRequest per signature so TF Serving runs each graph before traffic.

    Args:
        requests: {signature name: {input name: array}}.

    TF Serving replays the file at load time, so the first real request does not pay for graph
    initialization (lookup tables, kernels).
    """
    directory = os.path.join(saved_model_dir, "assets.extra")
    tf.io.gfile.makedirs(directory)
    path = os.path.join(directory, WARMUP_FILE)
    with tf.io.TFRecordWriter(path) as writer:
        for signature_name, inputs in requests.items():
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature_name))
            for key, value in inputs.items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path
