#!/usr/bin/env bash
# A local test cluster for `sandmill run --executor ray`: SeaweedFS (an S3-compatible store)
# plus a Ray head and worker nodes, all on 127.0.0.1 inside a network namespace of their own
# with only loopback up (Ray would otherwise advertise the machine's external address). Every
# process is started in its own session and stopped by the pid recorded for it, never by
# name, so other Ray clusters on the machine are left alone. Needs root (ip netns) and the
# venv of scripts/setup-cluster.sh, which `up` runs first (quick when it is there).
#
#   scripts/cluster.sh up [--workers N]   start (N = 1..8 worker nodes, default 3); prints
#                                         `export` lines: eval "$(scripts/cluster.sh up)"
#   scripts/cluster.sh env                print those lines again
#   scripts/cluster.sh kill-worker N      SIGKILL worker node N (1-based): its `ray start`,
#                                         raylet and every child, running tasks included
#   scripts/cluster.sh status             the nodes as Ray sees them, and the pids
#   scripts/cluster.sh down               stop everything, delete the namespace and the state
#
# One cluster per state directory, ${SANDMILL_CLUSTER_DIR:-/tmp/sandmill-cluster}: its logs
# are in logs/ there. Run commands inside the namespace with: ip netns exec "$NETNS" CMD.
# Worker nodes get AWS_*, and SANDMILL_BIN and PYTHONPATH if the caller has them, in their
# environment (and so do the tasks they run), with the venv's bin/ first on PATH.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
state="${SANDMILL_CLUSTER_DIR:-/tmp/sandmill-cluster}"
bucket=sandmill

say() { echo "cluster: $*" >&2; }
die() {
    echo "error: $*" >&2
    exit 1
}

# The pids of the processes of one recorded process: those in its session or process group
# and all their descendants, limited to our namespace's processes so that a recycled pid can
# never reach anything else.
group_pids() {
    local leader=$1 ns=$2
    local inside
    inside=" $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ') "
    ps -e -o pid=,ppid=,pgid=,sid= | awk -v leader="$leader" -v inside="$inside" '
        { pid[NR] = $1; ppid[$1] = $2; if ($3 == leader || $4 == leader || $1 == leader) take[$1] = 1 }
        END {
            do {
                grew = 0
                for (i in pid) { p = pid[i]; if (!(p in take) && (ppid[p] in take)) { take[p] = 1; grew = 1 } }
            } while (grew)
            for (p in take) if (index(inside, " " p " ")) print p
        }'
}

