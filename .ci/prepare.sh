#!/usr/bin/env bash
# Prepares the real artefacts the tests run against, and prints `export` lines for them:
# Fluent Bit built from source, a Docker engine, the local base images and both images built.
# Everything slow is cached under $SEB_CI_CACHE (default /var/cache/seb-ci), keyed by version.
# Usage: eval "$(.ci/prepare.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
trap 'echo "prepare: failed after $(( $(date +%s) - start )) s at line $LINENO: $BASH_COMMAND" >&2' ERR

missing=()
for tool in cmake make gcc g++ flex bison pkg-config mmdebstrap dockerd; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  as_root=(); [ "$(id -u)" -ne 0 ] && as_root=(sudo)
  "${as_root[@]}" apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q --no-install-recommends \
    cmake make gcc g++ flex bison pkg-config libyaml-dev libssl-dev libonig-dev mmdebstrap docker.io >&2
fi

step() { echo "prepare: $1 ($(( $(date +%s) - start )) s)" >&2; }
step "Fluent Bit"; fluent_bit="$(.ci/fluent-bit.sh)"
step "Docker engine"; docker_host="$(.ci/docker-engine.sh)"
step "base images"; DOCKER_HOST="$docker_host" .ci/base-images.sh
step "broker and init images"; DOCKER_HOST="$docker_host" .ci/images.sh

echo "prepare: artefacts ready in $(( $(date +%s) - start )) s" >&2
echo "export SEB_FLUENT_BIT='$fluent_bit'"
echo "export SEB_DOCKER_HOST='$docker_host'"
