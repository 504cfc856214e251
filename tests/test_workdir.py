"""One workdir for both labs: meta.json, the resume refusal, the run loader, old workdirs."""
import json
import os

import jax.numpy as jnp
import pytest

from cnnlab import inference
from cnnlab import train as cnnlab_train
from cnnlab.core import checkpoints
from cnnlab.core import history
from cnnlab.core import workdir as workdir_lib
from cnnlab.core.errors import UserError
from conftest import tiny_config
from seq2seq import train as seq2seq_train
import test_seq2seq_train


def test_check_workdir_names_every_differing_key_and_passes_an_equal_run(tmp_path):
  meta = {'model': 'conv1', 'image_shape': [8, 8, 3], 'config': {'lr': 0.1, 'a': {'b': 1}}}
  workdir_lib.check_workdir(str(tmp_path), meta, ['model'])  # no run here yet: nothing to check
  workdir_lib.write_meta(str(tmp_path), meta)
  other = dict(meta, model='conv4', config={'lr': 0.1, 'a': {'b': 2}})
  # A run that stopped before its first save (a divergence in epoch 1) has nothing to mix with.
  workdir_lib.check_workdir(str(tmp_path), other, ['model', 'image_shape', 'config.a.b'])
  ckpts = checkpoints.Checkpoints(str(tmp_path))
  ckpts.save(3, {'w': jnp.zeros(2)})
  ckpts.close()
  workdir_lib.check_workdir(str(tmp_path), meta, ['model', 'image_shape', 'config.a.b'])
  with pytest.raises(UserError, match=r"model='conv1', config.a.b=1, but this config has "
                     r"model='conv4', config.a.b=2: .*new --workdir"):
    workdir_lib.check_workdir(str(tmp_path), other, ['model', 'image_shape', 'config.a.b'])
  # A field outside the keys may change (cnnlab: the lr; seq2seq: RESUMABLE_FIELDS).
  workdir_lib.check_workdir(str(tmp_path), dict(meta, config={'lr': 1.0, 'a': {'b': 1}}),
                            workdir_lib.config_keys(meta['config'], resumable=('lr',)))


def test_config_keys_leave_out_the_resumable_fields():
  assert workdir_lib.config_keys({'num_epochs': 3, 'model': {'name': 'x', 'size': 2}},
                                 ('num_epochs',)) == ['config.model.name', 'config.model.size']


def test_load_config_refuses_the_other_labs_run(tmp_path):
  workdir_lib.write_meta(str(tmp_path), {'lab': 'seq2seq', 'model': 'm', 'config': {}})
  with pytest.raises(UserError, match='holds a seq2seq run.*seq2seq.main'):
    workdir_lib.load_config(str(tmp_path))
  with pytest.raises(UserError, match='not a cnnlab workdir'):
    workdir_lib.load_config(str(tmp_path / 'empty'), lab='seq2seq')


def test_restore_chosen_prefers_best_and_names_the_steps_there_are(tmp_path):
  state = {'w': jnp.zeros(3)}
  ckpts = checkpoints.Checkpoints(str(tmp_path))
  with pytest.raises(UserError, match='no checkpoint yet'):
    workdir_lib.restore_chosen(str(tmp_path), state)
  ckpts.save(4, {'w': jnp.full(3, 4.0)})
  ckpts.save(6, {'w': jnp.full(3, 6.0)})
  ckpts.save_best(4, {'w': jnp.full(3, 4.0)})
  ckpts.close()
  assert float(workdir_lib.restore_chosen(str(tmp_path), state)['w'][0]) == 4.0
  assert float(workdir_lib.restore_chosen(str(tmp_path), state, best=False)['w'][0]) == 6.0
  assert float(workdir_lib.restore_chosen(str(tmp_path), state, step=6)['w'][0]) == 6.0
  with pytest.raises(UserError, match=r'no checkpoint at step 5 .*available: \[4, 6\]'):
    workdir_lib.restore_chosen(str(tmp_path), state, step=5)


def as_old_seq2seq_workdir(workdir):
  """What seq2seq wrote before meta.json: config.json, and records with an unrounded epoch."""
  meta = workdir_lib.read_meta(workdir)
  with open(os.path.join(workdir, 'config.json'), 'w') as f:
    json.dump(meta['config'], f)
  os.remove(os.path.join(workdir, workdir_lib.META_FILE))


def test_an_old_seq2seq_workdir_answers_resumes_and_is_converted(tmp_path):
  workdir = str(tmp_path / 'run')
  config = test_seq2seq_train.tiny_config(num_epochs=1)
  seq2seq_train.train_and_evaluate(config, workdir, verbose=False)
  as_old_seq2seq_workdir(workdir)
  assert len(seq2seq_train.predict(workdir, ['12+3'])) == 1  # the run loader reads config.json
  resumed = seq2seq_train.train_and_evaluate(test_seq2seq_train.tiny_config(num_epochs=2),
                                             workdir, verbose=False)
  assert resumed['step'] == 16 and [r['step'] for r in history.read(workdir)] == [8, 16]
  assert not os.path.exists(os.path.join(workdir, 'config.json'))
  assert workdir_lib.read_meta(workdir)['lab'] == 'seq2seq'
  # Converted, it refuses another experiment as before.
  with pytest.raises(UserError, match="config.num_digits=2.*config.num_digits=3"):
    seq2seq_train.train_and_evaluate(test_seq2seq_train.tiny_config(num_digits=3), workdir,
                                     verbose=False)


def test_an_old_cnnlab_workdir_resumes_and_its_records_read_in_todays_keys(tmp_path,
                                                                         image_folder):
  config = tiny_config(image_folder, tmp_path, num_epochs=1)
  workdir = str(tmp_path / 'run')
  cnnlab_train.train_and_evaluate(config, workdir)
  # As written before the one schema: no 'lab', images_per_sec, an int epoch.
  meta = workdir_lib.read_meta(workdir)
  del meta['lab']
  workdir_lib.write_meta(workdir, meta)
  old = [dict({('images_per_sec' if k == 'examples_per_sec' else k): v for k, v in r.items()},
              epoch=int(r['epoch'])) for r in history.read(workdir)]
  with open(history.path(workdir), 'w') as f:
    f.writelines(json.dumps(r) + '\n' for r in old)
  assert 'examples_per_sec' in history.read(workdir)[0]
  assert inference.load_run(workdir).step == old[-1]['step']
  cnnlab_train.train_and_evaluate(tiny_config(image_folder, tmp_path, num_epochs=2), workdir)
  records = history.read(workdir)
  assert [r['epoch'] for r in records] == [1, 2]
  assert all('examples_per_sec' in r and 'images_per_sec' not in r for r in records)
  with pytest.raises(UserError, match="model='conv1'.*model='conv4'"):
    cnnlab_train.train_and_evaluate(
        tiny_config(image_folder, tmp_path, **{'model.name': 'conv4'}), workdir)
