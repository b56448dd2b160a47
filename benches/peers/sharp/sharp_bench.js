#!/usr/bin/env node
// Benchmark sharp (libvips) on the upload pipeline:
//   decode JPEG -> apply EXIF orientation (.rotate()) -> strip metadata (sharp default)
//   -> (a) display: fit inside 1600x1600, JPEG q88
//   -> (b) thumb:   fit inside 256x256,   JPEG q80
//   -> (c) full:    full resolution,      JPEG q88
//
// Usage:
//   node sharp_bench.js [--threads 1|all] [--strategy separate|clone|rawonce]
//                       [--vips-concurrency N|cores] [--outputs parallel|serial] [--rounds 5] [--per-round 4]
//                       [--input photo-24mp.jpg] [--write-outputs DIR] [--breakdown]
//
// --threads 1   : sharp.concurrency(1), UV_THREADPOOL_SIZE=1, one image at a time.
// --threads all : sharp's default concurrency (unless --vips-concurrency is given),
//                 default libuv pool, os.cpus().length images in flight at once.
// --strategy separate : sharp(buf) per output (3 decodes; display/thumb use JPEG shrink-on-load)
// --strategy clone    : one sharp(buf).rotate() pipeline, .clone() per output
//                       (sharp still decodes once per clone; same work as separate)
// --strategy rawonce  : decode+orient once to raw pixels, then 3 outputs from raw
//                       (1 full decode, but no shrink-on-load for display/thumb)
// --breakdown : instead of throughput, time the single-threaded stages
//               (decode-only, decode+resize, encode-only, ...).
//
// Timing: 1 warmup round, then --rounds timed rounds of --per-round images each;
// images/s = per-round / round-seconds, median over timed rounds.
// sharp.cache(false) is set (as in sharp's own benchmark): every upload is a new image,
// and libvips' operation cache must not serve repeats of the identical input buffer.
// sequentialRead, failOn ('warning'), limitInputPixels, fastShrinkOnLoad are left at defaults.
'use strict';

const args = parseArgs(process.argv.slice(2));
const threads = args.threads || 'all';
if (threads === '1') {
  // Must happen before libuv's threadpool is first used (it is created lazily).
  process.env.UV_THREADPOOL_SIZE = '1';
}

const fs = require('fs');
const os = require('os');
const path = require('path');
const sharp = require('sharp');

const defaultVipsConcurrency = sharp.concurrency();
sharp.cache(false);
if (threads === '1') {
  sharp.concurrency(1);
} else if (args['vips-concurrency'] !== undefined) {
  // 'cores' = os.cpus().length. (sharp.concurrency(0) is documented as "reset to number of
  // cores" but returns 1 here: glibc without jemalloc.)
  const v = args['vips-concurrency'];
  sharp.concurrency(v === 'cores' ? os.cpus().length : parseInt(v, 10));
}

const input = args.input || path.join(__dirname, 'photo-24mp.jpg');
const rounds = parseInt(args.rounds || '5', 10);
const perRound = parseInt(args['per-round'] || '4', 10);
const strategy = args.strategy || 'separate';
// parallel: the 3 outputs of one image are started together (Promise.all), the usual sharp idiom;
// serial: one output after the other (with --threads all, exactly `in flight` libvips jobs at once).
const outputsMode = args.outputs || 'parallel';
const inFlight = threads === '1' ? 1 : os.cpus().length;

const buf = fs.readFileSync(input); // read once, into memory

const DISPLAY = { w: 1600, h: 1600, q: 88 };
const THUMB = { w: 256, h: 256, q: 80 };
const FULL_Q = 88;

// ---------------------------------------------------------------- strategies
// Run output thunks together or one after the other.
async function all3(thunks) {
  if (outputsMode === 'parallel') return Promise.all(thunks.map((f) => f()));
  const out = [];
  for (const f of thunks) out.push(await f());
  return out;
}

async function processSeparate(b) {
  const [display, thumb, full] = await all3([
    () => sharp(b).rotate().resize(DISPLAY.w, DISPLAY.h, { fit: 'inside' })
      .jpeg({ quality: DISPLAY.q }).toBuffer({ resolveWithObject: true }),
    () => sharp(b).rotate().resize(THUMB.w, THUMB.h, { fit: 'inside' })
      .jpeg({ quality: THUMB.q }).toBuffer({ resolveWithObject: true }),
    () => sharp(b).rotate().jpeg({ quality: FULL_Q }).toBuffer({ resolveWithObject: true }),
  ]);
  return { display, thumb, full };
}

