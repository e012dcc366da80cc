"""Process plumbing: finding PostgreSQL and RabbitMQ (`infra.py`), the services' registries by worker name,
starting and stopping the workers and the fake Amion (`processes.py`), a whole system on this machine
(`local.py`) for `schedcu demo` and `schedcu dev`."""
