"""Keras model and weight files read with h5py, zipfile and json: no TensorFlow.

Reading a file must not need the framework that wrote it: importing
TensorFlow costs seconds and gigabytes, pins versions against JAX's, and
Keras 3 cannot load every Keras 2 file anyway. The formats are plain:

  .h5 (Keras 2, and Keras 3's legacy `model.save('m.h5')`)
      attrs 'model_config': JSON {'class_name': 'Sequential' | 'Functional' |
      'Model', 'config': {...}}; weights in /model_weights/<layer>/, whose
      attr 'weight_names' lists the layer's datasets in Keras' order.
  weights-only .h5 (`save_weights`; the `*_notop.h5` files keras.applications
      downloads): the same per-layer groups at the top, attr 'layer_names'.
  .keras (Keras 3): a zip of config.json (the same model config, Keras 3's
      node format) and model.weights.h5 with /layers/<layer>/vars/<i>.

read_model turns a file into cnnlab's layer list (cnnlab.keras_net's specs:
one dict per layer, Keras' name, class and the options that change its
output) and the weights by layer name; flax_variables maps them onto the
Flax parameter names. A layer or option cnnlab cannot run is a UserError
naming it and listing what is supported.
"""
import dataclasses
import io
import json
import os
import re
import zipfile
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from cnnlab import keras_net
from cnnlab.core.errors import UserError

# Keras' other spellings of the same layers (Keras 1/2 aliases).
ALIASES = {'Convolution2D': 'Conv2D', 'MaxPool2D': 'MaxPooling2D',
           'AvgPool2D': 'AveragePooling2D', 'GlobalAvgPool2D': 'GlobalAveragePooling2D',
           'GlobalMaxPool2D': 'GlobalMaxPooling2D'}
# Wrappers around a whole model in a Keras 3 config.
MODEL_CLASSES = ('Sequential', 'Functional', 'Model')


# ---- layer configs -> cnnlab specs ---------------------------------------------------

def _pair(value) -> List[int]:
  return [int(value)] * 2 if isinstance(value, (int, float)) else [int(v) for v in value]


def _pads(value) -> List[List[int]]:
  """Keras' ZeroPadding2D / Cropping2D argument as [[top, bottom], [left, right]]."""
  if isinstance(value, (int, float)):
    return [[int(value)] * 2] * 2
  if all(isinstance(v, (int, float)) for v in value):  # (symmetric height, symmetric width)
    return [[int(value[0])] * 2, [int(value[1])] * 2]
  return [[int(a), int(b)] for a, b in value]


def _activation(value) -> str:
  """An activation as Keras serialises it: 'relu', or a dict around the name."""
  if value is None:
    return 'linear'
  if isinstance(value, dict):
    inner = value.get('config')
    value = inner if isinstance(inner, str) else value.get('class_name', '')
  name = str(value)
  if name not in keras_net.ACTIVATIONS:
    raise _Unsupported(f'activation {name!r} (supported: {", ".join(keras_net.ACTIVATIONS)})')
  return name


class _Unsupported(Exception):
  """An option of a layer that cnnlab cannot reproduce (reported with the layer)."""


def _channels_last(config):
  if config.get('data_format') not in (None, 'channels_last'):
    raise _Unsupported(f"data_format={config['data_format']!r} (only channels_last)")


def _conv(c):
  _channels_last(c)
  padding = c.get('padding', 'valid')
  if padding not in ('same', 'valid'):
    raise _Unsupported(f'padding={padding!r}')
  return {'filters': int(c['filters']), 'kernel_size': _pair(c['kernel_size']),
          'strides': _pair(c.get('strides', 1)), 'padding': padding,
          'dilation_rate': _pair(c.get('dilation_rate', 1)), 'groups': int(c.get('groups', 1)),
          'use_bias': bool(c.get('use_bias', True)), 'activation': _activation(c.get('activation'))}


def _dense(c):
  return {'units': int(c['units']), 'use_bias': bool(c.get('use_bias', True)),
          'activation': _activation(c.get('activation'))}


def _batch_norm(c):
  axis = c.get('axis', -1)
  if (axis[0] if isinstance(axis, list) and len(axis) == 1 else axis) not in (-1, 3):
    raise _Unsupported(f'axis={axis!r} (only the channel axis, -1)')
  if c.get('renorm'):
    raise _Unsupported('renorm=True')
  return {'epsilon': float(c.get('epsilon', 1e-3)), 'momentum': float(c.get('momentum', 0.99)),
          'center': bool(c.get('center', True)), 'scale': bool(c.get('scale', True))}


