"""User-facing errors: one line that names the offending config key, file or value."""


class ConfigError(ValueError):
    """Bad user input detected before training starts (config value, path, data)."""


class NonFiniteLossError(RuntimeError):
    """A training loss became NaN or infinite; the last good checkpoint is kept."""


class EstimatorInputError(ValueError):
    """An estimator cannot give a finite, meaningful value on this input (too few samples, NaN, bad sizes)."""
