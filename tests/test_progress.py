"""cnnlab.core.progress: the bar's clock, and one line per 10% in a log file."""
import io

from cnnlab.core.progress import ProgressBar, format_seconds


def test_format_seconds():
  assert [format_seconds(s) for s in (0, 59.9, 61, 3600, 3725, -5)] == [
      '0:00', '0:59', '1:01', '1:00:00', '1:02:05', '0:00']


def test_a_log_file_gets_a_line_per_decile_with_the_metrics():
  log = io.StringIO()
  with ProgressBar(100, 'epoch 1/3', stream=log) as bar:
    for done in range(1, 101):
      bar.update(done, loss=1.0 / done)
  lines = log.getvalue().splitlines()
  assert len(lines) == 11  # the first update (decile 0), then at 10, 20, ..., 100
  assert lines[0].startswith('epoch 1/3 [') and lines[0].endswith('loss 1')
  assert '100/100' in lines[-1] and '#' * 25 in lines[-1] and 'loss 0.01' in lines[-1]


def test_a_disabled_bar_writes_nothing():
  log = io.StringIO()
  bar = ProgressBar(10, stream=log, enabled=False)
  bar.update(5, loss=1.0)
  bar.close()
  assert log.getvalue() == ''
