#!/bin/bash
# Fresh processes in alternation (ABBA), 10 pairs: bash docs/results/speed/heap_retention.sh
cd "$(dirname "$0")/../../.."
for r in $(seq 10); do
  if ((r % 2)); then order=("" retain); else order=(retain ""); fi
  for arg in "${order[@]}"; do
    echo "$r $(.venv/bin/python docs/results/speed/heap_retention.py $arg 2>/dev/null)"
  done
done
