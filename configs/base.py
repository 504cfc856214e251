"""Every cnnlab config field, defined once, with why it exists.

Variants (`configs/vgg.py`, `configs/cnn.py`, ...) import this and change a few
fields. Any field can be overridden on the command line:

  python -m cnnlab.main --config=configs/vgg.py --workdir=runs/vgg \
      --config.optimizer.name=adam --config.num_epochs=30

An unknown field (a typo) is refused by ml_collections before anything runs.
"""
import ml_collections


def optimizer_config():
  """config.optimizer: every optimizer field, as cnnlab.optimizers reads them (both labs)."""
  # ---- optimizer ----------------------------------------------------------
  optimizer = ml_collections.ConfigDict()
  # A name from cnnlab.optimizers.OPTIMIZERS.
  optimizer.name = 'sgd'
  # Peak / base learning rate; schedules scale it.
  optimizer.lr = 0.01
  # sgd: heavy-ball momentum, smoothing the steps (0 = plain SGD, Keras' default).
  optimizer.momentum = 0.9
  # sgd: Nesterov's look-ahead momentum (ResNet recipes use it; Keras nesterov=True).
  optimizer.nesterov = False
  # sgd: where the lr enters. 'optax': v = m*v + g, step -lr*v (a schedule rescales
  # the whole velocity); 'keras': v = m*v - lr*g, step v (Keras 2 and 3: a changed
  # lr weighs only new gradients). Equal at a constant lr; the seeds' time decay
  # and SGDR runs need 'keras' to match.
  optimizer.momentum_style = 'optax'
  # adam, adamw, adamax moment decays (optax and Keras agree on both defaults):
  # b1 averages the gradient (momentum), ~1 / (1 - b1) = 10 steps.
  optimizer.b1 = 0.9
  # b2 averages the squared gradient that scales each step, ~1000 steps:
  # lower it (0.98, 0.99) when the loss spikes late in training.
  optimizer.b2 = 0.999
  # Epsilon; None = optax's default for the optimizer (1e-8 for adam/adamax/
  # rmsprop, 1e-7 adagrad, 1e-6 adadelta). Keras uses 1e-7 everywhere.
  optimizer.eps = ml_collections.config_dict.placeholder(float)
  # rmsprop's / adadelta's squared-gradient decay; None = optax's 0.9 (Keras:
  # rmsprop 0.9, adadelta 0.95).
  optimizer.rho = ml_collections.config_dict.placeholder(float)
  # rmsprop: optax divides by sqrt(v + eps) (True); Keras by sqrt(v) + eps
  # (False). With eps=1e-8 inside the root the floor is 1e-4, not 1e-8.
  # adagrad: True = optax and Keras 3 (sqrt(acc + eps)); False = Keras 2 and
  # tf.keras 2.x (sqrt(acc) + eps), which seed 000's Adagrad ran.
  optimizer.eps_in_sqrt = True
  # adagrad: the accumulator's start; None = 0.1 (optax and Keras 3 / tf.keras
  # 2.x; Keras <= 2.3 started at 0: set 0 with eps_in_sqrt=False).
  optimizer.initial_accumulator_value = ml_collections.config_dict.placeholder(float)
  # rmsprop: divide by the gradient's variance rather than its second moment
  # (Keras centered=True); steadier, a little more memory.
  optimizer.centered = False
  # rmsprop's own momentum on the scaled step (Keras' momentum argument); 0 = none.
  optimizer.rmsprop_momentum = 0.0
  # Coupled L2 added to the loss (Keras kernel_regularizer l2(x): loss +=
  # x * sum(w**2)); kernels only, biases and BatchNorm spared. The logged loss
  # excludes it (Keras' includes it).
  optimizer.l2 = 0.0
  # Decoupled weight decay, w -= lr * weight_decay * w each step (AdamW /
  # SGDW); kernels only. adamw uses it as its own weight_decay (optax's
  # default would be 1e-4, Keras' 0.004; 0 makes adamw plain adam).
  optimizer.weight_decay = 0.0
  # Keras max_norm(c) kernel constraint: after each update the kernel's weight
  # vectors are rescaled to norm <= c (seed 002 used 3 on chosen layers); 0 = off.
  optimizer.max_norm = 0.0
  # Which norms: 'keras' = Keras' default axis=0 (Dense: each unit's inputs;
  # Conv: each column of kernel rows), 'filter' = each conv filter as a whole.
  optimizer.max_norm_axes = 'keras'
  # Regex over kernel paths ('Conv_0/kernel|Dense_0/kernel') that max_norm
  # constrains, as Keras puts kernel_constraint on chosen layers; '' = all.
  optimizer.max_norm_layers = ''
  # airbench_sgd: the lr multiplier of BatchNorm biases (airbench: 64; their
  # weight decay is not multiplied).
  optimizer.norm_bias_lr_scale = 64.0
  # airbench_muon (Muon on the conv filters at lr, SGD on the rest): the
  # biases' lr (BatchNorm and whitening; airbench: 0.053) ...
  optimizer.bias_lr = 0.053
  # ... the linear head's lr (airbench: 0.67) ...
  optimizer.head_lr = 0.67
  # ... and their Nesterov momentum (optimizer.momentum is Muon's own, 0.6).
  optimizer.sgd_momentum = 0.85
  # Clip the global gradient norm to this; 0 = off.
  optimizer.grad_clip_norm = 0.0
  return optimizer