def _pool(c):
  _channels_last(c)
  size = _pair(c.get('pool_size', 2))
  strides = c.get('strides')
  return {'pool_size': size, 'strides': size if strides is None else _pair(strides),
          'padding': c.get('padding', 'valid')}


def _global_pool(c):
  _channels_last(c)
  return {'keepdims': bool(c.get('keepdims', False))}


def _dropout(c):
  if c.get('noise_shape') is not None:
    raise _Unsupported(f"noise_shape={c['noise_shape']!r}")
  return {'rate': float(c['rate'])}


def _relu(c):
  slope = c.get('negative_slope', 0.0)
  return {'max_value': None if c.get('max_value') is None else float(c['max_value']),
          'negative_slope': float(slope or 0.0), 'threshold': float(c.get('threshold', 0.0) or 0.0)}


def _leaky_relu(c):
  # Keras 3 calls the slope negative_slope, Keras 2 alpha; both default to 0.3.
  return {'negative_slope': float(c.get('negative_slope', c.get('alpha', 0.3)))}


def _softmax(c):
  if c.get('axis', -1) not in (-1, [-1]):
    raise _Unsupported(f"axis={c['axis']!r} (only -1)")
  return {}


def _concatenate(c):
  if c.get('axis', -1) not in (-1, 3):
    raise _Unsupported(f"axis={c['axis']!r} (only the channel axis, -1)")
  return {}


def _rescaling(c):
  return {'scale': c.get('scale', 1.0), 'offset': c.get('offset', 0.0)}


def _input(c):
  shape = c.get('batch_shape') or c.get('batch_input_shape')
  if shape is None or len(shape) != 4:
    raise _Unsupported(f'input shape {shape} (cnnlab classifies images: (batch, height, '
                       'width, channels))')
  return {'shape': list(shape[1:])}


def _nothing(c):
  del c
  return {}


# Keras class -> config -> the spec's options (cnnlab.keras_net runs each).
CONVERTERS: Dict[str, Callable[[Dict[str, Any]], Dict[str, Any]]] = {
    'InputLayer': _input,
    'Conv2D': _conv,
    'Dense': _dense,
    'BatchNormalization': _batch_norm,
    'Dropout': _dropout,
    'SpatialDropout2D': lambda c: {'rate': float(c['rate'])},
    'Activation': lambda c: {'activation': _activation(c['activation'])},
    'ReLU': _relu,
    'LeakyReLU': _leaky_relu,
    'Softmax': _softmax,
    'MaxPooling2D': _pool,
    'AveragePooling2D': _pool,
    'GlobalAveragePooling2D': _global_pool,
    'GlobalMaxPooling2D': _global_pool,
    'Flatten': lambda c: (_channels_last(c), {})[1],
    'ZeroPadding2D': lambda c: (_channels_last(c), {'padding': _pads(c.get('padding', 1))})[1],
    'Cropping2D': lambda c: (_channels_last(c), {'cropping': _pads(c.get('cropping', 0))})[1],
    'Rescaling': _rescaling,
    'Add': _nothing,
    'Subtract': _nothing,
    'Multiply': _nothing,
    'Maximum': _nothing,
    'Minimum': _nothing,
    'Average': _nothing,
    'Concatenate': _concatenate,
}
SUPPORTED = tuple(sorted(CONVERTERS))


def supported_text() -> str:
  return ', '.join(SUPPORTED)


# ---- the model graph -----------------------------------------------------------------

def _node_inputs(node: Any) -> List[str]:
  """Names of the layers whose outputs one inbound node takes, in order.

  Keras 3 writes a node as {'args': [...], 'kwargs': {...}} holding
  {'class_name': '__keras_tensor__', 'config': {'keras_history': [name, ...]}};
  Keras 2 as a list of [name, node_index, tensor_index, kwargs].
  """
  if isinstance(node, dict):
    history = (node.get('config') or {}).get('keras_history') if isinstance(
        node.get('config'), dict) else None
    if history:
      return [history[0]]
    return _node_inputs(node['args']) if 'args' in node else []
  if isinstance(node, list):
    if len(node) >= 3 and isinstance(node[0], str) and isinstance(node[1], int):
      return [node[0]]
    return [name for item in node for name in _node_inputs(item)]
  return []


def _layer_name(entry: Dict[str, Any]) -> str:
  return entry.get('name') or entry['config']['name']