async function processClone(b) {
  const base = sharp(b).rotate();
  const [display, thumb, full] = await all3([
    () => base.clone().resize(DISPLAY.w, DISPLAY.h, { fit: 'inside' })
      .jpeg({ quality: DISPLAY.q }).toBuffer({ resolveWithObject: true }),
    () => base.clone().resize(THUMB.w, THUMB.h, { fit: 'inside' })
      .jpeg({ quality: THUMB.q }).toBuffer({ resolveWithObject: true }),
    () => base.clone().jpeg({ quality: FULL_Q }).toBuffer({ resolveWithObject: true }),
  ]);
  return { display, thumb, full };
}

async function processRawOnce(b) {
  const { data, info } = await sharp(b).rotate().raw().toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
  const [display, thumb, full] = await all3([
    () => sharp(data, raw).resize(DISPLAY.w, DISPLAY.h, { fit: 'inside' })
      .jpeg({ quality: DISPLAY.q }).toBuffer({ resolveWithObject: true }),
    () => sharp(data, raw).resize(THUMB.w, THUMB.h, { fit: 'inside' })
      .jpeg({ quality: THUMB.q }).toBuffer({ resolveWithObject: true }),
    () => sharp(data, raw).jpeg({ quality: FULL_Q }).toBuffer({ resolveWithObject: true }),
  ]);
  return { display, thumb, full };
}

const STRATEGIES = { separate: processSeparate, clone: processClone, rawonce: processRawOnce };

// ---------------------------------------------------------------- helpers
function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const key = a.slice(2);
    if (key === 'breakdown') { out.breakdown = true; continue; }
    out[key] = argv[++i];
  }
  return out;
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

// System-wide busy CPU time (ms) from /proc/stat, to detect other load on the machine
// while we measure: foreign = system busy - this process's own CPU time.
function systemBusyMs() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
  return (busy * 1000) / 100; // USER_HZ = 100
}
function ownCpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function describe(r) {
  return { bytes: r.data.length, width: r.info.width, height: r.info.height, format: r.info.format };
}

// Process `count` images with `inFlight` concurrent workers.
async function runRound(fn, count) {
  let next = 0;
  let last;
  const worker = async () => {
    while (next < count) {
      next++;
      last = await fn(buf);
    }
  };
  const t0 = nowMs();
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
  return { ms: nowMs() - t0, last };
}

// ---------------------------------------------------------------- throughput
async function throughput() {
  const fn = STRATEGIES[strategy];
  if (!fn) throw new Error(`unknown strategy ${strategy}`);

  const warm = await runRound(fn, perRound);
  const outputs = {
    display: describe(warm.last.display),
    thumb: describe(warm.last.thumb),
    full: describe(warm.last.full),
  };
  if (args['write-outputs']) {
    fs.mkdirSync(args['write-outputs'], { recursive: true });
    for (const k of ['display', 'thumb', 'full']) {
      fs.writeFileSync(path.join(args['write-outputs'], `${strategy}-${k}.jpg`), warm.last[k].data);
    }
  }

  const roundMs = [];
  const sys0 = systemBusyMs(), own0 = ownCpuMs(), w0 = nowMs();
  for (let r = 0; r < rounds; r++) {
    roundMs.push((await runRound(fn, perRound)).ms);
  }
  const wall = nowMs() - w0, own = ownCpuMs() - own0, sysBusy = systemBusyMs() - sys0;
  const ips = roundMs.map((ms) => perRound / (ms / 1000));
  return {
    kind: 'throughput',
    strategy,
    outputs_mode: outputsMode,
    images_per_s_median: +median(ips).toFixed(3),
    images_per_s_rounds: ips.map((x) => +x.toFixed(3)),
    ms_per_image_median: +(median(roundMs) / perRound).toFixed(1),
    // CPU time this process spent per image (user+sys, all threads) over the timed rounds
    cpu_ms_per_image: +(own / (rounds * perRound)).toFixed(1),
    own_cpu_cores_busy: +(own / wall).toFixed(2),
    // other processes' CPU use during the timed rounds, in cores (0 = machine otherwise idle)
    foreign_cpu_cores_busy: +(Math.max(0, sysBusy - own) / wall).toFixed(2),
    outputs,
  };
}

