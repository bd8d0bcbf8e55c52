#!/usr/bin/env bash
# redis-py 5.x, 6.x and 7.x beside the venv's own (8.x, from pyproject.toml), each in a
# directory of its own (.venv/redis-py/5, ...) that a test puts first on PYTHONPATH:
# tests/integration/test_redis_py_versions.py runs every major version users still have
# against the RESP endpoint. The venv's packages are not touched.
#
# Idempotent: a version whose directory already holds a matching redis-py is skipped, so
# a second run needs no network. Without an index to install from it says so and exits
# 0; the test skips the missing versions with that reason.
set -euo pipefail

venv="${VENV:-.venv}"
root="$venv/redis-py"
failed=()
for major in 5 6 7; do
    target="$root/$major"
    if compgen -G "$target/redis-$major.*.dist-info" >/dev/null; then
        continue
    fi
    rm -rf "$target"
    echo "redis-py-versions: installing redis>=$major,<$((major + 1)) into $target" >&2
    if ! "$venv/bin/pip" install -q --disable-pip-version-check --target "$target" \
            "redis>=$major,<$((major + 1))" >&2; then
        rm -rf "$target"
        failed+=("$major")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "redis-py-versions: could not install redis-py ${failed[*]} (no package index?);" \
         "tests/integration/test_redis_py_versions.py skips them" >&2
fi
exit 0
