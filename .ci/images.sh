#!/usr/bin/env bash
# Builds the broker image (sidecar/Dockerfile) and the init image (sidecar/init/Dockerfile) with
# the tags the manifests use. Layers live in the CI engine's data root (.ci/docker-engine.sh), so
# an unchanged tree rebuilds from cache. Needs DOCKER_HOST and the base images (.ci/base-images.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
docker=/usr/bin/docker; [ -x "$docker" ] || docker=docker
version="$(node -p 'require("./package.json").version')"
# The classic builder: BuildKit needs a bridge network these machines do not give the engine.
# --network=host: the build stage's `npm ci` reaches the registry through the host's network.
export DOCKER_BUILDKIT=0
"$docker" build --network=host -f sidecar/Dockerfile -t "ghcr.io/seb-broker/seb:$version" . >&2
"$docker" build --network=host -f sidecar/init/Dockerfile -t "ghcr.io/seb-broker/seb-init:$version" . >&2
echo "images: ghcr.io/seb-broker/seb:$version ghcr.io/seb-broker/seb-init:$version" >&2