# Sends signal $1 to every process of the recorded processes named by the files (under
# pids/) given after the namespace $2.
signal_groups() {
    local sig=$1 ns=$2
    shift 2
    local f pids=()
    for f in "$@"; do
        [ -f "$f" ] || continue
        mapfile -t -O "${#pids[@]}" pids < <(group_pids "$(cat "$f")" "$ns")
    done
    [ ${#pids[@]} -eq 0 ] || kill "-$sig" "${pids[@]}" 2>/dev/null || true
}

# The pids among "$@" that are still running (not gone, not zombies), one a line.
running() {
    local p st
    for p in "$@"; do
        # The state is the field after the command's closing parenthesis.
        { read -r st <"/proc/$p/stat"; } 2>/dev/null || continue
        st=${st##*) }
        [ "${st%% *}" = Z ] || echo "$p"
    done
}

# Waits up to 5 s for the pids "$@" to end; prints those still running, one a line.
wait_gone() {
    local left
    for _ in $(seq 50); do
        left=$(running "$@")
        [ -n "$left" ] || return 0
        sleep 0.1
    done
    echo "$left"
}

# Stops every process of the cluster: SIGTERM to each recorded process's group, then after
# 5 s SIGKILL to whatever of them is left and to anything else in the namespace (a task
# process that left its session); waits until they are gone and deletes the namespace.
# Leaves the state directory.
stop_all() {
    local ns
    ns=$(cat "$state/netns" 2>/dev/null || true)
    [ -n "$ns" ] || return 0
    local files=("$state"/pids/*) all left f
    mapfile -t all < <(
        ip netns pids "$ns" 2>/dev/null
        for f in "${files[@]}"; do [ -f "$f" ] && group_pids "$(cat "$f")" "$ns"; done
    )
    signal_groups TERM "$ns" "${files[@]}"
    mapfile -t left < <(wait_gone "${all[@]}")
    if [ ${#left[@]} -gt 0 ]; then
        mapfile -t -O "${#left[@]}" left < <(ip netns pids "$ns" 2>/dev/null)
        kill -KILL "${left[@]}" 2>/dev/null || true
        mapfile -t left < <(wait_gone "${left[@]}")
        [ ${#left[@]} -eq 0 ] || say "processes that did not end after SIGKILL: ${left[*]}"
    fi
    if ip netns list | grep -q "^$ns\b"; then
        ip netns delete "$ns" || say "could not delete network namespace $ns: ip netns delete $ns"
    fi
    rm -f "$state/netns"
}

# Starts "$@" in the namespace, in a session of its own, output to logs/$name.log; records
# its pid in pids/$name.
spawn() {
    local name=$1
    shift
    setsid ip netns exec "$ns" env -u RAY_ADDRESS "${node_env[@]}" "$@" >"$state/logs/$name.log" 2>&1 </dev/null &
    echo $! >"$state/pids/$name"
    disown $!  # Stopped by pid, not as a job of this shell.
}

# Runs scripts/cluster/probe.py inside the namespace.
probe() {
    ip netns exec "$ns" env "${node_env[@]}" "$venv/bin/python" "$here/cluster/probe.py" "$@"
}

# For each recorded process that has exited: its name and the end of its log.
exit_report() {
    local f
    for f in "$state"/pids/*; do
        [ -z "$(running "$(cat "$f")")" ] || continue
        printf '\n%s exited; the end of %s:\n' "$(basename "$f")" "$state/logs/$(basename "$f").log"
        tail -n 5 "$state/logs/$(basename "$f").log" | sed 's/^/    /'
    done
}

# Fails `up`: stops what it started, keeps the logs.
up_failed() {
    echo "error: $*" >&2
    echo "error: the logs are in $state/logs; the cluster was stopped ($0 down removes the logs)" >&2
    stop_all
    exit 1
}

cmd_up() {
    local workers=3
    while [ $# -gt 0 ]; do
        case "$1" in
        --workers)
            workers="${2:-}"
            shift 2 || die "--workers needs a number"
            ;;
        --workers=*)
            workers="${1#--workers=}"
            shift
            ;;
        *) die "unknown option '$1' for up: give [--workers N]" ;;
        esac
    done
    [[ "$workers" =~ ^[1-8]$ ]] || die "--workers must be 1 to 8, not '$workers'"
    [ "$(id -u)" = 0 ] || die "cluster.sh needs root for its network namespace (ip netns add): run it with sudo"
    command -v ip >/dev/null || die "the ip command is missing: install iproute2 (Debian: apt-get install iproute2)"
    if [ -f "$state/netns" ]; then
        die "a cluster is already up in $state (network namespace $(cat "$state/netns")): stop it with: SANDMILL_CLUSTER_DIR=$state $0 down"
    fi
    # Ray puts unix sockets under each node's temp dir (r/h, r/1, ... here); a socket's path
    # may have at most 107 bytes, and Ray adds up to 69 (r/1/session_DATE_TIME_PID/sockets/...).
    state=$(realpath -m "$state")
    [ ${#state} -le 38 ] ||
        die "the state directory $state is too long for Ray's unix socket paths (at most 38 characters): set SANDMILL_CLUSTER_DIR to a shorter path"

    local t0=$SECONDS
    venv=$("$here/setup-cluster.sh" | tail -n 1)
    mkdir -p "$state"
    rm -rf "${state:?}"/{pids,logs,weed,r,env,s3.json}
    mkdir -p "$state"/{pids,logs,weed,r}

    ns="sandmill-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
    ip netns add "$ns" || die "could not create network namespace $ns (ip netns add)"
    echo "$ns" >"$state/netns"
    ip -n "$ns" link set lo up || up_failed "could not bring up loopback in $ns"
    trap 'up_failed "interrupted"' INT TERM
    trap 'up_failed "cluster.sh up failed at line $LINENO"' ERR

    local key secret
    key="SM$(od -An -N9 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)"
    secret="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
    (umask 077 && printf '{"identities": [{"name": "sandmill", "credentials": [{"accessKey": "%s", "secretKey": "%s"}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}\n' \
        "$key" "$secret" >"$state/s3.json")

    node_env=(AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" AWS_REGION=us-east-1
        AWS_ALLOW_HTTP=true PATH="$venv/bin:$PATH" RAY_USAGE_STATS_ENABLED=0)
    [ -z "${SANDMILL_BIN:-}" ] || node_env+=(SANDMILL_BIN="$SANDMILL_BIN")
    [ -z "${PYTHONPATH:-}" ] || node_env+=(PYTHONPATH="$PYTHONPATH")

    # Ports: 10 for SeaweedFS, the GCS's, and a dashboard agent's per node. They come from the
    # kernel's ephemeral range, clear of Ray's worker ports (10002-19999).
    local ports
    read -r -a ports < <(probe ports $((12 + workers)))
    local s3=${ports[3]} gcs=${ports[10]}
    local endpoint="http://127.0.0.1:$s3" address="127.0.0.1:$gcs"
    node_env+=(AWS_ENDPOINT_URL="$endpoint")

    say "starting SeaweedFS (S3 at $endpoint) and Ray (head at $address, worker nodes: $workers) in network namespace $ns"
    spawn weed "$venv/bin/weed" mini -dir="$state/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -master.port="${ports[0]}" -master.port.grpc="${ports[4]}" \
        -volume.port="${ports[1]}" -volume.port.grpc="${ports[5]}" \
        -filer.port="${ports[2]}" -filer.port.grpc="${ports[6]}" -filer.localSocket="$state/weed/filer.sock" \
        -s3.port="$s3" -s3.port.grpc="${ports[7]}" -s3.localSocket="$state/weed/s3.sock" \
        -admin.port="${ports[8]}" -admin.port.grpc="${ports[9]}" -admin.ui=false \
        -s3.config="$state/s3.json" -bucket="$bucket" -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 \
        -master.telemetry=false

    local ray_common=(--block --node-ip-address 127.0.0.1 --disable-usage-stats --object-store-memory 100000000)
    spawn head "$venv/bin/ray" start --head --port "$gcs" --num-cpus 0 --include-dashboard=false \
        --node-name head --temp-dir "$state/r/h" --dashboard-agent-listen-port "${ports[11]}" "${ray_common[@]}"
    local k names=head
    for k in $(seq "$workers"); do
        spawn "node-$k" "$venv/bin/ray" start --address "$address" --num-cpus 1 --node-name "node-$k" \
            --resources "{\"node-$k\": 1}" --temp-dir "$state/r/$k" \
            --dashboard-agent-listen-port "${ports[$((11 + k))]}" "${ray_common[@]}"
        names+=",node-$k"
    done

    local processes=() f
    for f in "$state"/pids/*; do processes+=("$(basename "$f")=$(cat "$f")"); done
    probe ray "$address" "$names" 90 "${processes[@]}" ||
        up_failed "the Ray nodes did not all come up$(exit_report) (the nodes' own logs are under $state/r/*/session_latest/logs)"
    probe s3 "$endpoint" "$bucket" 60 "${processes[@]}" || up_failed "SeaweedFS did not answer$(exit_report)"
    trap - INT TERM ERR

    {
        echo "export AWS_ENDPOINT_URL=$endpoint"
        echo "export AWS_ACCESS_KEY_ID=$key"
        echo "export AWS_SECRET_ACCESS_KEY=$secret"
        echo "export AWS_REGION=us-east-1"
        echo "export AWS_ALLOW_HTTP=true"
        echo "export RAY_ADDRESS=$address"
        echo "export NETNS=$ns"
        echo "export SANDMILL_PYTHON=$venv/bin/python"
        echo "export SANDMILL_CLUSTER_DIR=$state"
    } >"$state/env"
    say "up in $((SECONDS - t0)) s: bucket s3://$bucket, logs in $state/logs; stop it with: SANDMILL_CLUSTER_DIR=$state $0 down"
    cat "$state/env"
}

# Fails unless a cluster is up in $state; sets ns.
need_cluster() {
    [ -f "$state/netns" ] || die "no cluster is up in $state: start one with $0 up (or set SANDMILL_CLUSTER_DIR)"
    ns=$(cat "$state/netns")
}

cmd_kill_worker() {
    local n="${1:-}"
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "kill-worker needs the worker's number (1-based), not '$n'"
    need_cluster
    [ -f "$state/pids/node-$n" ] || die "there is no worker node $n in $state (workers: $(cd "$state/pids" && echo node-*))"
    local pids p
    mapfile -t pids < <(group_pids "$(cat "$state/pids/node-$n")" "$ns")
    if [ ${#pids[@]} -eq 0 ]; then
        say "worker node node-$n had no processes left (pid $(cat "$state/pids/node-$n"))"
        return 0
    fi
    say "killing worker node node-$n (SIGKILL):"
    for p in "${pids[@]}"; do
        echo "  $p $(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null | cut -c1-120)" >&2
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
}

cmd_status() {
    need_cluster
    eval "$(cat "$state/env")"
    venv=$(dirname "$(dirname "$SANDMILL_PYTHON")")
    node_env=()
    echo "cluster in $state, network namespace $ns, S3 at $AWS_ENDPOINT_URL, Ray at $RAY_ADDRESS"
    echo "nodes as Ray sees them:"
    probe status "$RAY_ADDRESS" 2>&1 || true
    echo "processes (session leader pid: state, pids in its session):"
    local f name pids
    for f in "$state"/pids/*; do
        name=$(basename "$f")
        pids=$(group_pids "$(cat "$f")" "$ns" | sort -n | tr '\n' ' ')
        if [ -n "$pids" ]; then
            echo "  $name $(cat "$f"): running, $pids"
        else
            echo "  $name $(cat "$f"): gone"
        fi
    done
}

cmd_down() {
    if [ ! -d "$state" ]; then
        say "nothing to stop: $state does not exist"
        return 0
    fi
    [ -f "$state/netns" ] && say "stopping the cluster in $state (network namespace $(cat "$state/netns"))"
    stop_all
    rm -rf "$state"
    say "down: $state removed"
}

case "${1:-}" in
up) shift && cmd_up "$@" ;;
env) need_cluster && cat "$state/env" ;;
kill-worker) shift && cmd_kill_worker "$@" ;;
status) cmd_status ;;
down) cmd_down ;;
*) die "usage: $0 up [--workers N] | env | kill-worker N | status | down" ;;
esac
