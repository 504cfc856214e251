"""A trained run, restored from its workdir, for evaluation and prediction."""
import dataclasses
import functools
import os
from typing import Any, Dict, Optional

import jax
import ml_collections


from cnnlab import augment
from cnnlab.core import checkpoints
from cnnlab import input_pipeline
from cnnlab import lookahead
from cnnlab import lowering
from cnnlab import models
from cnnlab import optimizers
from cnnlab.core import parallel
from cnnlab import steps
from cnnlab.core import workdir as workdir_lib
from cnnlab.core.errors import UserError


@dataclasses.dataclass
class Run:
  """Everything needed to apply a trained model to new images."""
  workdir: str
  config: ml_collections.ConfigDict
  meta: Dict[str, Any]
  state: steps.TrainState
  step: int
  pipeline: augment.Pipeline
  mesh: Any

  @property
  def class_names(self):
    return self.meta['class_names']

  @functools.cached_property
  def eval_fn(self):
    return steps.make_eval_fn(self.pipeline)


def load_run(workdir: str, step: Optional[int] = None) -> Run:
  """Restores the best checkpoint of `workdir` (or `step`, best or periodic)."""
  workdir = os.path.abspath(workdir)
  meta = workdir_lib.read_meta(workdir)
  config = ml_collections.ConfigDict(meta['config'])
  mesh = parallel.create_mesh()
  pipeline = augment.create_pipeline(meta['augment'])
  model = models.from_config(config.model, meta['num_classes'])
  tx = optimizers.create_optimizer(config, meta['steps_per_epoch'], meta['num_train_steps'],
                                   frozen=models.frozen_params(model))
  image_shape = tuple(meta['image_shape'])
  template = steps.create_train_state(jax.random.key(0), model, image_shape, tx,
                                      pipeline.init_stats(image_shape),
                                      lowering.from_config(config))
  template = steps.with_lookahead(template, lookahead.settings(
      config, meta['steps_per_epoch'], meta['num_train_steps']))
  template = parallel.replicate(template, mesh)
  ckpts = checkpoints.Checkpoints(workdir)
  try:
    if step is None:
      best = ckpts.best_step() is not None
      if not best and ckpts.latest_step() is None:
        raise UserError(f'{workdir!r} has no checkpoint yet: train first, or pass another --workdir')
      state = ckpts.restore(template, best=best)
    else:
      try:
        where = checkpoints.find_step(workdir, step)
      except FileNotFoundError:
        available = sorted(set(ckpts.latest.all_steps()) | set(ckpts.best.all_steps()))
        raise UserError(f'no checkpoint at step {step} in {workdir!r}; available: {available}') from None
      state = ckpts.restore(template, step=step, best=where == checkpoints.BEST_DIR)
  finally:
    ckpts.close()
  return Run(workdir, config, meta, state, int(state.step), pipeline, mesh)


def align_labels(run: Run, dataset: input_pipeline.Dataset,
                 source: str = 'the evaluation data') -> input_pipeline.Dataset:
  """Re-indexes `dataset`'s labels to the training run's classes (matched by name).

  A folder may hold a subset of the training classes; a class the model was
  never trained on is an error naming it.
  """
  shape = tuple(run.meta['image_shape'])
  return input_pipeline.align_classes(
      dataset, run.meta['label_values'], run.class_names, shape, source,
      f'the model in {run.workdir!r}', f'pass --image_size={shape[0]} to resize them')


def evaluate(run: Run, dataset: input_pipeline.Dataset, batch_size: Optional[int] = None,
             with_probabilities: bool = True) -> Dict[str, Any]:
  batch_size = batch_size or run.config.eval_batch_size
  return steps.evaluate(run.state, dataset, run.mesh, run.eval_fn, batch_size,
                        with_probabilities=with_probabilities)