def schedule_config():
  """config.schedule: every learning-rate schedule field, as cnnlab.schedules reads them (both labs)."""
  # ---- learning-rate schedule ----------------------------------------------
  schedule = ml_collections.ConfigDict()
  # A name from cnnlab.schedules.SCHEDULES.
  schedule.name = 'constant'
  # Linear warm-up from 0 prepended to any schedule (required by warmup_cosine).
  schedule.warmup_epochs = 0.0
  # Floor of the schedule: cosine's end value, SGDR's eta_min, CLR's base_lr
  # (optimizer.lr is the top: the peak, eta_max, max_lr).
  schedule.min_lr = 0.0
  # piecewise: epochs at which lr is multiplied by decay_rate, e.g. '30,60,90'.
  schedule.boundaries_epochs = ''
  # piecewise / step / exponential: the factor lr is multiplied by (0.1 = the
  # classic ten-fold drop) ...
  schedule.decay_rate = 0.1
  # ... and (step, exponential) the epochs over which it applies once (step: a
  # drop every decay_epochs).
  schedule.decay_epochs = 10.0
  # time_based: Keras' legacy SGD(decay=...): lr / (1 + time_decay * step);
  # seed 002 used lr / num_epochs, seed 000 1e-6.
  schedule.time_decay = 0.0
  # one_cycle (PyTorch / fastai defaults): the fraction of the run spent rising to lr,
  schedule.pct_start = 0.3
  # the start lr = lr / div_factor (a low start, as warm-up),
  schedule.div_factor = 25.0
  # and the final lr = start / final_div_factor (annealed far below the start).
  schedule.final_div_factor = 1e4
  # triangle (airbench): the lr multiplier at step 0 (rising linearly to 1 at
  # pct_start of the run) ...
  schedule.start_scale = 0.2
  # ... and at the last step (falling linearly from 1).
  schedule.end_scale = 0.07
  # triangular / triangular2 / exp_range (Smith's CLR): half a cycle in epochs
  # (Smith and bckenstler: 2-8 epochs) ...
  schedule.step_size_epochs = 4.0
  # ... or, when > 0, in steps (to match a Keras CLR callback's step_size exactly).
  schedule.step_size_steps = 0
  # exp_range: the cycle's amplitude shrinks by gamma every step (bckenstler's value).
  schedule.gamma = 0.99994
  # sgdr (Loshchilov & Hutter): the first cycle in epochs (the paper's T_0 = 10) ...
  schedule.t0_epochs = 10.0
  # ... and each next cycle's length factor (T_mult = 2: cycles of 10, 20, 40 epochs).
  schedule.t_mult = 2.0
  # reduce_on_plateau (Keras ReduceLROnPlateau defaults): multiply lr by factor
  # after `patience` validations without a min_delta improvement of monitor,
  # then wait `cooldown` validations; never below plateau_min_lr.
  # The metric watched: 'val_loss' (Keras' default) or 'val_accuracy'.
  schedule.plateau_monitor = 'val_loss'
  schedule.plateau_factor = 0.1  # the drop: lr *= factor
  schedule.plateau_patience = 10  # validations to wait before a drop
  schedule.plateau_min_delta = 1e-4  # smaller changes are not improvements
  schedule.plateau_cooldown = 0  # validations ignored right after a drop
  schedule.plateau_min_lr = 0.0  # the floor no drop goes below
  return schedule


