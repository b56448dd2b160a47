#!/usr/bin/env bash
# stowage's image pipeline and sharp on the same 24-megapixel photo, in one run: images per second
# (one thread; every core) and peak resident memory, each configuration in its own process under
# /usr/bin/time -v. From the repository root: bash benches/peers/sharp/run.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
here=benches/peers/sharp
photo=target/bench-photo-24mp.jpg
out=target/bench-images
mkdir -p "$out"
[ -x /usr/bin/time ] || apt-get install -y -qq time
[ -f "$photo" ] || python3 benches/fixtures/make_photo.py "$photo"
[ -d "$here/node_modules/sharp" ] || (cd "$here" && npm install --silent --no-audit --no-fund)

peak() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1" | awk '{ printf "%.0f MiB", $1 / 1024 }'; }

# stowage: criterion (images per second), then each benchmark alone for its peak memory.
cargo bench --features images --bench images -- images_24mp | tee "$out/stowage.txt"
bench=$(cargo bench --features images --bench images --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "images" and m.get("executable"):
        print(m["executable"])')
for mode in one_thread all_cores; do
  /usr/bin/time -v -o "$out/stowage-$mode.time" "$bench" --bench "images_24mp/$mode\$" >/dev/null 2>&1
  echo "stowage $mode: peak RSS $(peak "$out/stowage-$mode.time")"
done

# sharp: its best way on one thread (one decode pipeline cloned per output) and on every core
# (decoded once, libvips threads = cores), as measured by its own modes.
for row in "1|--strategy clone|UV_THREADPOOL_SIZE=1" "all|--strategy rawonce --vips-concurrency cores|" "all|--strategy separate|"; do
  IFS='|' read -r threads extra envs <<<"$row"
  name="sharp-$threads-$(echo "$extra" | awk '{print $2}')"
  # shellcheck disable=SC2086
  env $envs /usr/bin/time -v -o "$out/$name.time" node "$here/sharp_bench.js" --input "$photo" --threads "$threads" $extra \
    --rounds 5 --per-round 4 >"$out/$name.json"
  echo "$name: $(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d.get("images_per_s_median", d))' "$out/$name.json") images/s, peak RSS $(peak "$out/$name.time")"
done
