"""Learning-rate schedules, each registered by name in SCHEDULES.

A schedule builder takes the config and the run's length and returns an
optax schedule: a pure `step -> lr` function (jittable).
"""
import ml_collections
import optax

from cnnlab.registry import Registry

SCHEDULES = Registry('schedule', 'schedule.name')


@SCHEDULES.register('constant')
def constant(config: ml_collections.ConfigDict, steps_per_epoch: int,
             num_train_steps: int) -> optax.Schedule:
  del steps_per_epoch, num_train_steps
  return optax.constant_schedule(config.optimizer.lr)


@SCHEDULES.register('cosine')
def cosine(config, steps_per_epoch, num_train_steps):
  warmup = int(config.schedule.warmup_epochs * steps_per_epoch)
  if warmup:
    return optax.warmup_cosine_decay_schedule(0.0, config.optimizer.lr, warmup,
                                              num_train_steps)
  return optax.cosine_decay_schedule(config.optimizer.lr, num_train_steps)


def create_schedule(config: ml_collections.ConfigDict, steps_per_epoch: int,
                    num_train_steps: int) -> optax.Schedule:
  return SCHEDULES.get(config.schedule.name)(config, steps_per_epoch, num_train_steps)
