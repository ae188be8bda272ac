// rng.js — seeded pseudo-random numbers for the chaos suite, so a run can be
// replayed with the seed it printed (CHAOS_SEED). sfc32 seeded through a
// string hash; derive() gives independent streams per client and purpose.
// Not for anything cryptographic.
'use strict';

function hash32(str) {
  // FNV-1a then a final avalanche, enough to spread similar labels apart.
  let h = 0x811c9dc5;
  for (let i = 0; i < str.length; i++) {
    h ^= str.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// A generator: rng() in [0, 1), plus helpers.
function makeRng(seed, label = '') {
  const s = `${seed}/${label}`;
  let a = hash32(s + 'a'), b = hash32(s + 'b'), c = hash32(s + 'c'), d = hash32(s + 'd');
  function next() {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    const r = (t + d) | 0;
    c = (c + r) | 0;
    return (r >>> 0) / 4294967296;
  }
  for (let i = 0; i < 12; i++) next();
  const rng = next;
  rng.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  rng.pick = (arr) => arr[Math.floor(next() * arr.length)];
  // Exponential with the given mean: Poisson arrivals.
  rng.exp = (mean) => -Math.log(1 - next()) * mean;
  rng.derive = (sub) => makeRng(seed, `${label}/${sub}`);
  return rng;
}

// The run's seed: CHAOS_SEED when replaying, else a fresh one.
function runSeed() {
  if (process.env.CHAOS_SEED) return String(process.env.CHAOS_SEED);
  return String(Date.now() % 1000000007) + String(process.pid % 1000);
}

module.exports = { makeRng, runSeed, hash32 };
