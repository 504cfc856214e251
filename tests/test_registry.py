"""cnnlab.core.registry: a config string picks the code; a miss names the known ones."""
import pytest

from cnnlab.core.errors import UserError
from cnnlab.core.registry import Registry


def test_lookup_duplicates_and_a_miss_that_suggests_the_closest_name():
  registry = Registry('schedule', 'schedule.name')
  registry.add('cosine', len)

  @registry.register('constant')
  def constant():
    return 1

  assert registry.get('cosine') is len and registry.get('constant')() == 1
  assert registry.names() == ['constant', 'cosine'] and 'cosine' in registry
  with pytest.raises(ValueError, match="schedule 'cosine' is registered twice"):
    registry.add('cosine', max)
  with pytest.raises(UserError, match=r"Unknown schedule 'cosin' \(--config.schedule.name\)\. "
                     r"Did you mean 'cosine'\? Known schedules: constant, cosine\."):
    registry.get('cosin')