// ---------------------------------------------------------------- breakdown
async function breakdown() {
  const { data: rawFull, info: rawInfo } =
    await sharp(buf).rotate().raw().toBuffer({ resolveWithObject: true });
  const rawOpt = { raw: { width: rawInfo.width, height: rawInfo.height, channels: rawInfo.channels } };
  const inside = (w, h) => [w, h, { fit: 'inside' }];

  const ops = {
    // decoding
    decode_raw_no_orient: () => sharp(buf).raw().toBuffer(),
    decode_rotate_raw: () => sharp(buf).rotate().raw().toBuffer(),
    // decode + resize (shrink-on-load candidates)
    decode_resize1600_raw: () => sharp(buf).rotate().resize(...inside(1600, 1600)).raw().toBuffer(),
    decode_resize1600_raw_no_orient: () => sharp(buf).resize(...inside(1600, 1600)).raw().toBuffer(),
    decode_resize1600_raw_from_file: () => sharp(input).rotate().resize(...inside(1600, 1600)).raw().toBuffer(),
    decode_resize256_raw: () => sharp(buf).rotate().resize(...inside(256, 256)).raw().toBuffer(),
    // resize only, from already-decoded pixels (= the cost without shrink-on-load, minus decode)
    resize1600_from_raw: () => sharp(rawFull, rawOpt).resize(...inside(1600, 1600)).raw().toBuffer(),
    resize256_from_raw: () => sharp(rawFull, rawOpt).resize(...inside(256, 256)).raw().toBuffer(),
    // encoding only, from already-decoded, oriented pixels (4000x6000)
    encode_full_q88_from_raw: () => sharp(rawFull, rawOpt).jpeg({ quality: FULL_Q }).toBuffer(),
    encode_full_q88_from_raw_no_optimise_coding: () =>
      sharp(rawFull, rawOpt).jpeg({ quality: FULL_Q, optimiseCoding: false }).toBuffer(),
    // the three real outputs, end to end
    out_display: () => sharp(buf).rotate().resize(...inside(1600, 1600)).jpeg({ quality: DISPLAY.q }).toBuffer(),
    out_thumb: () => sharp(buf).rotate().resize(...inside(256, 256)).jpeg({ quality: THUMB.q }).toBuffer(),
    out_full: () => sharp(buf).rotate().jpeg({ quality: FULL_Q }).toBuffer(),
    out_full_no_optimise_coding: () =>
      sharp(buf).rotate().jpeg({ quality: FULL_Q, optimiseCoding: false }).toBuffer(),
    decode_encode_full_no_orient: () => sharp(buf).jpeg({ quality: FULL_Q }).toBuffer(),
  };

  const result = {};
  const sys0 = systemBusyMs(), own0 = ownCpuMs(), w0 = nowMs();
  for (const [name, op] of Object.entries(ops)) {
    await op(); // warmup
    const ts = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = nowMs();
      await op();
      ts.push(nowMs() - t0);
    }
    result[name] = { median_ms: +median(ts).toFixed(1), min_ms: +Math.min(...ts).toFixed(1) };
  }
  const wall = nowMs() - w0;
  const foreign = +(Math.max(0, systemBusyMs() - sys0 - (ownCpuMs() - own0)) / wall).toFixed(2);
  const d = result.decode_rotate_raw.median_ms;
  result.derived = {
    full_encode_ms_by_subtraction: +(result.out_full.median_ms - d).toFixed(1),
    shrink_on_load_display_speedup_vs_decode_only: +(d / result.decode_resize1600_raw.median_ms).toFixed(2),
    shrink_on_load_thumb_speedup_vs_decode_only: +(d / result.decode_resize256_raw.median_ms).toFixed(2),
    display_without_shrink_on_load_est_ms: +(d + result.resize1600_from_raw.median_ms).toFixed(1),
    thumb_without_shrink_on_load_est_ms: +(d + result.resize256_from_raw.median_ms).toFixed(1),
  };
  return { kind: 'breakdown', foreign_cpu_cores_busy: foreign, decoded: { width: rawInfo.width, height: rawInfo.height, channels: rawInfo.channels }, ops: result };
}

// ---------------------------------------------------------------- main
(async () => {
  const res = args.breakdown ? await breakdown() : await throughput();
  const meta = {
    threads,
    in_flight: inFlight,
    vips_concurrency: sharp.concurrency(),
    vips_concurrency_default: defaultVipsConcurrency,
    uv_threadpool_size: process.env.UV_THREADPOOL_SIZE || '4 (default)',
    cpus: os.cpus().length,
    rounds,
    per_round: perRound,
    input: path.basename(input),
    input_bytes: buf.length,
    sharp: sharp.versions.sharp,
    vips: sharp.versions.vips,
    simd: sharp.simd(),
    loadavg_at_end: os.loadavg().map((x) => +x.toFixed(2)),
  };
  console.log(JSON.stringify({ ...meta, ...res }));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
