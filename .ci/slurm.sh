#!/usr/bin/env bash
# A single-node SLURM cluster on this machine (controller and node on localhost), from Debian's
# slurm-wlm + munge, for CI's run of the SLURM profile:
#   bash .ci/slurm.sh start     install (if needed), configure, start munged, slurmctld, slurmd
#   bash .ci/slurm.sh stop      stop what `start` started
# One partition, `debug` (CPU only, every core and 90% of the memory of this machine), no
# accounting database: the profile must work without `sacct` (status by `squeue`).
set -euo pipefail
STATE=/tmp/medbench-slurm

start() {
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq slurm-wlm munge >/dev/null
  fi
  mkdir -p "$STATE"/{spool,state,log} /run/munge /etc/slurm
  chown munge:munge /run/munge
  [ -s /etc/munge/munge.key ] || { mungekey --create --force 2>/dev/null || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key; }
  chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  pgrep -x munged >/dev/null || su -s /bin/sh munge -c "/usr/sbin/munged --force"
  local cpus mem host
  cpus=$(nproc)
  mem=$(( $(free -m | awk '/^Mem:/{print $2}') * 9 / 10 ))
  host=$(hostname -s)
  cat > /etc/slurm/slurm.conf <<CONF
ClusterName=medbench-ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=300
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  pgrep -x slurmctld >/dev/null || slurmctld
  pgrep -x slurmd >/dev/null || slurmd
  for _ in $(seq 60); do
    sinfo -h -o '%t' 2>/dev/null | grep -qx idle && { sinfo; return 0; }
    sleep 1
  done
  echo "slurm did not come up:" >&2
  tail -n 20 "$STATE"/log/*.log >&2
  return 1
}

stop() {
  pkill -x slurmd || true
  pkill -x slurmctld || true
  pkill -x munged || true
}

"${1:?usage: slurm.sh start|stop}"
