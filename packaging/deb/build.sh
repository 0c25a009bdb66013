#!/usr/bin/env bash
# Builds the Debian packages from published binaries with dpkg-deb (docs/packaging.md):
#
#   monitor-agent_<version>_amd64.deb       the Native AOT agent, its unit, user, Slurm scripts, alert rules, dashboards
#   monitor-aggregator_<version>_amd64.deb  the aggregator (self-contained single file), its unit and user
#   monitor-cli_<version>_amd64.deb         the monitor command (self-contained single file)
#
# Usage: packaging/deb/build.sh [--agent-dir DIR] [--aggregator-dir DIR] [--cli-dir DIR] [--out DIR]
#                               [--version VERSION] [PACKAGE...]
#
# PACKAGE is agent, aggregator or cli (default: all three). A --*-dir is a directory that `dotnet publish` already
# wrote (CI publishes once, see packaging/deb/test.sh); without it this script publishes into a temporary directory:
#   agent:      dotnet publish src/Monitor.Agent -c Release -r linux-x64 -p:PublishAot=true
#   aggregator: dotnet publish src/Monitor.Aggregator -c Release -r linux-x64 --self-contained -p:PublishSingleFile=true
#   cli:        dotnet publish src/Monitor.Cli -c Release -r linux-x64 --self-contained -p:PublishSingleFile=true
# The version is <Version> in Directory.Build.props unless --version gives one (e.g. 0.1.0~git20261204.f42ba13 for a
# snapshot, which sorts before the 0.1.0 release). The .debs go to --out (default artifacts/deb). File times are the
# HEAD commit's time (SOURCE_DATE_EPOCH), so the same inputs give the same .deb byte for byte.
# Needs dpkg-deb and dpkg-shlibdeps (dpkg-dev), gzip, strip (binutils) and, without --*-dir, the .NET SDK.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
here="$repo/packaging/deb"
agent_dir="" aggregator_dir="" cli_dir="" out="$repo/artifacts/deb" version=""
packages=()
while (($#)); do
  case "$1" in
    --agent-dir) agent_dir="$2"; shift 2 ;;
    --aggregator-dir) aggregator_dir="$2"; shift 2 ;;
    --cli-dir) cli_dir="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    agent | aggregator | cli) packages+=("$1"); shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
