#!/usr/bin/env bash
# Builds .webgpu-node/bin/node: this machine's Node.js, run by Debian 13's C and C++ runtimes, so
# that Dawn (the `webgpu` package gpu.js uses for its webgpu mode) loads on Debian 12, whose runtimes
# are too old for it (Dawn needs GLIBC_2.38 and GLIBCXX_3.4.32). With a Vulkan driver — the GPU's, or
# Mesa's software one, lavapipe (`mesa-vulkan-drivers`) — gpu.js's webgpu kernels then run here.
#
#   bash scripts/webgpu-node.sh            # needs curl, dpkg-deb and patchelf (Debian packages)
#   PATH="$PWD/.webgpu-node/bin:$PATH" FLOWGRAD_GPU_MODE=webgpu npm test
#
# Nothing is installed system-wide: the runtimes are unpacked into .webgpu-node/lib and a copy of
# node is pointed at them (patchelf), so child processes (vitest's workers) use them too.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.webgpu-node"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite=trixie
for tool in curl dpkg-deb patchelf sha256sum; do
  command -v "$tool" >/dev/null || { echo "webgpu-node: $tool is missing (apt-get install curl dpkg patchelf coreutils)" >&2; exit 1; }
done
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

echo "webgpu-node: the $suite package index"
curl -fsS "$mirror/dists/$suite/main/binary-amd64/Packages.gz" | gzip -dc > "$stage/Packages"
for pkg in libc6 libstdc++6 libgcc-s1; do
  # Filename and SHA256 of the package's stanza in the index.
  read -r file sum < <(awk -v P="$pkg" '$0 == "Package: " P {p = 1} p && /^Filename:/ {f = $2} p && /^SHA256:/ {s = $2} p && /^$/ {print f, s; exit}' "$stage/Packages")
  [ -n "${file:-}" ] || { echo "webgpu-node: $pkg is not in the $suite index" >&2; exit 1; }
  echo "webgpu-node: $file"
  curl -fsS -o "$stage/$pkg.deb" "$mirror/$file"
  echo "$sum  $stage/$pkg.deb" | sha256sum -c --quiet
  dpkg-deb -x "$stage/$pkg.deb" "$stage/root"
done

# Written beside the final place and moved in whole: never a half-built .webgpu-node.
next="$out.partial"
rm -rf "$next" && mkdir -p "$next/bin" "$next/lib"
libs="$stage/root/usr/lib/x86_64-linux-gnu"
cp -a "$libs"/ld-linux-x86-64.so.2 "$libs"/lib{c,m,dl,pthread,rt,gcc_s,stdc++}.so* "$next/lib/"
cp "$(readlink -f "$(command -v node)")" "$next/bin/node"
patchelf --set-interpreter "$out/lib/ld-linux-x86-64.so.2" --set-rpath "$out/lib" "$next/bin/node"
rm -rf "$out" && mv "$next" "$out"
"$out/bin/node" -e 'process.stdout.write(`webgpu-node: ${process.execPath} runs Node.js ${process.version}\n`)'
