"""schedcu's fault suite: a private PostgreSQL cluster and RabbitMQ node, the five workers and the fake Amion
as processes, a stream of import requests per scenario while one fault is injected, then an account of every
request. Prints the matrix; exit status 1 when any scenario fails.

    .venv/bin/python bench/faults.py [--scenarios a,b|ci] [--workflows N] [--seed S] [--json] [--list]
"""

import sys

from faultlib.suite import main

if __name__ == "__main__":
    sys.exit(main())
