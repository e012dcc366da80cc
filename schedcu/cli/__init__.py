"""The command line: argument parsing (`arguments.py`), the core commands and the parser (`main.py`), and the
commands of each area (`commands/<area>.py`). Nothing outside this package imports a command module."""
