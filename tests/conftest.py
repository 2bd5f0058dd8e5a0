import os

from hypothesis import HealthCheck, settings

# "ci": bounded examples and no deadline, so the suite is fast and never flakes on a busy machine.
# Reproducible: derandomized (the examples follow from each test's source and hypothesis's
# version, so a red CI run is red again, and locally, with HYPOTHESIS_PROFILE=ci), and no example
# database, so nothing a previous run saved decides what this one tests.
settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,
)
# "dev" and "thorough" explore new random examples on every run, and keep the local database
# (.hypothesis/) so that a failure found once is replayed until it is fixed.
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
