"""Every seq2seq config field, defined once, with why it exists.

Variants (`addition.py`, `subtract.py`, `mixed.py`) import this and change a
few fields. Any field can be overridden on the command line:

  python -m seq2seq.main --config=configs/seq2seq/subtract.py --workdir=runs/sub \
      --config.num_digits=4 --config.model.name=keras_lstm

An unknown field (a typo) is refused by ml_collections before anything runs.
"""
import ml_collections

from configs import base as cnnlab_base


def get_config():
  config = ml_collections.ConfigDict()

  # ---- problems -------------------------------------------------------------
  # '+', '-', or a mix such as '+-' (each problem picks one uniformly).
  config.operation = '+'
  # Operands have 1..num_digits digits (Keras: a length, then uniform digits).
  config.num_digits = 3
  # Feed the question reversed, padding first (Keras addition_rnn): the last
  # digits read are the first the answer needs, which shortens dependencies.
  config.reverse_input = True
  # Emit the answer least-significant digit first, the order carries (and
  # borrows) flow in: with encoder_decoder this learns several times faster
  # (3-digit addition: 97% held-out exact match after 8 epochs, against 20%
  # as written). False = as written (Keras). Samples are always shown as written.
  config.reverse_target = True
  # Distinct problems drawn for training; val_size of them are carved out
  # to validate on (every decision: best checkpoint, target_accuracy), as
  # Keras' addition_rnn splits its 50,000 questions 45,000 / 5,000.
  config.train_size = 50_000
  config.val_size = 5_000
  # Further distinct problems (disjoint from train and val), only reported.
  config.test_size = 5_000
  # Seed of the problem set; -1 = use `seed`. Fix it to compare model seeds on
  # the same problems.
  config.data_seed = -1

  # ---- model ----------------------------------------------------------------
  config.model = ml_collections.ConfigDict()
  # A name from seq2seq.models.MODELS: encoder_decoder (teacher-forced, learns
  # fastest) | keras_lstm (the Keras addition_rnn model, see keras.py).
  config.model.name = 'encoder_decoder'
  # LSTM units of encoder and decoder (Keras example: 128).
  config.model.hidden_size = 128
  # Unroll the short time loops so XLA fuses across steps (faster on CPU).
  config.model.unroll = True
  # The LSTM gates' activation: sigmoid (Keras 3, TF 2) | hard_sigmoid (Keras 2's
  # clip(0.2 x + 0.5, 0, 1), tf.keras 1.x's default: seed 004 ran on it).
  config.model.recurrent_activation = 'sigmoid'

  # ---- optimizer and learning-rate schedule ---------------------------------
  # cnnlab's own sections (configs/base.py): the same fields mean the same
  # thing in both labs, and every cnnlab optimizer and schedule works here.
  config.optimizer = cnnlab_base.optimizer_config()
  config.optimizer.name = 'adam'
  # Keras' adam default is 1e-3 at batch 32; batch 128 takes a larger rate.
  config.optimizer.lr = 2e-3
  # LSTMs occasionally spike: clip the global gradient norm (0 = off).
  config.optimizer.grad_clip_norm = 1.0
  config.schedule = cnnlab_base.schedule_config()

  # ---- loop -----------------------------------------------------------------
  config.batch_size = 128
  # Evaluation batch (padded and masked, so any size gives exact metrics).
  config.eval_batch_size = 1000
  config.num_epochs = 30
  # Total optimizer steps; -1 = num_epochs * (train_size // batch_size).
  config.num_train_steps = -1
  # Evaluate on the whole val and test sets (and checkpoint, and append a line
  # to metrics.jsonl) every this many steps; 0 = once per epoch.
  config.eval_every_steps = 0
  # Stop as soon as val exact match reaches this (benchmarks); 0 = off.
  config.target_accuracy = 0.0
  # Decoded val questions printed at each evaluation.
  config.num_samples = 5
  # How many periodic checkpoints to keep (the best one is kept separately).
  config.max_checkpoints_to_keep = 2
  # Update the progress bar / check the loss for NaN every this many steps.
  config.log_every_steps = 50
  # Everything random (init, data order, problems unless data_seed) derives from it.
  config.seed = 0
  return config
