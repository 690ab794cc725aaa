#!/usr/bin/env bash
# The action's install step: builds chokepoint from the action's own sources into
# $CHOKEPOINT_ROOT, unless the cache restored it there; installs Rust when the runner lacks it.
set -euo pipefail
root=${GITHUB_ACTION_PATH:?}
install_root=${CHOKEPOINT_ROOT:?}
if [ -x "$install_root/bin/chokepoint" ]; then
  echo "chokepoint: cached at $install_root"
else
  if ! command -v cargo >/dev/null; then
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  cargo install --locked --path "$root" --root "$install_root"
fi
echo "$install_root/bin" >>"${GITHUB_PATH:-/dev/null}"
"$install_root/bin/chokepoint" --version