((${#packages[@]})) || packages=(agent aggregator cli)

for tool in dpkg-deb dpkg-shlibdeps gzip strip; do
  command -v "$tool" >/dev/null 2>&1 || { echo "build.sh: $tool is missing (apt-get install dpkg-dev gzip binutils)" >&2; exit 1; }
done

if [[ -z $version ]]; then
  version="$(sed -n 's|.*<Version>\(.*\)</Version>.*|\1|p' "$repo/Directory.Build.props" | sed -n 1p)"
fi
# Debian policy 5.6.12: an upstream version starts with a digit; no epoch or revision here (a native package).
[[ $version =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || { echo "build.sh: version '$version' is not a Debian native version" >&2; exit 2; }

commit="$(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}"
maintainer="Monitor authors <monitor@example.org>"
homepage="https://github.com/monitor/monitor"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# publish NAME PROJECT ARGS...: publishes into $work/publish-NAME and prints the directory.
publish() {
  local name="$1" project="$2"
  shift 2
  echo "build.sh: dotnet publish $project $*" >&2
  DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 \
    dotnet publish "$repo/$project" -c Release -r linux-x64 -nologo -v q "$@" -o "$work/publish-$name" >&2
  echo "$work/publish-$name"
}

# Install helpers into the staging root $root: explicit modes, so the checkout's umask does not leak into the package.
file() { install -D -m "$1" "$2" "$root$3"; }
dir() { install -d -m 0755 "$root$1"; }

# changelog NAME: the Debian change log of a native package (one entry: this build), gzipped without a timestamp.
changelog() {
  local date
  date="$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
  dir "/usr/share/doc/$1"
  printf '%s (%s) unstable; urgency=medium\n\n  * Built from commit %s of the Monitor repository; its history is the\n    change log.\n\n -- %s  %s\n' \
    monitor "$version" "$commit" "$maintainer" "$date" | gzip -9n >"$root/usr/share/doc/$1/changelog.gz"
  chmod 0644 "$root/usr/share/doc/$1/changelog.gz"
  file 0644 "$here/copyright" "/usr/share/doc/$1/copyright"
}

# manpage SECTION NAME SOURCE: installs a man page gzipped without a timestamp.
manpage() {
  dir "/usr/share/man/man$1"
  gzip -9n <"$3" >"$root/usr/share/man/man$1/$2.$1.gz"
  chmod 0644 "$root/usr/share/man/man$1/$2.$1.gz"
}

# service_scripts NAME GECOS: the maintainer scripts of a package that runs the service NAME as the system user NAME
# (packaging/deb/service/), and its /etc/default/NAME as the conffile.
service_scripts() {
  local script
  for script in postinst prerm postrm; do
    sed -e "s/@PACKAGE@/$1/g" -e "s/@GECOS@/$2/g" "$here/service/$script" >"$root/DEBIAN/$script"
    chmod 0755 "$root/DEBIAN/$script"
  done
  echo "/etc/default/$1" >"$root/DEBIAN/conffiles"
  chmod 0644 "$root/DEBIAN/conffiles"
}

# shlibs_depends ELF...: the Depends that the ELF files' shared libraries need, as dpkg-shlibdeps computes them from
# the installed libraries' shlibs/symbols files (needs a debian/control, so it runs in a scratch source tree).
shlibs_depends() {
  local scratch="$work/shlibs" f
  local -a elfs=()
  for f in "$@"; do elfs+=("$(realpath "$f")"); done
  rm -rf "$scratch" && mkdir -p "$scratch/debian"
  printf 'Source: monitor\n\nPackage: monitor\nArchitecture: amd64\n' >"$scratch/debian/control"
  (cd "$scratch" && dpkg-shlibdeps -O "${elfs[@]}" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
}

# finish NAME DEPENDS RECOMMENDS SECTION DESCRIPTION: writes DEBIAN/control and md5sums, sets file times, builds the .deb.
finish() {
  local name="$1" depends="$2" recommends="$3" section="$4" description="$5" size deb
  find "$root" -path "$root/DEBIAN" -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
    (cd "$root" && xargs -0 -r md5sum) >"$root/DEBIAN/md5sums"
  chmod 0644 "$root/DEBIAN/md5sums"
  # Installed-Size as dpkg-gencontrol computes it: KiB per file rounded up, directories and links count 1.
  size="$(find "$root" -path "$root/DEBIAN" -prune -o -mindepth 1 \( -type f -printf '%s\n' -o -printf '1024\n' \) |
    awk '{ total += int(($1 + 1023) / 1024) } END { print total }')"
  {
    echo "Package: $name"
    echo "Source: monitor"
    echo "Version: $version"
    echo "Architecture: amd64"
    echo "Maintainer: $maintainer"
    echo "Installed-Size: $size"
    echo "Depends: $depends"
    [[ -z $recommends ]] || echo "Recommends: $recommends"
    echo "Section: $section"
    echo "Priority: optional"
    echo "Homepage: $homepage"
    echo "Description: $description"
  } >"$root/DEBIAN/control"
  chmod 0644 "$root/DEBIAN/control"
  find "$root" -newermt "@$SOURCE_DATE_EPOCH" -print0 | xargs -0 -r touch -h -d "@$SOURCE_DATE_EPOCH"
  deb="$out/${name}_${version}_amd64.deb"
  dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
  echo "build.sh: $deb ($(stat -c %s "$deb") bytes)"
}

build_agent() {
  local bin="${agent_dir:-$(publish agent src/Monitor.Agent -p:PublishAot=true)}"
  [[ -x $bin/monitor-agent ]] || { echo "build.sh: $bin/monitor-agent is missing or not executable" >&2; exit 1; }
  root="$work/monitor-agent"
  rm -rf "$root" && install -d -m 0755 "$root/DEBIAN"

  # The binary, as the unit's ExecStart names it (on PATH for operators: --help, --version).
  file 0755 "$bin/monitor-agent" /usr/bin/monitor-agent
  file 0644 "$repo/packaging/systemd/runtime.env" /usr/lib/monitor/runtime.env
  file 0644 "$repo/packaging/systemd/monitor-agent.service" /usr/lib/systemd/system/monitor-agent.service
  file 0644 "$repo/packaging/systemd/monitor-agent.default" /etc/default/monitor-agent
  file 0755 "$repo/packaging/slurm/monitor-prolog.sh" /usr/share/monitor/slurm/monitor-prolog.sh
  file 0755 "$repo/packaging/slurm/monitor-epilog.sh" /usr/share/monitor/slurm/monitor-epilog.sh
  file 0644 "$repo/packaging/slurm/README.md" /usr/share/monitor/slurm/README.md
  local f
  for f in "$repo"/alerts/*.rules.yml "$repo/alerts/alertmanager.example.yml" "$repo/alerts/monitor-email.tmpl"; do
    file 0644 "$f" "/usr/share/monitor/alerts/${f##*/}"
  done
  for f in "$repo"/dashboards/*.json "$repo/dashboards/README.md"; do
    file 0644 "$f" "/usr/share/monitor/dashboards/${f##*/}"
  done
  changelog monitor-agent
  file 0644 "$here/monitor-agent/lintian-overrides" /usr/share/lintian/overrides/monitor-agent
  manpage 1 monitor-agent "$here/monitor-agent/monitor-agent.1"

  service_scripts monitor-agent "Monitor node agent"

  # libssl3: the runtime loads it with dlopen (invisible to dpkg-shlibdeps) for TLS, i.e. --web.config.file with
  # tls_server_config and https Elasticsearch URLs; plain HTTP needs no libssl.
  finish monitor-agent "$(shlibs_depends "$root/usr/bin/monitor-agent"), adduser" libssl3 net \
    "Monitor node agent: Prometheus exporter for node, GPU and job metrics
 One light agent per node in place of node_exporter, dcgm-exporter and a Slurm
 job exporter: host metrics in node_exporter's names, NVIDIA GPU metrics
 through NVML, and per-job accounting of GPU time and energy for Slurm and
 Kubernetes jobs, on one /metrics endpoint (port 9420).
 .
 The package runs the agent as the systemd service monitor-agent under its
 own system user, and ships the Slurm prolog and epilog, Prometheus alert
 rules and Grafana dashboards under /usr/share/monitor."
}

# private_dir NAME BIN: installs a self-contained single-file publish: the executable alone in /usr/bin when it is one
# file, else the executable and its native libraries (e.g. SQLite's libe_sqlite3.so, stripped as Debian ships
# libraries) in /usr/libexec/NAME, where the .NET host looks for them (beside the real path of the executable), with
# a /usr/bin symlink.
private_dir() {
  local name="$1" bin="$2" f
  local -a natives=()
  [[ -x $bin/$name ]] || { echo "build.sh: $bin/$name is missing or not executable" >&2; exit 1; }
  for f in "$bin"/*.so; do [[ -e $f ]] && natives+=("$f"); done
  if ((${#natives[@]} == 0)); then
    file 0755 "$bin/$name" "/usr/bin/$name"
    elfs=("$root/usr/bin/$name")
    return
  fi
  file 0755 "$bin/$name" "/usr/libexec/$name/$name"
  elfs=("$root/usr/libexec/$name/$name")
  for f in "${natives[@]}"; do
    file 0644 "$f" "/usr/libexec/$name/${f##*/}"
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/libexec/$name/${f##*/}"
    elfs+=("$root/usr/libexec/$name/${f##*/}")
  done
  dir /usr/bin
  ln -s "../libexec/$name/$name" "$root/usr/bin/$name"
}

build_aggregator() {
  local bin="${aggregator_dir:-$(publish aggregator src/Monitor.Aggregator --self-contained -p:PublishSingleFile=true)}"
  local -a elfs=()
  root="$work/monitor-aggregator"
  rm -rf "$root" && install -d -m 0755 "$root/DEBIAN"
  private_dir monitor-aggregator "$bin"
  file 0644 "$repo/packaging/systemd/monitor-aggregator.service" /usr/lib/systemd/system/monitor-aggregator.service
  file 0644 "$repo/packaging/systemd/monitor-aggregator.default" /etc/default/monitor-aggregator
  changelog monitor-aggregator
  file 0644 "$here/monitor-aggregator/lintian-overrides" /usr/share/lintian/overrides/monitor-aggregator
  manpage 1 monitor-aggregator "$here/monitor-aggregator/monitor-aggregator.1"
  service_scripts monitor-aggregator "Monitor aggregator"
  finish monitor-aggregator "$(shlibs_depends "${elfs[@]}"), adduser" libssl3 net \
    "Monitor aggregator: per-job GPU accounting for a cluster
 Polls every monitor-agent's jobs feed, stores one record per job and node
 (SQLite by default, PostgreSQL for scale), and serves the job, usage and
 alert API, web pages and its own /metrics (port 9430).
 .
 The package runs it as the systemd service monitor-aggregator under its own
 system user, with its store in /var/lib/monitor-aggregator."
}

build_cli() {
  local bin="${cli_dir:-$(publish cli src/Monitor.Cli --self-contained -p:PublishSingleFile=true)}"
  local -a elfs=()
  root="$work/monitor-cli"
  rm -rf "$root" && install -d -m 0755 "$root/DEBIAN"
  private_dir monitor "$bin"
  changelog monitor-cli
  file 0644 "$here/monitor-cli/lintian-overrides" /usr/share/lintian/overrides/monitor-cli
  manpage 1 monitor "$here/monitor-cli/monitor.1"
  finish monitor-cli "$(shlibs_depends "${elfs[@]}")" libssl3 net \
    "Monitor command line: jobs, GPU usage and top from the aggregator
 The monitor command asks a monitor-aggregator for job statistics, usage by
 user and account, and a top-like view of running jobs, as text or JSON."
}

for package in "${packages[@]}"; do
  "build_$package"
done
