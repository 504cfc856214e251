"""cnnlab: a config-driven JAX/Flax lab for small-image classification."""
