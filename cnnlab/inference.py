"""A trained run, restored from its workdir, for evaluation and prediction."""
import dataclasses
import functools
import os
from typing import Any, Dict, Optional

import ml_collections

from cnnlab import augment
from cnnlab import input_pipeline
from cnnlab.core import parallel
from cnnlab import steps
from cnnlab.core import workdir as workdir_lib


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
  meta, config = workdir_lib.load_config(workdir)
  pipeline = augment.create_pipeline(meta['augment'])
  image_shape = tuple(meta['image_shape'])
  _, template = steps.state_for(config, meta['num_classes'], image_shape,
                                meta['steps_per_epoch'], meta['num_train_steps'],
                                input_stats=pipeline.init_stats(image_shape))
  mesh = parallel.create_mesh()
  state = workdir_lib.restore_chosen(workdir, parallel.replicate(template, mesh), step)
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