def graph(model_config: Dict[str, Any]) -> List[Tuple[str, str, Dict[str, Any], List[str]]]:
  """[(name, class, config, input names)] of a Sequential or functional model config.

  Topologically ordered, pruned to what the (single) output depends on, the
  output last; a Sequential model without an InputLayer gets one ('input')
  from its first layer's input shape.
  """
  kind, config = model_config.get('class_name'), model_config.get('config')
  if kind == 'Sequential':
    entries = config['layers'] if isinstance(config, dict) else config  # Keras < 2.2.3: a list
    nodes, previous = [], None
    for entry in entries:
      name, cls = _layer_name(entry), entry['class_name']
      if previous is None and cls != 'InputLayer':
        shape = (entry['config'].get('batch_input_shape') or entry['config'].get('batch_shape')
                 or (config.get('build_input_shape') if isinstance(config, dict) else None))
        nodes.append(('input', 'InputLayer', {'batch_shape': shape}, []))
        previous = 'input'
      nodes.append((name, cls, entry['config'], [previous] if previous else []))
      previous = name
    return nodes
  if kind not in ('Functional', 'Model'):
    raise UserError(f'the file holds a {kind!r} model: cnnlab.import_keras reads Sequential and '
                    'functional models (a subclassed Keras model has no layer graph in its file)')
  nodes = {}
  for entry in config['layers']:
    inbound = entry.get('inbound_nodes') or []
    if len(inbound) > 1:
      raise UserError(f"layer {_layer_name(entry)!r} is called {len(inbound)} times (a shared "
                      'layer): cnnlab.import_keras reads models whose layers are each used once')
    inputs = _node_inputs(inbound[0]) if inbound else []
    nodes[_layer_name(entry)] = (_layer_name(entry), entry['class_name'], entry['config'], inputs)
  outputs = _endpoints(config.get('output_layers'))
  inputs = _endpoints(config.get('input_layers'))
  if len(outputs) != 1 or len(inputs) != 1:
    raise UserError(f'the model has {len(inputs)} inputs and {len(outputs)} outputs: '
                    'cnnlab classifies one image input into one output')
  order, seen = [], set()

  def visit(name, path=()):  # depth-first post-order: every input before its user
    if name in seen:
      return
    if name in path:
      raise UserError(f'the layer graph has a cycle through {name!r}')
    if name not in nodes:
      raise UserError(f'layer {name!r} is an input of another layer but not in the model')
    for parent in nodes[name][3]:
      visit(parent, path + (name,))
    seen.add(name)
    order.append(nodes[name])

  visit(outputs[0])
  return order


def _endpoints(value) -> List[str]:
  """Layer names of config['input_layers'] / ['output_layers'] ([name, 0, 0] or a list of them)."""
  if not value:
    return []
  if isinstance(value[0], str):
    return [value[0]]
  return [v[0] for v in value]


def layer_specs(nodes: Sequence[Tuple[str, str, Dict[str, Any], List[str]]]
                ) -> List[Dict[str, Any]]:
  """cnnlab's layer list (keras_net's specs) for graph's nodes.

  Raises:
    UserError naming every unsupported layer (and option) and listing the
    supported layers.
  """
  specs, problems = [], []
  for name, cls, config, inputs in nodes:
    cls = ALIASES.get(cls, cls)
    if cls in MODEL_CLASSES:
      problems.append(f'{name!r} ({cls}: a model used as a layer; build the outer model from '
                      "the inner one's layers, e.g. Model(base.input, head(base.output)))")
      continue
    if cls not in CONVERTERS:
      problems.append(f'{name!r} ({cls})')
      continue
    try:
      options = CONVERTERS[cls](config)
    except _Unsupported as e:
      problems.append(f'{name!r} ({cls} with {e})')
      continue
    except (KeyError, TypeError, ValueError) as e:
      problems.append(f'{name!r} ({cls}: unreadable config, {e!r})')
      continue
    specs.append({'name': name, 'type': cls, 'inputs': list(inputs), **options})
  if problems:
    raise UserError(f'unsupported layers: {"; ".join(problems)}. cnnlab.import_keras supports '
                    f'{supported_text()} (channels_last, each layer used once).')
  if sum(s['type'] == 'InputLayer' for s in specs) != 1:
    raise UserError('the model needs exactly one image input (an InputLayer)')
  return specs


# ---- weights -------------------------------------------------------------------------

# Keras' weight names per layer class, in Keras' order, given the spec's options.
def keras_weight_names(spec: Dict[str, Any]) -> List[str]:
  kind = spec['type']
  if kind in ('Conv2D', 'Dense'):
    return ['kernel'] + ['bias'] * spec['use_bias']
  if kind == 'BatchNormalization':
    return (['gamma'] * spec['scale'] + ['beta'] * spec['center'] +
            ['moving_mean', 'moving_variance'])
  return []


