#!/usr/bin/env bash
# System packages the test suite needs beyond the Python venv: libfuse 3, for the LossyFS
# power-loss tests (tests/powerloss/, tests/cluster/test_power_loss.py). mfusepy loads
# libfuse3.so.3 (libfuse3-3) through ctypes; fuse3 adds fusermount3 and /etc/fuse.conf.
# rclone: a real S3 tool against the S3 REST endpoint (tests/integration/test_s3_rclone.py).
# redis-tools (redis-cli, redis-benchmark) and redis-server: real Redis clients against the
# RESP endpoint (tests/integration/test_resp_endpoint.py, tests/cluster/test_resp_cluster.py)
# and the reference server for side-by-side runs.
# nftables (nft): the chaos harness's network partitions between loopback nodes
# (engine/chaos/network.py, tests/chaos/); setpriv comes with util-linux, always installed.
#
# Idempotent: does nothing when the packages are installed. Installs them only as root
# with apt-get (CI, the dev container); elsewhere it says what is missing and exits 0,
# and the FUSE tests skip with that reason. A failed install as root is an error.
set -euo pipefail

packages=(fuse3 libfuse3-3 rclone redis-tools redis-server nftables)
missing=()
for p in "${packages[@]}"; do
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "system-packages: ${missing[*]} not installed (needs root and apt-get);" \
         "the tests that need them will be skipped" >&2
    exit 0
fi

install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}
echo "system-packages: installing ${missing[*]}" >&2
# A fresh machine has no package lists yet: update once, only when the install needs it.
install >/dev/null || { apt-get update -q >/dev/null && install >/dev/null; }
