#!/usr/bin/env bash
# A one-node SLURM cluster with accounting on this machine (Debian's slurm-wlm, munge, slurmdbd + MariaDB), as root:
# what the cluster tests submit to (pytest -m cluster) and a way to try hydra/launcher=slurm without a cluster.
#   bash scripts/slurm_local.sh          install (apt) if needed, configure, start; idempotent
#   bash scripts/slurm_local.sh stop     stop the daemons
# Jobs run as root on `hostname -s`, partition `debug`, all CPUs of the machine; sacct reads slurmdbd's MariaDB.
set -euo pipefail

CONF=/etc/slurm
NODE=$(hostname -s)
LOG=/var/log/slurm

# TERM a daemon and wait until it has gone (KILL after 20 s), so that a start right after a stop finds none running.
end() {
    pkill -x "$1" || return 0
    for _ in $(seq 40); do pgrep -x "$1" >/dev/null || return 0; sleep 0.5; done
    pkill -9 -x "$1" || true
}
stop() { for daemon in slurmd slurmctld slurmdbd munged mariadbd; do end "$daemon"; done; }

if [ "${1:-start}" = stop ]; then stop; exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "slurm_local.sh: run as root (it installs packages and starts daemons)" >&2; exit 2; fi

if ! command -v slurmctld >/dev/null || ! command -v slurmdbd >/dev/null || ! command -v mariadbd >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client slurmdbd munge mariadb-server >/dev/null
fi
mkdir -p "$CONF" "$LOG" /var/spool/slurmctld /var/spool/slurmd /run/munge /run/mysqld /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
chown mysql:mysql /run/mysqld

# munge: the shared key, then the daemon
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
munge -n | unmunge >/dev/null || { echo "slurm_local: munged does not answer; see /var/log/munge/munged.log" >&2; exit 1; }

# MariaDB for slurmdbd. Ready means it answers a ping (a socket file alone can be left by a server that died);
# native AIO (io_uring/libaio) is off because sandboxes and containers may forbid it.
mariadb_up() { mariadb-admin --silent ping >/dev/null 2>&1; }
start_mariadb() {
    end mariadbd
    rm -f /run/mysqld/mysqld.sock
    [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql >/dev/null
    (mariadbd --user=mysql --innodb-use-native-aio=0 >>"$LOG/mariadb.log" 2>&1 &)
    for _ in $(seq 120); do mariadb_up && return 0; sleep 0.5; done
    return 1
}
if ! mariadb_up && ! start_mariadb && ! start_mariadb; then
    echo "slurm_local: MariaDB did not answer a ping within 60 s (twice); the end of $LOG/mariadb.log:" >&2
    tail -n 25 "$LOG/mariadb.log" >&2
    exit 1
fi
mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
            CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"

cat >"$CONF/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
LogFile=$LOG/slurmdbd.log
PidFile=/run/slurmdbd.pid
EOF
chmod 600 "$CONF/slurmdbd.conf"

# Job ids continue past every id the accounting database holds: a fresh StateSaveLocation restarts them at 1, and
# `sacct -j ID` (what submitit polls) would then mix an earlier cluster's records of that id into the new job's state.
LAST_ID=$(mariadb -N -s slurm_acct_db -e "SELECT COALESCE(MAX(id_job), 0) FROM local_job_table" 2>/dev/null || echo 0)

HARDWARE=$(slurmd -C | head -1 | sed -E 's/RealMemory=([0-9]+)/RealMemory=\1/')
# cred_expire is also how long a requeued job waits before it may start again (slurm.conf(5)): slurmd refuses a job
# whose earlier run it killed less than that ago ("already killed, do not launch batch job"). 20 s instead of 120 s
# keeps requeue tests short; the wait itself is SLURM's and must not be skipped.
cat >"$CONF/slurm.conf" <<EOF
ClusterName=local
SlurmctldHost=$NODE
SlurmUser=root
AuthType=auth/munge
AuthInfo=cred_expire=20
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
JobRequeue=1
FirstJobId=$((LAST_ID + 1))
MinJobAge=300
KillWait=10
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/none
$HARDWARE
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

pgrep -x slurmdbd >/dev/null || slurmdbd
for _ in $(seq 60); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.5; done
sacctmgr -i add cluster local >/dev/null 2>&1 || true
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 60); do
    if sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
        echo "slurm_local: node $NODE up ($(sinfo -h -o '%c CPUs, %m MB') ), accounting: $(sacctmgr -n list cluster format=cluster | xargs)"
        exit 0
    fi
    sleep 0.5
done
echo "slurm_local: the node did not come up; see $LOG/slurmctld.log and $LOG/slurmd.log" >&2
exit 1
