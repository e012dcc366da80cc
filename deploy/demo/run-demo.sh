#!/bin/sh
# The compose demo, run in the operator container:
#   docker compose -f deploy/compose.yaml run --rm operator sh /demo/run-demo.sh
# It imports the demo roster, submits the sample template for January 2027 (the month the fake Amion knows),
# waits for the workflow and prints the coverage of the version it made.
set -eu
demo=${DEMO_DIR:-/demo}
schedcu roster import "$demo/roster.yaml"
python -c 'import sys; from schedcu.testing.sample_template import sample_template
sys.stdout.buffer.write(sample_template())' > /tmp/sample-template.ods
schedcu submit /tmp/sample-template.ods --group demo --start 2027-01-01 --end 2027-01-31 --amion-account demo \
    --request-id "compose-demo-$(date +%s)" --wait | tee /tmp/submit.out
version=$(sed -n 's/.*(version \([0-9a-f-]*\)).*/\1/p' /tmp/submit.out)
if [ -z "$version" ]; then
    echo "the workflow made no version; see: schedcu workflows list --limit 5" >&2
    exit 1
fi
schedcu coverage show "$version"
