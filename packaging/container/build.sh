#!/usr/bin/env bash
# Builds the monitor-agent container image from packaging/container/Containerfile (docs/packaging.md, "Container
# image"): stages the build context from the published Native AOT agent and this machine's Debian libraries, then runs
# buildah bud (no registry: the base is scratch).
#
# Usage: packaging/container/build.sh [--agent-dir DIR] [--tag NAME] [--stage-only DIR] [--oci-archive FILE]
#
#   --agent-dir DIR     a directory `dotnet publish src/Monitor.Agent -c Release -r linux-x64 -p:PublishAot=true`
#                       wrote; without it this script publishes one (minutes).
#   --tag NAME          the image's name (default monitor-agent:<Version of Directory.Build.props>).
#   --stage-only DIR    write the build context (Containerfile, rootfs/, state/) into DIR and stop: for a host without
#                       buildah, or to inspect what goes in.
#   --oci-archive FILE  also write the image to FILE as an OCI archive (podman load / skopeo copy take it).
#
# buildah runs with --isolation chroot (the Containerfile has no RUN step, so nothing executes inside); its global
# storage options come from BUILDAH_STORAGE (e.g. BUILDAH_STORAGE="--root DIR --runroot DIR --storage-driver vfs";
# packaging/container/test.sh uses a private store so it leaves nothing in /var/lib/containers).
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
agent_dir="" tag="" stage_only="" oci_archive=""
while (($#)); do
  case "$1" in
    --agent-dir) agent_dir="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --stage-only) stage_only="$2"; shift 2 ;;
    --oci-archive) oci_archive="$2"; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "container/build.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
version="$(sed -n 's|.*<Version>\(.*\)</Version>.*|\1|p' "$repo/Directory.Build.props" | sed -n 1p)"
revision="$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)"
tag="${tag:-monitor-agent:$version}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [[ -z $agent_dir ]]; then
  echo "container/build.sh: dotnet publish src/Monitor.Agent -p:PublishAot=true" >&2
  DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 dotnet publish "$repo/src/Monitor.Agent" -c Release -r linux-x64 \
    -p:PublishAot=true -nologo -v q -o "$work/publish" >&2
  agent_dir="$work/publish"
fi
binary="$agent_dir/monitor-agent"
[[ -x $binary ]] || { echo "container/build.sh: $binary is missing or not executable" >&2; exit 1; }

ctx="${stage_only:-$work/context}"
mkdir -p "$ctx"
rootfs="$ctx/rootfs"
rm -rf "$rootfs" "$ctx/state"
install -d -m 0755 "$rootfs" "$ctx/state"
install -D -m 0755 "$binary" "$rootfs/usr/bin/monitor-agent"

