#!/usr/bin/env bash
# Makes the base images sidecar/Dockerfile and sidecar/init/Dockerfile name, locally: no registry
# is reachable from CI.
#   debian:bookworm-slim                    (init image)   Debian bookworm minbase
#   node:20-bookworm-slim                   (build stage)  Debian bookworm minbase + this host's Node and npm
#   gcr.io/distroless/nodejs20-debian12:nonroot (runtime)  /nodejs/bin/node, its shared libraries,
#                                           CA certificates, passwd/group with nonroot (65532)
# Each root is cached as a tarball under a path keyed by the Node version and this script, and
# imported only when the engine lacks the image of that key. Needs DOCKER_HOST (.ci/docker-engine.sh).
# Build deps (Debian): mmdebstrap, docker.io.
set -euo pipefail

cache="${SEB_CI_CACHE:-/var/cache/seb-ci}"
docker=/usr/bin/docker; [ -x "$docker" ] || docker=docker
node_bin="$(readlink -f "$(command -v node)")"
# npm is <prefix>/lib/node_modules/npm/bin/npm-cli.js; its package folder is what we copy.
npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
node_version="$("$node_bin" --version)"
node_major="${node_version#v}"; node_major="${node_major%%.*}"
key="node${node_version#v}-$(sha256sum "$0" | cut -c1-12)"
roots="$cache/base-roots/$key"
# The host's bundle: package traffic from these machines goes through an egress CA, so `npm ci`
# in the build stage trusts what the host trusts.
ca_bundle="${SEB_CI_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
mkdir -p "$roots"

if [ "$node_major" != 20 ]; then
  echo "base-images: the Dockerfile's bases are Node 20; this host has $node_version" >&2
  exit 1
fi

have_image() { "$docker" image inspect "$1" >/dev/null 2>&1; }

# --- build stage base: node:20-bookworm-slim ---
build_tar="$roots/bookworm-node.tar"
if [ ! -s "$build_tar" ]; then
  command -v mmdebstrap >/dev/null 2>&1 || {
    as_root=(); [ "$(id -u)" -ne 0 ] && as_root=(sudo)
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q --no-install-recommends mmdebstrap >&2
  }
  # Node and npm where the official image has them (/usr/local), the host's CA bundle beside
  # Debian's.
  # mmdebstrap picks the output format from the name: the partial file must end in .tar.
  mmdebstrap --variant=minbase --include=ca-certificates \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --customize-hook="mkdir -p \"\$1/usr/local/bin\" \"\$1/usr/local/lib/node_modules\"" \
    --customize-hook="copy-in $node_bin /usr/local/bin" \
    --customize-hook="copy-in $npm_dir /usr/local/lib/node_modules" \
    --customize-hook="ln -sf ../lib/node_modules/npm/bin/npm-cli.js \"\$1/usr/local/bin/npm\"" \
    --customize-hook="ln -sf ../lib/node_modules/npm/bin/npx-cli.js \"\$1/usr/local/bin/npx\"" \
    --customize-hook="upload $ca_bundle /usr/local/share/host-ca-bundle.crt" \
    bookworm "$roots/partial.tar" >&2
  mv "$roots/partial.tar" "$build_tar"
fi
if ! have_image "seb-ci/base-build:$key"; then
  "$docker" import \
    -c 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/host-ca-bundle.crt' \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["node"]' "$build_tar" "seb-ci/base-build:$key" >&2
fi
"$docker" tag "seb-ci/base-build:$key" "node:${node_major}-bookworm-slim"

# --- init image base: debian:bookworm-slim (minbase: apt and a shell, no Node) ---
debian_tar="$roots/bookworm.tar"
if [ ! -s "$debian_tar" ]; then
  mmdebstrap --variant=minbase --aptopt='Acquire::Check-Valid-Until "false"' bookworm "$roots/partial.tar" >&2
  mv "$roots/partial.tar" "$debian_tar"
fi
if ! have_image "seb-ci/base-debian:$key"; then
  "$docker" import -c 'CMD ["bash"]' "$debian_tar" "seb-ci/base-debian:$key" >&2
fi
"$docker" tag "seb-ci/base-debian:$key" debian:bookworm-slim

# --- runtime base: distroless-style nodejs20-debian12:nonroot ---
run_tar="$roots/distroless-node.tar"
if [ ! -s "$run_tar" ]; then
  root="$(mktemp -d "$roots/root.XXXXXX")"
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/nodejs/bin" "$root/etc/ssl/certs" "$root/tmp" "$root/home/nonroot"
  cp "$node_bin" "$root/nodejs/bin/node"
  # The shared libraries node loads, at the paths its loader asks for (ldd's absolute paths).
  for lib in $(ldd "$node_bin" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  cp "$ca_bundle" "$root/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$root/etc/group"
  chmod 1777 "$root/tmp"
  chown 65532:65532 "$root/home/nonroot"
  tar -C "$root" --numeric-owner -cf "$run_tar.tmp" .
  mv "$run_tar.tmp" "$run_tar"
fi
if ! have_image "seb-ci/base-runtime:$key"; then
  "$docker" import \
    -c 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    -c 'USER 65532:65532' -c 'WORKDIR /home/nonroot' \
    -c 'ENTRYPOINT ["/nodejs/bin/node"]' "$run_tar" "seb-ci/base-runtime:$key" >&2
fi
"$docker" tag "seb-ci/base-runtime:$key" "gcr.io/distroless/nodejs${node_major}-debian12:nonroot"
echo "base-images: $key" >&2
