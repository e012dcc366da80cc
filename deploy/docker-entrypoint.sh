#!/bin/sh
# Settings given as files (Docker or Kubernetes secrets): SCHEDCU_<NAME>_FILE=/path sets SCHEDCU_<NAME> to the
# file's content (without its final newline), then runs the command.
set -eu
for file_var in $(env | sed -n 's/^\(SCHEDCU_[A-Z0-9_]*\)_FILE=.*/\1_FILE/p'); do
    value=$(cat "$(printenv "$file_var")")
    export "${file_var%_FILE}=$value"
    unset "$file_var"
done
exec "$@"
