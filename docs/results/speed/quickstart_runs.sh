#!/bin/bash
# Steps/s of `pagan-train experiment=quickstart` as a user runs it (see timing.sh), the code and
# quickstart before the speed work (commit 1e4a33c) against now, between step 30 and 300, in
# alternation (ABBA) over <rounds> rounds, so that a drift of the machine's speed favours
# neither.
#   git worktree add /tmp/old 1e4a33c
#   bash docs/results/speed/quickstart_runs.sh /tmp/old 4 > docs/results/speed/quickstart_runs.csv
set -eu
OLD=$1
ROUNDS=$2
cd "$(dirname "$0")/../../.."
. docs/results/speed/timing.sh
run() {  # <config> <round>
  case $1 in
    before) echo "$2,before (commit 1e4a33c),$(rate 300 PYTHONPATH="$OLD/src" --)" ;;
    now) echo "$2,now,$(rate 300 PYTHONPATH= --)" ;;
  esac
}
echo "round,config,steps_per_s"
for round in $(seq "$ROUNDS"); do
  if ((round % 2)); then run before "$round"; run now "$round"; else run now "$round"; run before "$round"; fi
done
