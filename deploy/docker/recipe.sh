#!/bin/sh
# Usage: sh deploy/docker/recipe.sh OUT_DIR   (run from the repository root)
#
# Writes a copy of the Cargo workspace to OUT_DIR with every manifest, Cargo.lock and .cargo/,
# and with each crate root (lib, bins, tests, benches, examples, build scripts and any explicit
# `path = "….rs"` target) replaced by a stub. An image layer built from this copy compiles only
# the dependencies; since the copy changes only when a manifest or the lockfile does, that layer
# stays cached while the sources change.
set -eu

out=${1:?usage: recipe.sh OUT_DIR}
mkdir -p "$out"
cp Cargo.lock "$out/"
if [ -d .cargo ]; then cp -R .cargo "$out/"; fi

find . -name Cargo.toml -not -path './target/*' -not -path '*/node_modules/*' | sort |
while read -r manifest; do
  dir=$(dirname "$manifest")
  mkdir -p "$out/$dir"
  cp "$manifest" "$out/$manifest"
  roots=$(
    cd "$dir" && {
      for f in src/lib.rs src/main.rs build.rs src/bin/*.rs src/bin/*/main.rs \
               tests/*.rs benches/*.rs examples/*.rs; do
        if [ -f "$f" ]; then echo "$f"; fi
      done
      sed -n 's/^[[:space:]]*path[[:space:]]*=[[:space:]]*"\([^"]*\.rs\)".*/\1/p' Cargo.toml
    } | sort -u
  )
  for root in $roots; do
    mkdir -p "$out/$dir/$(dirname "$root")"
    case "$root" in
      src/lib.rs) : > "$out/$dir/$root" ;;
      *) echo 'fn main() {}' > "$out/$dir/$root" ;;
    esac
  done
done
