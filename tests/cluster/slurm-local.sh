#!/usr/bin/env bash
# A real single-node SLURM on 127.0.0.1 (munge, slurmctld, slurmd from Debian's packages; no
# accounting), then the smoke DAG through it: `snakemake --workflow-profile profiles/slurm
# --configfile config/smoke.yaml` in a temporary copy of the workflow. Everything it starts is
# stopped by PID on exit. Needs root (apt-get, daemons) and more than 25 min on 2 cores.
#
#   bash tests/cluster/slurm-local.sh [WORK_DIR] [SUMMARY_FILE]
#
# WORK_DIR (default: a new /tmp/ems-slurm.XXXXXX) keeps the SLURM state, logs and the run;
# SUMMARY_FILE (default WORK_DIR/summary.md) gets a short summary of the run. Exit code: that of
# Snakemake. See docs/scale-out.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY="$ROOT/.venv/bin/python"
WORK=${1:-$(mktemp -d /tmp/ems-slurm.XXXXXX)}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
SUMMARY=${2:-$WORK/summary.md}
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true HF_HUB_OFFLINE=1 MPLBACKEND=Agg
export EMS_DATA_MIRROR="${EMS_DATA_MIRROR:-$(cd "$ROOT/.." && pwd)/shared/data}"
log() { echo "slurm-local: $*" >&2; }

# 1. Packages (Debian) and the executor plugin (PyPI).
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  log "installing slurm-wlm and munge"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
"$PY" -c 'import snakemake_executor_plugin_slurm' 2>/dev/null || "$ROOT/.venv/bin/pip" install -q -e "$ROOT[slurm]"

# 2. Configuration first: with no slurm.conf, SLURM commands look the controller up over DNS.
mkdir -p "$WORK"/{etc,munge,state,spool,run,log}
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
CTLD_PORT=$(free_port)
SLURMD_PORT=$(free_port)
HOST=$(hostname -s)
CPUS=$(nproc)
export SLURM_CONF=/etc/slurm/slurm.conf
WROTE_CONF=0
stop_all() {
  set +e
  if [ -f "$WORK/run/slurmctld.pid" ]; then  # jobs left on this private cluster (all ours)
    scancel --user="$(id -un)" 2>/dev/null
    for _ in $(seq 40); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.5; done
  fi
  for pidfile in "$WORK/run/slurmd.pid" "$WORK/run/slurmctld.pid" "$WORK/munge/munged.pid"; do
    if [ -f "$pidfile" ]; then
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null && for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null
    fi
  done
  if [ "$WROTE_CONF" = 1 ]; then
    cp "$SLURM_CONF" "$WORK/etc/slurm.conf" && rm -f "$SLURM_CONF"
    if [ -e "$WORK/etc/slurm.conf.before" ]; then mv "$WORK/etc/slurm.conf.before" "$SLURM_CONF"; fi
  fi
  log "stopped munged, slurmctld, slurmd; removed $SLURM_CONF"
}
trap stop_all EXIT

# SLURM's default path: the executor plugin drops SLURM_* variables (SLURM_CONF too) before
# `srun` inside a job, so the file has to be where srun looks by itself. A file already there
# is kept aside and put back on exit.
mkdir -p /etc/slurm
if [ -e "$SLURM_CONF" ]; then mv "$SLURM_CONF" "$WORK/etc/slurm.conf.before"; fi
WROTE_CONF=1
cat >"$SLURM_CONF" <<EOF
# Written by tests/cluster/slurm-local.sh: one node, everything on 127.0.0.1, no accounting.
ClusterName=emslocal
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$WORK/munge/munge.socket
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/run/slurmctld.pid
SlurmdPidFile=$WORK/run/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
# Cores are scheduled, memory is not (the profile asks paper-scale memory; this node is small).
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
# squeue must still know finished jobs when the plugin asks (it needs >= 120 s).
MinJobAge=600
ReturnToService=2
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=131072 State=UNKNOWN
PartitionName=main Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF


# 3. munge with its own key and socket (nothing under /etc or /run is touched).
dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1024 count=1 status=none
chmod 700 "$WORK/munge" && chmod 400 "$WORK/munge/munge.key"
munged --force --key-file="$WORK/munge/munge.key" --socket="$WORK/munge/munge.socket" \
  --pid-file="$WORK/munge/munged.pid" --log-file="$WORK/log/munged.log" --seed-file="$WORK/munge/munged.seed"
for _ in $(seq 40); do [ -S "$WORK/munge/munge.socket" ] && break; sleep 0.25; done
munge --socket="$WORK/munge/munge.socket" -n | unmunge --socket="$WORK/munge/munge.socket" >/dev/null

# 4. The controller and the node daemon.
slurmctld -f "$SLURM_CONF"
for _ in $(seq 60); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.5; done
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do sinfo -h -o %t 2>/dev/null | grep -Eq '^(idle|mix|alloc)' && break; sleep 0.5; done
sinfo
srun -N1 -n1 hostname >/dev/null  # a job runs end to end
log "SLURM $(sinfo -V | awk '{print $2}') up on 127.0.0.1 (slurmctld :$CTLD_PORT, slurmd :$SLURMD_PORT)"
if [ "${SLURM_LOCAL_START_ONLY:-0}" = 1 ]; then exit 0; fi  # check the cluster only

# 5. The smoke DAG through the SLURM profile, in a copy of the workflow files.
RUN="$WORK/workflow-copy"
rm -rf "$RUN" && mkdir -p "$RUN"
cp "$ROOT/Snakefile" "$ROOT/config.yaml" "$RUN/"
cp -r "$ROOT/config" "$ROOT/workflow" "$ROOT/envs" "$ROOT/profiles" "$RUN/"
start=$(date +%s)
set +e
(cd "$RUN" && "$ROOT/.venv/bin/snakemake" --workflow-profile profiles/slurm --configfile config/smoke.yaml \
  --slurm-init-seconds-before-status-checks 5 --seconds-between-status-checks 5 --cores "$CPUS") \
  >"$WORK/snakemake.log" 2>&1
rc=$?
set -e
took=$(( $(date +%s) - start ))
jobs_submitted=$(grep -c "Job .* has been submitted with SLURM jobid" "$WORK/snakemake.log" || true)
{
  echo "# Smoke DAG on a local single-node SLURM ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "- command: \`snakemake --workflow-profile profiles/slurm --configfile config/smoke.yaml\`"
  echo "  (+ faster polling: \`--slurm-init-seconds-before-status-checks 5 --seconds-between-status-checks 5\`; \`--cores $CPUS\` so that a group of evaluation jobs fits the node)"
  echo "- commit: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- . 2>/dev/null || echo ' (with uncommitted changes in the tree)')"
  echo "- SLURM $(sinfo -V | awk '{print $2}') (Debian slurm-wlm), munge $(munged -V | awk '{print $1}' | sed 's/munge-//'), snakemake $("$ROOT/.venv/bin/snakemake" --version), snakemake-executor-plugin-slurm $("$PY" -c 'import importlib.metadata as m; print(m.version("snakemake-executor-plugin-slurm"))')"
  echo "- node: $CPUS CPUs, one partition, no accounting (status from squeue), no account"
  echo "- exit code $rc after $took s; SLURM jobs submitted: $jobs_submitted"
  echo
  echo '```'
  grep -E "steps \(100%\) done|Complete log|Error|error:|Exiting because" "$WORK/snakemake.log" | tail -5
  echo
  sed -n '/^Job stats:/,/^$/p' "$WORK/snakemake.log" | head -30
  echo '```'
} >"$SUMMARY"
cat "$SUMMARY"
exit $rc
