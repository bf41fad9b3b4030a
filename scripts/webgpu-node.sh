#!/usr/bin/env bash
# Builds .webgpu-node/bin/node: this machine's Node.js, run by Debian 13's C and C++ runtimes, so
# that Dawn (the `webgpu` package gpu.js uses for its webgpu mode) loads on Debian 12, whose runtimes
# are too old for it (Dawn needs GLIBC_2.38 and GLIBCXX_3.4.32). With a Vulkan driver — the GPU's, or
# Mesa's software one, lavapipe (`mesa-vulkan-drivers`) — gpu.js's webgpu kernels then run here.
#
#   bash scripts/webgpu-node.sh            # needs apt-get, dpkg-deb and patchelf (Debian packages)
#   PATH="$PWD/.webgpu-node/bin:$PATH" FLOWGRAD_GPU_MODE=webgpu npm test
#
# Nothing is installed system-wide: the runtimes are unpacked into .webgpu-node/lib and a copy of
# node is pointed at them (patchelf), so child processes (vitest's workers) use them too. The
# packages come through apt, from the Debian archive this machine's apt is configured with (its
# mirror, proxy and keys: a local mirror or a proxy decides, as for any apt-get), with trixie as
# the suite and apt's own signature and checksum checks; DEBIAN_MIRROR overrides the archive.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.webgpu-node"
suite=trixie
for tool in apt-get dpkg-deb patchelf; do
  command -v "$tool" >/dev/null || { echo "webgpu-node: $tool is missing (apt-get install dpkg patchelf)" >&2; exit 1; }
done
stage=$(mktemp -d)
chmod 755 "$stage" # apt's download user must reach it
trap 'rm -rf "$stage"' EXIT

# The Debian archive apt already uses here (its first "debian" repository that is not a security one).
mirror="${DEBIAN_MIRROR:-$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null | awk '$2 !~ /-security$/ && $1 ~ /debian\/?$/ {print $1; exit}')}"
mirror="${mirror:-http://deb.debian.org/debian}"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
mkdir -p "$stage/lists/partial" "$stage/cache/archives/partial" "$stage/debs"
echo "deb [signed-by=$keyring] ${mirror%/} $suite main" > "$stage/sources.list"
apt_private=(-o Dir::Etc::SourceList="$stage/sources.list" -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$stage/lists" -o Dir::Cache="$stage/cache")
echo "webgpu-node: the $suite package index from ${mirror%/} (through apt)"
apt-get "${apt_private[@]}" -q update >&2
(cd "$stage/debs" && apt-get "${apt_private[@]}" -q download libc6 libstdc++6 libgcc-s1 >&2)
for deb in "$stage"/debs/*.deb; do
  echo "webgpu-node: $(basename "$deb")"
  dpkg-deb -x "$deb" "$stage/root"
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
