"""Closed forms of MATH.md: Gaussian posteriors and the quantities that tests and plots compare against."""
