#!/usr/bin/env bash
# The action's first step: the cache key of this version of chokepoint (the crate's version and
# a hash of its sources and lock file), so that a build is reused until the code changes.
set -euo pipefail
root=${GITHUB_ACTION_PATH:?}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -1)
hash=$(cd "$root" && cat Cargo.lock $(find src -type f | sort) | sha256sum | cut -c1-16)
echo "key=$version-$hash" >>"${GITHUB_OUTPUT:-/dev/stdout}"
