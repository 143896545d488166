"""One module per command: an options dataclass, ``run(options, ...) -> result`` (``bench`` has
``BenchPlan`` and ``run_plan``; ``training`` holds `train`, `distill` and `optimize`, whose
options are the training configs' fields; ``bench_compare`` is plain functions).

A job does the work and returns what happened; it prints nothing. ``cli.py`` parses the
command line into the options, calls the job, and prints the result or the error.
"""
