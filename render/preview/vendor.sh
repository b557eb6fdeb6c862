#!/usr/bin/env bash
# Vendor three.js (and the Draco decoder it ships) into render/preview/static/lib/ from the npm
# registry: exactly the files the preview page loads, with their licences and a VERSION record.
#
#   render/preview/vendor.sh [VERSION]     # default: the version pinned below
#
# Then run the preview tests (tests/render/test_preview*.py) and commit static/lib/.
set -euo pipefail
VERSION="${1:-0.187.0}"
here="$(cd "$(dirname "$0")" && pwd)"
lib="$here/static/lib"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
command -v npm >/dev/null || { echo "error: npm not found: vendor.sh needs npm (Debian: apt-get install npm)" >&2; exit 1; }
(cd "$tmp" && npm pack --silent "three@$VERSION" >/dev/null && tar xzf "three-$VERSION.tgz")
pkg="$tmp/package"
integrity="$(cd "$tmp" && npm view "three@$VERSION" dist.integrity)"
rm -rf "$lib"
mkdir -p "$lib/three/addons/controls" "$lib/three/addons/loaders" "$lib/three/addons/utils" "$lib/draco"
cp "$pkg/build/three.core.js" "$pkg/build/three.module.js" "$pkg/LICENSE" "$lib/three/"
cp "$pkg/examples/jsm/controls/OrbitControls.js" "$lib/three/addons/controls/"
cp "$pkg/examples/jsm/loaders/GLTFLoader.js" "$pkg/examples/jsm/loaders/DRACOLoader.js" "$lib/three/addons/loaders/"
cp "$pkg/examples/jsm/utils/BufferGeometryUtils.js" "$pkg/examples/jsm/utils/SkeletonUtils.js" "$lib/three/addons/utils/"
# the glTF build of Google's Draco decoder (WebAssembly + its wrapper), Apache-2.0
cp "$pkg/examples/jsm/libs/draco/gltf/draco_decoder.wasm" "$pkg/examples/jsm/libs/draco/gltf/draco_wasm_wrapper.js" "$lib/draco/"
cp "$pkg/examples/jsm/libs/draco/README.md" "$lib/draco/README.md"
if [ -f /usr/share/common-licenses/Apache-2.0 ]; then
  cp /usr/share/common-licenses/Apache-2.0 "$lib/draco/LICENSE"
fi
cat > "$lib/VERSION" <<REC
three $VERSION (npm: three@$VERSION, $integrity), MIT licence: three/LICENSE
  three/three.core.js three/three.module.js          <- build/
  three/addons/{controls,loaders,utils}/*.js         <- examples/jsm/
draco/draco_decoder.wasm draco/draco_wasm_wrapper.js <- examples/jsm/libs/draco/gltf/ (Google Draco, Apache-2.0: draco/LICENSE)
update: render/preview/vendor.sh VERSION
REC
du -sh "$lib"