def get_config():
  config = ml_collections.ConfigDict()

  # ---- data ---------------------------------------------------------------
  config.data = ml_collections.ConfigDict()
  # image_folder | arrays (.npz/.npy) | fashion_mnist | mnist | kmnist | cifar10 |
  # cifar100 | idx: the last six read the official files (idx, CIFAR pickles,
  # Keras' mnist.npz; cnnlab/official_datasets.py), else ask tfds.
  config.data.name = 'image_folder'
  # image_folder: root with one sub-folder per class. arrays: the .npz/.npy
  # file. fashion_mnist ... idx: the folder or file of the official files
  # (empty = where Keras and Debian's dataset-* packages put them), or a tfds
  # data_dir. Default: the shared CIFAR-10 training folder beside the checkout.
  config.data.dir = '../shared/datasets/cifar10/train'
  # cifar100: 'fine' (100 classes) or 'coarse' (its 20 superclasses) labels.
  config.data.cifar100_labels = 'fine'
  # fashion_mnist ... cifar100 when no files are found: True lets tfds download
  # and prepare the dataset (needs internet); False (nothing downloads unless
  # asked) uses tfds only where it has prepared it already.
  config.data.download = False
  # Fraction of the training data held out (stratified, seeded) for
  # validation: model selection and early stopping never see a test split.
  # Ignored when data.val_dir is set.
  config.data.val_fraction = 0.1
  # A separate validation source (an image folder or a .npz/.npy with the
  # training classes) used instead of carving val_fraction, as seeds 002 and
  # 004 validated; '' = carve it. Every decision (best checkpoint, early
  # stopping, plateau) is taken on it: if it is a test split, the accuracy
  # the run reports on it is optimistic (the log and the report say so).
  config.data.val_dir = ''
  # tfds datasets: a split of the same dataset ('test') validating instead of
  # carving val_fraction, as seeds 002 and 004 validated on CIFAR-10's test
  # split; '' = carve. The same caveat as val_dir: decisions taken on it make
  # its reported accuracy optimistic.
  config.data.val_split = ''
  # Fraction of the training data (stratified, seeded) held out as a test
  # part: never trained on nor used for any decision, evaluated once at the
  # end on the best checkpoint into <workdir>/eval_test.json. Fractions are of
  # the whole: val_fraction=0.1 test_fraction=0.1 is seed 003's 80/10/10.
  # Sources with an official test split (fashion_mnist ... idx) use that as the
  # test part instead, whole, and ignore this (unless data.val_split='test').
  config.data.test_fraction = 0.0
  # Sources with an official test split: True makes it the test part (read
  # once, at the end); False leaves it unread, for tuning runs, so that no
  # test number exists that a decision could see.
  config.data.official_test = True
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

  # ---- how convolutions and products are computed (cnnlab.lowering) ---------
  # 'auto' = what benchmarks/throughput.py measured fastest on this CPU's class
  # (cnnlab.core.machine.RULES); the run logs the choice and meta.json keeps it.
  config.compute = ml_collections.ConfigDict()
  # XLA:CPU flag profile (cnnlab.core.xla_flags.PROFILES: eigen, onednn, xla).
  config.compute.xla_cpu = 'auto'
  # Convolution implementation (cnnlab.lowering.CONVS): xla (XLA's own), im2col
  # (one dot over the kernel's taps), shifted (a dot per tap); all give the same
  # outputs and gradients to float tolerance, and the same parameters.
  config.compute.conv = 'auto'
  # Inputs of every conv and dot: float32, or bfloat16 with float32 accumulation
  # and results (parameters, optimizer state, BatchNorm, activations stay float32).
  config.compute.dtype = 'auto'

  # ---- model --------------------------------------------------------------
  config.model = ml_collections.ConfigDict()
  # A name from cnnlab.models.MODELS (python -m cnnlab.summary lists them).
  config.model.name = 'vgg'
  # Channels of each stage, for the models that take them (airbench:
  # (64, 256, 256)); () = the model's own.
  config.model.widths = ()
  # Dropout rates of the seed models (mlp ... fashion_deep), for the seeds'
  # dropout ablations: '' = the model's own; one number = every dropout layer
  # at that rate ('0' = the network without dropout); a comma list = one rate
  # per dropout layer in order ('0.2,0,0,0,0.2,0.2': seed 002's "less
  # dropout" large_cnn). The ResNets and airbench take no dropout.
  config.model.dropout = ''
  # airbench: the factor on the logits; None = the model's (1/9).
  config.model.logit_scale = ml_collections.config_dict.placeholder(float)
  # airbench: 'unit_std' rescales the head's initial weights to std 1
  # (airbench94_muon); '' = PyTorch's default init.
  config.model.head_init = ''
  # Compute dtype of the models that take one (airbench): 'bfloat16' on a GPU
  # (activations too; BatchNorm and parameters stay float32); '' = float32.
  # For bfloat16 products in any model with float32 activations (the CPU's
  # bf16 units), use compute.dtype instead.
  config.model.dtype = ''
  # Model 'keras': the layer list cnnlab.import_keras read from a Keras file
  # (JSON), kept in the config so a workdir describes its own network.
  config.model.keras_layers = ''
  # How the model's input is made from the pipeline's pixels / 255 (keras,
  # vgg16, resnet*): 'unit' (x / 255, as the seed notebooks fed Keras), 'raw'
  # (0..255), 'tf' ([-1, 1]), 'caffe' (BGR minus the ImageNet mean: Keras'
  # preprocess_input for VGG16 and the ResNets), 'torch'; '' = the model's own
  # ('unit' for keras, 'caffe' for the ImageNet backbones).
  config.model.preprocess = ''
  # vgg16 / resnet50 / resnet101 / resnet152: a Keras notop weights file
  # (keras.applications' *_notop.h5, see the README) loaded by layer name when
  # a run starts; '' = Keras' random init. A bare name is also looked up in ~/.keras/models/.
  config.model.backbone_weights = ''
  # The side the ImageNet backbones' input is brought to (seed 003 pads
  # Fashion-MNIST's 28 to 32, their smallest input); None = the images' own.
  config.model.input_size = ml_collections.config_dict.placeholder(int)
  # How: 'pad' (zeros around, centred, as seed 003's tf.pad) or a resize
  # ('nearest', 'bilinear', 'bicubic'); '' = 'pad'.
  config.model.resize_method = ''
  # After the backbone, as Keras' pooling argument: 'flatten' (seed 003's
  # Flatten), 'avg', 'max'; '' = 'flatten'.
  config.model.pooling = ''
  # Hidden Dense+relu layers of the backbones' new head (seed 003: (1000,)
  # on ResNet152, (4096, 4096) on VGG16); () = straight to the classes.
  config.model.head_widths = ()
  # Dropout after each hidden head layer (seed 003's VGG head: 0.5); None = none.
  config.model.head_dropout = ml_collections.config_dict.placeholder(float)
  # Regex over layer paths ('backbone/conv1_bn', an imported model's
  # 'batch_normalization') whose BatchNorm acts as Keras' trainable=False:
  # it normalises with its moving statistics and never updates them, in
  # training too. '' = cnnlab's default: training normalises with batch
  # statistics and updates the moving ones, even under config.freeze. Keras'
  # frozen base is freeze='^backbone/' with frozen_batchnorm='^backbone/'.
  config.model.frozen_batchnorm = ''

  # ---- input transforms ---------------------------------------------------
  # Training-time augmentation pipeline in the cnnlab.augment mini-language,
  # e.g. 'flip_lr|translate(0.1)'. Empty = none (images scaled to [0, 1]).
  config.augment = ''

  # ---- optimizer and learning-rate schedule (shared with seq2seq) ----------
  config.optimizer = optimizer_config()
  config.schedule = schedule_config()

  # ---- fine-tuning --------------------------------------------------------
  # Initialise from another run's workdir or checkpoint dir (params and batch
  # stats matched by name; layers whose shape differs are re-initialised).
  config.init_from = ''
  # Regex over parameter paths ('Conv_0/kernel'); matching params stay frozen.
  config.freeze = ''

  # Regex over parameter paths that train only for the first
  # train_only_first_epochs epochs, then stay fixed (airbench: 'whiten/bias', 3).
  config.train_only_first = ''
  config.train_only_first_epochs = 0.0  # 0 = they train throughout

  # ---- lookahead EMA of the weights (airbench) ----------------------------
  config.lookahead = ml_collections.ConfigDict()
  # Every this many steps, ema = decay * ema + (1 - decay) * weights, then the
  # weights are set to ema (params and BatchNorm statistics); 0 = off.
  config.lookahead.every_steps = 0
  # Updates start at this epoch (before it the EMA just follows the weights).
  config.lookahead.start_epochs = 0.0
  # decay = base ** every_steps * (step / num_train_steps) ** power: barely
  # any averaging early, the most at the end (airbench: 0.95, 3). The last
  # step copies the EMA into the weights.
  config.lookahead.decay_base = 0.95
  config.lookahead.decay_power = 3.0  # the exponent of step / num_train_steps

  # ---- loss ---------------------------------------------------------------
  # Label smoothing: train against (1 - x) on the true class and x / K spread
  # over all K classes, which discourages over-confident logits (e.g. 0.1);
  # 0 = plain one-hot cross-entropy, as the seeds trained. Evaluation losses
  # are always unsmoothed.
  config.label_smoothing = 0.0

  # ---- loop ---------------------------------------------------------------
  # Global batch size, split over all devices of all processes.
  config.batch_size = 128
  # Batch size for evaluation (padded and masked, so any size is exact).
  config.eval_batch_size = 500
  # Passes over the training split (the seeds' unit); sets the run's length and
  # the epoch-based schedules unless num_train_steps is given. May be
  # fractional (airbench: 9.9); the step count is rounded up.
  config.num_epochs = 10.0
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
  # Append one line per step (step, lr, loss, accuracy of its batch) to
  # <workdir>/steps.jsonl, for seed 000's per-batch plots (accuracy's moving
  # average against lr; per-batch curves), which the report then draws.
  config.log_step_records = False
  # Test-time augmentation for the end-of-training evaluation (a cnnlab.tta
  # name: flip, airbench); '' = none. The val records get *_tta fields.
  config.tta = ''
  # After training, evaluate the best checkpoint on val and write the figures
  # and per-class tables into <workdir>/report/ (False for quick experiments).
  config.report = True
  # Everything random (init, dropout, data order, split, augmentation) derives from it.
  config.seed = 0
  return config
