#!/usr/bin/env bash
# Builds Fluent Bit from the source the npm package `fluent-bit` ships (a devDependency; its
# package/src/fluent-bit is the full upstream tree) and caches the binary under a path keyed by
# that version and this script, so a second run on one machine costs nothing.
# Prints the binary's path on stdout; everything else goes to stderr.
#
# Debian does not package Fluent Bit, and the npm package leaves lib/onigmo (the regex engine)
# empty: we point the build at Debian's libonig (Oniguruma, the library Onigmo forked from; the
# calls Fluent Bit makes are the same) by replacing cmake/onigmo.cmake in a scratch copy of the tree.
# Build deps (Debian): cmake make gcc g++ flex bison pkg-config libyaml-dev libssl-dev libonig-dev.
set -euo pipefail
cd "$(dirname "$0")/.."

src="node_modules/fluent-bit/src/fluent-bit"
if [ ! -f "$src/CMakeLists.txt" ]; then
  echo "fluent-bit: $src is missing (npm ci installs the devDependency fluent-bit)" >&2
  exit 1
fi
part() { sed -n "s/^set(FLB_VERSION_$1 *\([0-9]*\))$/\1/p" "$src/CMakeLists.txt"; }
version="$(part MAJOR).$(part MINOR).$(part PATCH)"
key="fluent-bit-${version}-$(sha256sum "$0" | cut -c1-12)"
cache="${SEB_CI_CACHE:-/var/cache/seb-ci}/$key"
bin="$cache/fluent-bit"

if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi

mkdir -p "$cache"
work="$(mktemp -d "$cache/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp -a "$src" "$work/src"

# Debian's Oniguruma in place of the bundled Onigmo: an imported target of the same name the
# tree links against, and an onigmo.h that includes oniguruma.h.
cat > "$work/src/cmake/onigmo.cmake" <<'CMAKE'
find_library(ONIG_LIBRARY NAMES onig REQUIRED)
find_path(ONIG_INCLUDE_DIR NAMES oniguruma.h REQUIRED)
add_library(libonigmo UNKNOWN IMPORTED GLOBAL)
set_target_properties(libonigmo PROPERTIES IMPORTED_LOCATION "${ONIG_LIBRARY}")
file(WRITE "${CMAKE_CURRENT_BINARY_DIR}/onigmo-shim/onigmo.h" "#include <oniguruma.h>\n")
include_directories("${CMAKE_CURRENT_BINARY_DIR}/onigmo-shim" "${ONIG_INCLUDE_DIR}")
CMAKE

mkdir "$work/build"
(
  cd "$work/build"
  # -fcommon: 1.8 defines some globals in headers, which GCC 10+ rejects by default.
  cmake -DFLB_LUAJIT=Off -DFLB_BACKTRACE=Off -DFLB_EXAMPLES=Off -DFLB_SHARED_LIB=Off \
    -DFLB_IN_SYSTEMD=Off -DFLB_TESTS_RUNTIME=Off -DFLB_TESTS_INTERNAL=Off \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="-fcommon -Wno-error" ../src >&2
  make -j"${SEB_CI_JOBS:-2}" fluent-bit-bin >&2
)
install -m 0755 "$work/build/bin/fluent-bit" "$bin.tmp"
mv "$bin.tmp" "$bin"
"$bin" --version >&2
echo "$bin"