# Keras weight name -> (Flax collection, Flax name).
FLAX_NAMES = {'kernel': ('params', 'kernel'), 'bias': ('params', 'bias'),
              'gamma': ('params', 'scale'), 'beta': ('params', 'bias'),
              'moving_mean': ('batch_stats', 'mean'), 'moving_variance': ('batch_stats', 'var')}


def _short(name: str) -> str:
  """'sequential/conv2d/kernel' or 'conv2d/kernel:0' -> 'kernel'."""
  return name.split('/')[-1].split(':')[0]


def name_weights(layer: str, stored: Sequence[Tuple[str, np.ndarray]],
                 expected: Sequence[str]) -> Dict[str, np.ndarray]:
  """{keras weight name: array} for one layer's stored (name, array) pairs.

  By name where the stored names end in Keras' ('conv2d/kernel:0'), else by
  position, as Keras itself loads h5 files (the oldest files name them
  'block1_conv1_W_1:0').
  """
  short = [_short(n) for n, _ in stored]
  if sorted(short) == sorted(expected):
    return {s: np.asarray(a) for s, (_, a) in zip(short, stored)}
  if len(stored) == len(expected):
    return {e: np.asarray(a) for e, (_, a) in zip(expected, stored)}
  raise UserError(f'layer {layer!r} has {len(stored)} weights ({", ".join(short) or "none"}) '
                  f'in the file; it needs {", ".join(expected)}')


def _attr_strings(group, name: str) -> List[str]:
  """A list-of-strings attribute, also when h5py split it into name0, name1, ..."""
  if name in group.attrs:
    values = list(group.attrs[name])
  else:
    values, chunk = [], 0
    while f'{name}{chunk}' in group.attrs:
      values += list(group.attrs[f'{name}{chunk}'])
      chunk += 1
  return [v.decode('utf8') if isinstance(v, bytes) else str(v) for v in values]


def _text(value) -> str:
  return value.decode('utf8') if isinstance(value, bytes) else str(value)


def legacy_weights(group) -> Dict[str, List[Tuple[str, np.ndarray]]]:
  """{layer: [(weight name, array)]} of an h5 weights group (Keras' legacy layout)."""
  weights = {}
  for layer in _attr_strings(group, 'layer_names'):
    names = _attr_strings(group[layer], 'weight_names')
    weights[layer] = [(n, np.asarray(group[layer][n])) for n in names]
  return weights


def _snake(name: str) -> str:
  """Keras 3's naming.to_snake_case: 'BatchNormalization' -> 'batch_normalization'."""
  name = re.sub(r'\W+', '', name)
  name = re.sub('(.)([A-Z][a-z]+)', r'\1_\2', name)
  return re.sub('([a-z])([A-Z])', r'\1_\2', name).lower()


def _keras3_weights(h5, model_config) -> Dict[str, List[Tuple[str, np.ndarray]]]:
  """{layer: [(index, array)]} of a .keras archive's model.weights.h5.

  Keras 3 files a model's layers under their class, not their name:
  /layers/conv2d, /layers/conv2d_1, ... in the order of model.layers (a
  Sequential model's leaves its InputLayer out). Recent versions also
  write the layer's name as an attribute of its vars group, used when present.
  """
  root = h5['layers'] if 'layers' in h5 else h5.get('_layer_checkpoint_dependencies', {})
  names = [root[key]['vars'].attrs.get('name') if 'vars' in root[key] else None for key in root]
  keys = {_text(name): key for name, key in zip(names, root)}
  if not names or None in names:
    entries = model_config['config']['layers']
    if model_config['class_name'] == 'Sequential':
      entries = [e for e in entries if e['class_name'] != 'InputLayer']
    keys, used = {}, {}
    for entry in entries:
      key = _snake(entry['class_name'])
      if key in used:  # Keras' _get_unique_name
        used[key] += 1
        key = f'{key}_{used[key]}'
      else:
        used[key] = 0
      keys[_layer_name(entry)] = key
  weights = {}
  for name, key in keys.items():
    variables = root[key].get('vars', {}) if key in root else {}
    weights[name] = [(str(i), np.asarray(variables[str(i)])) for i in range(len(variables))]
  return weights


