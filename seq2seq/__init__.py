"""seq2seq: an LSTM that learns multi-digit addition and subtraction (issue 6)."""
