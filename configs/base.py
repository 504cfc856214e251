"""Every cnnlab config field, defined once, with why it exists.

Variants (`configs/vgg.py`, `configs/cnn.py`, ...) import this and change a few
fields. Any field can be overridden on the command line:

  python -m cnnlab.main --config=configs/vgg.py --workdir=runs/vgg \
      --config.optimizer.name=adam --config.num_epochs=30

An unknown field (a typo) is refused by ml_collections before anything runs.
"""
import ml_collections


def get_config():
  config = ml_collections.ConfigDict()

  # ---- data ---------------------------------------------------------------
  config.data = ml_collections.ConfigDict()
  # cifar10 | fashion_mnist | mnist (tfds) | image_folder | arrays (.npz/.npy).
  config.data.name = 'image_folder'
  # image_folder: root with one sub-folder per class. arrays: the .npz/.npy
  # file. tfds: optional tfds data_dir (empty = tfds' default ~/tensorflow_datasets).
  # Default: the shared CIFAR-10 training folder beside the checkout.
  config.data.dir = '../shared/datasets/cifar10/train'
  # Fraction of the training data held out (stratified, seeded) for
  # validation: model selection and early stopping never see a test split.
  config.data.val_fraction = 0.1
  # Side length images are resized to when an image folder holds several
  # sizes; 0 = keep the native size and refuse mixed sizes.
  config.data.image_size = 0
  # Channels of the model input; 0 = infer (1 if every image is grayscale,
  # else 3). Grayscale / RGBA images are converted to it.
  config.data.channels = 0
  # Use at most this many training images (stratified subsample, seeded);
  # -1 = all. For quick experiments and smoke runs.
  config.data.max_examples = -1
  # A corrupt image file is an error naming the file; True skips and counts them.
  config.data.skip_corrupt = False
  # Where decoded image folders are cached as uint8 arrays (keyed by folder
  # content); empty = $CNNLAB_CACHE or ~/.cache/cnnlab.
  config.data.cache_dir = ''
  # Keep the whole (small) training set on the accelerator and gather batches
  # there by index (airbench style) instead of copying each batch from the
  # host. Only used with one process; multi-host always feeds from the host.
  config.data.on_device = True

  # ---- model --------------------------------------------------------------
  config.model = ml_collections.ConfigDict()
  # A name from cnnlab.models.MODELS (python -m cnnlab.summary lists them).
  config.model.name = 'vgg'

  # ---- input transforms ---------------------------------------------------
  # Training-time augmentation pipeline in the cnnlab.augment mini-language,
  # e.g. 'flip_lr|translate(0.1)'. Empty = none (images scaled to [0, 1]).
  config.augment = ''

  # ---- optimizer ----------------------------------------------------------
  config.optimizer = ml_collections.ConfigDict()
  # A name from cnnlab.optimizers.OPTIMIZERS.
  config.optimizer.name = 'sgd'
  # Peak / base learning rate; schedules scale it.
  config.optimizer.lr = 0.01
  config.optimizer.momentum = 0.9  # sgd, rmsprop
  config.optimizer.nesterov = False  # sgd
  # Coupled L2 added to the loss (Keras kernel_regularizer); spares biases and BatchNorm.
  config.optimizer.l2 = 0.0
  # Decoupled weight decay (AdamW style); spares biases and BatchNorm.
  config.optimizer.weight_decay = 0.0
  # Clip the global gradient norm to this; 0 = off.
  config.optimizer.grad_clip_norm = 0.0

  # ---- learning-rate schedule ----------------------------------------------
  config.schedule = ml_collections.ConfigDict()
  # A name from cnnlab.schedules.SCHEDULES.
  config.schedule.name = 'constant'
  # Linear warm-up from 0 before the schedule proper (where the schedule uses it).
  config.schedule.warmup_epochs = 0.0

  # ---- fine-tuning --------------------------------------------------------
  # Initialise from another run's workdir or checkpoint dir (params and batch
  # stats matched by name; layers whose shape differs are re-initialised).
  config.init_from = ''
  # Regex over parameter paths ('Conv_0/kernel'); matching params stay frozen.
  config.freeze = ''

  # ---- loss ---------------------------------------------------------------
  config.label_smoothing = 0.0

  # ---- loop ---------------------------------------------------------------
  # Global batch size, split over all devices of all processes.
  config.batch_size = 128
  # Batch size for evaluation (padded and masked, so any size is exact).
  config.eval_batch_size = 500
  config.num_epochs = 10
  # Total optimizer steps; -1 = num_epochs * (train images // batch_size).
  config.num_train_steps = -1
  # Validate every this many epochs (and always at the end).
  config.eval_every_epochs = 1
  # Save a checkpoint every this many steps; 0 = at the end of every epoch.
  config.checkpoint_every_steps = 0
  # How many periodic checkpoints to keep (the best one is kept separately).
  config.max_checkpoints_to_keep = 2
  # Stop when val accuracy has not improved for this many evaluations; 0 = off.
  config.early_stopping_patience = 0
  # Update the progress bar / check the loss for NaN every this many steps.
  config.log_every_steps = 20
  # Everything random (init, dropout, data order, split, augmentation) derives from it.
  config.seed = 0
  return config
