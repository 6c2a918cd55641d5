#!/usr/bin/env bash
# The user's entry points on the real engines, each from a fresh clone of this checkout (the
# smoke config: every rule, tiny budgets):
#   1. DVC: `dvc repro`; a second `dvc repro` does nothing; `dvc push` to a local remote;
#      `dvc pull` into another fresh clone restores byte-identical results.
#   2. SLURM: Table 1 through `--profile workflow/profiles/slurm` on a single-node cluster
#      (.ci/slurm.sh: Debian's slurm-wlm + munge, no accounting database), byte-identical to
#      the local run of step 1.
# Stops the services it starts. Run from anywhere: bash .ci/entry_points.sh
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/medbench-entry.XXXXXX)
cleanup() { bash "$REPO/.ci/slurm.sh" stop || true; rm -rf "$WORK"; }
trap cleanup EXIT
say() { printf '\n== %s (%s)\n' "$*" "$(date +%T)"; }
fail() { echo "entry points: FAILED: $*" >&2; exit 1; }
# each clone runs its own code, whatever `pip install -e` points at
clone() { git clone -q "$REPO" "$WORK/$1" && cd "$WORK/$1" && export PYTHONPATH="$WORK/$1/src"; }
git_commit() { git -c user.name=ci -c user.email=ci@localhost commit -qm "$1"; }

say "DVC: dvc repro on the smoke config, in a fresh clone"
clone dvc
sed -i 's#^run_config: .*#run_config: config/smoke.yaml#' params.yaml
dvc repro
say "DVC: a second dvc repro (and dvc repro table1) has nothing to do"
for target in "" table1; do
  second=$(dvc repro $target 2>&1) || fail "second dvc repro $target: $second"
  echo "$second"
  if echo "$second" | grep -q "Running stage"; then fail "a second dvc repro $target ran a stage again"; fi
done
status=$(dvc status)
[ "$status" = "Data and pipelines are up to date." ] || fail "dvc status after repro: $status"
say "DVC: push to a local remote"
dvc remote add -d local "$WORK/dvc-store"
git add dvc.lock params.yaml .dvc/config && git_commit "smoke run"
dvc push
dvc plots show --out "$WORK/plots" >/dev/null && [ -s "$WORK/plots/index.html" ] || fail "dvc plots show"
say "DVC: pull into another fresh clone"
git clone -q "$WORK/dvc" "$WORK/pulled" && cd "$WORK/pulled"
dvc pull
for out in results data/interim runs; do
  diff -r "$WORK/dvc/$out" "$WORK/pulled/$out" || fail "$out differs after dvc pull"
done
echo "pulled results, prepared data and runs are byte-identical"

say "SLURM: a single-node cluster"
bash "$REPO/.ci/slurm.sh" start
say "SLURM: smoke Table 1 through the profile (CPU partition)"
clone slurm
# the CPU partition of this cluster, status every 10 s; 1 thread per training / prediction job,
# as the local run's `threads_per_job` (torch's CPU sums depend on the thread count: with 2
# threads here, Table 1 differed from the local run's)
MEDBENCH_SLURM_GPUS=0 MEDBENCH_SLURM_CPUS=1 MEDBENCH_SLURM_PARTITION=debug \
  snakemake --profile workflow/profiles/slurm --slurm-init-seconds-before-status-checks 10 \
  --configfile=config/smoke.yaml results/table1.csv 2>&1 | tee "$WORK/slurm.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "the SLURM run failed"
jobs=$(grep -c "submitted with SLURM jobid" "$WORK/slurm.log" || true)
echo "jobs submitted through sbatch: $jobs"
[ "$jobs" -gt 10 ] || fail "expected every rule's job to go through sbatch, found $jobs"
grep -q "medbench --threads 1 train" "$WORK/slurm.log" || fail "training jobs did not get the profile's thread count"
for f in table1.csv table1.md; do
  cmp "results/$f" "$WORK/dvc/results/$f" || fail "results/$f of the SLURM run differs from the local run"
done
echo "SLURM Table 1 is byte-identical to the local run"