@dataclasses.dataclass
class KerasModel:
  """What cnnlab takes from a Keras model file."""
  path: str
  format: str  # 'h5' or 'keras'
  name: str
  keras_version: str
  layers: List[Dict[str, Any]]  # keras_net specs, output last
  weights: Dict[str, Dict[str, np.ndarray]]  # layer -> {keras weight name: array}

  @property
  def input_shape(self) -> Tuple[Optional[int], ...]:
    return tuple(self.layers[0]['shape'])


def _h5py():
  try:
    import h5py  # pylint: disable=g-import-not-at-top  (optional: a clear error without it)
  except ImportError as e:
    raise UserError('reading Keras files needs h5py: pip install h5py') from e
  return h5py


def _open_error(path: str, what: str) -> UserError:
  return UserError(f'{path!r} is not a Keras {what} file (.h5 from model.save, or a Keras 3 '
                   '.keras archive)')


def _read_h5(path: str):
  h5py = _h5py()
  with h5py.File(path, 'r') as f:
    if 'model_config' not in f.attrs:
      raise UserError(f'{path!r} holds weights only (save_weights): cnnlab.import_keras needs the '
                      "architecture too, saved with model.save('model.h5') or "
                      "model.save('model.keras')")
    config = json.loads(_text(f.attrs['model_config']))
    group = f['model_weights'] if 'model_weights' in f else f
    return config, legacy_weights(group), _text(f.attrs.get('keras_version', '?'))


def _read_keras(path: str):
  h5py = _h5py()
  with zipfile.ZipFile(path) as archive:
    names = set(archive.namelist())
    if 'config.json' not in names or 'model.weights.h5' not in names:
      raise _open_error(path, 'model')
    config = json.loads(archive.read('config.json'))
    metadata = json.loads(archive.read('metadata.json')) if 'metadata.json' in names else {}
    with h5py.File(io.BytesIO(archive.read('model.weights.h5')), 'r') as f:
      weights = _keras3_weights(f, config)
  return config, weights, str(metadata.get('keras_version', '?'))


def read_model(path: str) -> KerasModel:
  """The layer list and weights of a Keras .h5 or .keras model file.

  Raises:
    UserError for a missing or unreadable file, a weights-only file, and
    any layer cnnlab cannot run (all of them named, the supported listed).
  """
  if not os.path.isfile(path):
    raise UserError(f'{path!r}: no such file')
  if zipfile.is_zipfile(path):
    fmt, (config, stored, version) = 'keras', _read_keras(path)
  else:
    try:
      fmt, (config, stored, version) = 'h5', _read_h5(path)
    except OSError as e:
      raise _open_error(path, 'model') from e
  specs = layer_specs(graph(config))
  weights = {}
  for spec in specs:
    expected = keras_weight_names(spec)
    if expected:
      if spec['name'] not in stored:
        raise UserError(f"layer {spec['name']!r} has no weights in {path!r}")
      weights[spec['name']] = name_weights(spec['name'], stored[spec['name']], expected)
  name = (config.get('config') or {}).get('name', '') if isinstance(config.get('config'), dict) else ''
  return KerasModel(path=os.path.abspath(path), format=fmt, name=name, keras_version=version,
                    layers=specs, weights=weights)


def flax_variables(weights: Dict[str, Dict[str, np.ndarray]]) -> Dict[str, Dict[str, Any]]:
  """{'params': {layer: {name: array}}, 'batch_stats': {...}} in Flax's names."""
  variables: Dict[str, Dict[str, Any]] = {'params': {}, 'batch_stats': {}}
  for layer, named in weights.items():
    for keras_name, array in named.items():
      collection, flax_name = FLAX_NAMES[keras_name]
      variables[collection].setdefault(layer, {})[flax_name] = np.asarray(array, np.float32)
  return variables


def read_weights(path: str) -> Dict[str, List[Tuple[str, np.ndarray]]]:
  """{layer: [(weight name, array)]} of a weights .h5 (save_weights, keras.applications' files).

  Also reads the weights of a full-model .h5 (its /model_weights group).
  """
  if not os.path.isfile(path):
    raise UserError(f'{path!r}: no such file')
  h5py = _h5py()
  try:
    with h5py.File(path, 'r') as f:
      group = f['model_weights'] if 'model_weights' in f else f
      if not _attr_strings(group, 'layer_names'):
        raise UserError(f'{path!r} is not a Keras h5 weights file (no layer_names); for a '
                        "Keras 3 '.weights.h5' file, save with the legacy h5 format instead")
      return {layer: ws for layer, ws in legacy_weights(group).items() if ws}
  except OSError as e:
    raise _open_error(path, 'weights') from e
