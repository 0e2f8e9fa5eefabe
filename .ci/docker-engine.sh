#!/usr/bin/env bash
# Starts a Docker engine for CI's image builds and smoke tests, unless one already answers on its
# socket, and prints the DOCKER_HOST to use. Its data root lives under the CI cache, so image
# layers (base images, npm ci) survive between runs on one machine.
#
# These machines have Debian's docker.io engine but no systemd, no bridge and no registry: the
# engine runs without a bridge or iptables rules of its own (containers use --network=host to
# reach loopback peers, or --network=none), so it leaves the host's netfilter as it was.
set -euo pipefail

cache="${SEB_CI_CACHE:-/var/cache/seb-ci}"
run="${SEB_CI_RUN:-/run/seb-ci}"
sock="$run/docker.sock"
host="unix://$sock"

if ! command -v dockerd >/dev/null 2>&1; then
  as_root=(); [ "$(id -u)" -ne 0 ] && as_root=(sudo)
  "${as_root[@]}" apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q --no-install-recommends docker.io >&2
fi
# Debian's client matches its 20.10 engine; a newer client elsewhere on PATH may not.
docker=/usr/bin/docker; [ -x "$docker" ] || docker=docker

if DOCKER_HOST="$host" "$docker" version >/dev/null 2>&1; then
  echo "$host"
  exit 0
fi

mkdir -p "$cache/docker" "$run/exec"
nohup dockerd --data-root "$cache/docker" --exec-root "$run/exec" --pidfile "$run/dockerd.pid" \
  --bridge=none --iptables=false --ip-masq=false -H "$host" >"$run/dockerd.log" 2>&1 &
for _ in $(seq 1 120); do
  if DOCKER_HOST="$host" "$docker" version >/dev/null 2>&1; then
    echo "$host"
    exit 0
  fi
  sleep 0.5
done
echo "docker-engine: dockerd did not answer on $sock within 60 s; its log:" >&2
tail -20 "$run/dockerd.log" >&2
exit 1
