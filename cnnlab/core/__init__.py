"""What both labs (cnnlab and seq2seq) share: errors, registry, the command-line
wrapper and its XLA preamble, parallel (the only code that knows devices and
hosts), checkpoints, history, progress, workdir meta and resume checks, the
guards (divergence, deferred Ctrl-C) and configs (config files found from any
directory, loaded with checked overrides). It imports nothing else from cnnlab."""