# The libraries: what the dynamic loader resolves for the binary (libc, libm, the loader itself), plus libssl and
# libcrypto, which the .NET runtime loads with dlopen for TLS (--web.config.file, https Elasticsearch URLs), with what
# they need in turn. Debian is merged-/usr, so the files go under /usr and /lib, /lib64 are links, as on the host.
libs=()
add_libs() {
  local path
  while read -r path; do
    [[ -n $path ]] && libs+=("$(realpath "$path")|$path")
  done < <(ldd "$1" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p')
}
add_libs "$binary"
multiarch="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)"
for soname in libssl.so.3 libcrypto.so.3; do
  path="/usr/lib/$multiarch/$soname"
  [[ -e $path ]] || { echo "container/build.sh: $path is missing (apt-get install libssl3)" >&2; exit 1; }
  libs+=("$(realpath "$path")|$path")
  add_libs "$path"
done
declare -A seen=() packages=()
for entry in "${libs[@]}"; do
  real="${entry%%|*}" link="${entry#*|}"
  [[ -n ${seen[$link]:-} ]] && continue
  seen[$link]=1
  # /lib/x86_64-linux-gnu/libc.so.6 and /lib64/ld-linux-x86-64.so.2 land under /usr, like the real files.
  dest="/usr${link#/usr}"
  install -D -m 0644 "$real" "$rootfs$dest"
  [[ ${real##*/} == ld-linux* ]] && chmod 0755 "$rootfs$dest"
  # dpkg knows a file by the path its package ships (/lib/... or /usr/lib/...), not by the one a link resolves to.
  package=""
  for path in "$real" "$link" "/usr$link" "${real#/usr}"; do
    package="$(dpkg -S "$path" 2>/dev/null | sed -n 1p | cut -d: -f1)" || true
    [[ -n $package ]] && break
  done
  [[ -n $package ]] || { echo "container/build.sh: no Debian package holds $real" >&2; exit 1; }
  packages[$package]=1
done
ln -s usr/lib "$rootfs/lib"
ln -s usr/lib64 "$rootfs/lib64"

# CA certificates for https Elasticsearch URLs without --log.elasticsearch.ca-file.
if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  packages[ca-certificates]=1
fi

# Where the libraries and certificates come from, and their licenses (glibc is LGPL, OpenSSL Apache-2.0): the Debian
# copyright files, and one line per package with its exact version for security tracking.
install -d -m 0755 "$rootfs/usr/share/doc/monitor-agent"
install -m 0644 "$repo/packaging/deb/copyright" "$rootfs/usr/share/doc/monitor-agent/copyright"
for package in "${!packages[@]}"; do
  install -D -m 0644 "/usr/share/doc/$package/copyright" "$rootfs/usr/share/doc/$package/copyright"
  dpkg-query -W -f '${binary:Package} ${Version}\n' "$package"
done | LC_ALL=C sort >"$rootfs/usr/share/doc/monitor-agent/image-packages.txt"
chmod 0644 "$rootfs/usr/share/doc/monitor-agent/image-packages.txt"

# Names for the ids (the runtime's getpwuid, log lines), and NSS from files only: glibc 2.34+ has the files and dns
# modules built in, so no libnss_*.so is needed.
install -d -m 0755 "$rootfs/etc"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group" "$rootfs/etc/nsswitch.conf"
# Mount points, so that a read-only root file system still takes the DaemonSet's volumes and a runtime's /proc,
# /sys, /dev; /tmp for a runtime that does not mount one.
for d in proc sys dev host/proc host/sys host/root var/lib/kubelet/pod-resources; do
  install -d -m 0755 "$rootfs/$d"
done
install -d -m 1777 "$rootfs/tmp"
# The runtime settings of packaging/systemd/runtime.env (KEY=value lines) become ENV lines in place of @RUNTIME_ENV@.
env_lines="$(sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=\(.*\)$/ENV \1=\2/p' "$repo/packaging/systemd/runtime.env")"
[[ -n $env_lines ]] || { echo "container/build.sh: no settings in packaging/systemd/runtime.env" >&2; exit 1; }
grep -qx '# @RUNTIME_ENV@' "$repo/packaging/container/Containerfile" ||
  { echo "container/build.sh: the Containerfile has no '# @RUNTIME_ENV@' line" >&2; exit 1; }
awk -v env="$env_lines" '$0 == "# @RUNTIME_ENV@" { print env; next } { print }' \
  "$repo/packaging/container/Containerfile" >"$ctx/Containerfile"

# Same inputs, same layer: every file at the HEAD commit's time.
epoch="${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}"
find "$ctx" -print0 | xargs -0 touch -h -d "@$epoch"

echo "container/build.sh: staged $(du -sh --apparent-size "$rootfs" | cut -f1) in $rootfs ($(find "$rootfs" -type f | wc -l) files)" >&2
if [[ -n $stage_only ]]; then
  exit 0
fi

command -v buildah >/dev/null 2>&1 || { echo "container/build.sh: buildah is missing (apt-get install buildah), or use --stage-only" >&2; exit 1; }
# shellcheck disable=SC2086 # BUILDAH_STORAGE holds separate global options
buildah ${BUILDAH_STORAGE:-} bud --isolation chroot --timestamp "$epoch" --build-arg VERSION="$version" \
  --build-arg REVISION="$revision" -f "$ctx/Containerfile" -t "$tag" "$ctx" >&2
if [[ -n $oci_archive ]]; then
  # shellcheck disable=SC2086
  buildah ${BUILDAH_STORAGE:-} push "$tag" "oci-archive:$oci_archive:$tag" >&2
fi
echo "container/build.sh: built $tag"
