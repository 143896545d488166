"""One module per command: an options dataclass, ``run(options, ...) -> result``.

A job does the work and returns what happened; it prints nothing. ``cli.py`` parses the
command line into the options, calls the job, and prints the result or the error.
"""
