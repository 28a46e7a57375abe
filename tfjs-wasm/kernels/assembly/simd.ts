// AssemblyScript source of the SIMD training kernels (built to tfjs-wasm/kernels/simd.wasm by
// scripts/build-simd.mjs). They run on tfjs-backend-wasm's own memory, imported as env.memory:
// every pointer is a byte offset of a tensor (or scratch array) on that heap. Tensors are NHWC
// float32 seen as n rows of c channels, c a multiple of 4; per-channel sums are accumulated in f64.
// No data segments, no allocation, no globals in memory: instantiating this module writes nothing.

// a·b + c for the conv kernels: one fused multiply-add in the relaxed-SIMD build (simd-relaxed.wasm,
// used where the runtime accepts it; x86 FMA rounds once), else a multiply then an add.
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// The four floats of v as two f64x2 (lanes 0–1, lanes 2–3).
@inline function low64(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}
@inline function high64(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
}

// acc[0..3] += (lo, hi), f64.
@inline function accumulate(acc: usize, lo: v128, hi: v128): void {
  v128.store(acc, f64x2.add(v128.load(acc), lo));
  v128.store(acc, f64x2.add(v128.load(acc, 16), hi), 16);
}

// Σx and Σx² per channel over n rows of c: sum[k], sq[k] (f64 arrays of c).
export function channelSums(x: usize, n: i32, c: i32, sum: usize, sq: usize): void {
  const groups = c >> 2;
  memory.fill(sum, 0, <usize>c << 3);
  memory.fill(sq, 0, <usize>c << 3);
  let p = x;
  for (let r = 0; r < n; r++) {
    for (let g = 0; g < groups; g++) {
      const v = v128.load(p);
      const lo = low64(v);
      const hi = high64(v);
      const o = <usize>g << 5;
      accumulate(sum + o, lo, hi);
      accumulate(sq + o, f64x2.mul(lo, lo), f64x2.mul(hi, hi));
      p += 16;
    }
  }
}

// Σdy and Σdy·x per channel (f64 arrays of c).
export function channelDotSums(dy: usize, x: usize, n: i32, c: i32, sdy: usize, sdyx: usize): void {
  const groups = c >> 2;
  memory.fill(sdy, 0, <usize>c << 3);
  memory.fill(sdyx, 0, <usize>c << 3);
  let p: usize = 0;
  for (let r = 0; r < n; r++) {
    for (let g = 0; g < groups; g++) {
      const d = v128.load(dy + p);
      const v = v128.load(x + p);
      const dlo = low64(d);
      const dhi = high64(d);
      const o = <usize>g << 5;
      accumulate(sdy + o, dlo, dhi);
      accumulate(sdyx + o, f64x2.mul(dlo, low64(v)), f64x2.mul(dhi, high64(v)));
      p += 16;
    }
  }
}

// y = x·a[k] + b[k] per channel k (a, b f32 arrays of c); relu != 0 also clamps at 0.
export function channelAffine(x: usize, y: usize, n: i32, c: i32, a: usize, b: usize, relu: i32): void {
  const groups = c >> 2;
  const zero = f32x4.splat(0);
  let p: usize = 0;
  for (let r = 0; r < n; r++) {
    for (let g = 0; g < groups; g++) {
      const o = <usize>g << 4;
      let v = f32x4.add(f32x4.mul(v128.load(x + p), v128.load(a + o)), v128.load(b + o));
      if (relu) v = f32x4.max(v, zero);
      v128.store(y + p, v);
      p += 16;
    }
  }
}

// out = A[k]·dy + B[k]·x + C[k] per channel k (batch norm's input gradient).
export function channelAffine2(dy: usize, x: usize, out: usize, n: i32, c: i32, A: usize, B: usize, C: usize): void {
  const groups = c >> 2;
  let p: usize = 0;
  for (let r = 0; r < n; r++) {
    for (let g = 0; g < groups; g++) {
      const o = <usize>g << 4;
      const t = f32x4.add(f32x4.mul(v128.load(dy + p), v128.load(A + o)), f32x4.mul(v128.load(x + p), v128.load(B + o)));
      v128.store(out + p, f32x4.add(t, v128.load(C + o)));
      p += 16;
    }
  }
}

// Adam on len floats: m' = β1·m + (1−β1)·g, v' = β2·v + (1−β2)·g², w' = w − p·m'/(√(q·v') + ε),
// written to wOut, mOut, vOut (which may alias w, m, v). len may be any size (scalar tail).
export function adam(w: usize, g: usize, m: usize, v: usize, wOut: usize, mOut: usize, vOut: usize, len: i32,
  beta1: f32, beta2: f32, p: f32, q: f32, eps: f32): void {
  const b1 = f32x4.splat(beta1);
  const c1 = f32x4.splat(1 - beta1);
  const b2 = f32x4.splat(beta2);
  const c2 = f32x4.splat(1 - beta2);
  const pv = f32x4.splat(p);
  const qv = f32x4.splat(q);
  const ev = f32x4.splat(eps);
  const vecEnd = len & ~3;
  let i = 0;
  for (; i < vecEnd; i += 4) {
    const o = <usize>i << 2;
    const gi = v128.load(g + o);
    const mi = f32x4.add(f32x4.mul(v128.load(m + o), b1), f32x4.mul(gi, c1));
    const vi = f32x4.add(f32x4.mul(v128.load(v + o), b2), f32x4.mul(f32x4.mul(gi, gi), c2));
    const step = f32x4.div(f32x4.mul(mi, pv), f32x4.add(f32x4.sqrt(f32x4.mul(vi, qv)), ev));
    v128.store(wOut + o, f32x4.sub(v128.load(w + o), step));
    v128.store(mOut + o, mi);
    v128.store(vOut + o, vi);
  }
  for (; i < len; i++) {
    const o = <usize>i << 2;
    const gi = load<f32>(g + o);
    const mi = load<f32>(m + o) * beta1 + gi * (1 - beta1);
    const vi = load<f32>(v + o) * beta2 + gi * gi * (1 - beta2);
    store<f32>(wOut + o, load<f32>(w + o) - (mi * p) / (Mathf.sqrt(vi * q) + eps));
    store<f32>(mOut + o, mi);
    store<f32>(vOut + o, vi);
  }
}

// MaxPoolGrad of 2×2 windows with stride 2 and no top/left padding (TF's 'same' and 'valid' 2×2/2
// pools): windows do not overlap, so every dx element is written once, with the window's dy at its
// first strict maximum in row-major order (as tfjs's cpu backend) and 0 elsewhere. NHWC, c % 4 = 0;
// windows cut by the bottom/right edge use the positions that exist.
export function maxPoolGrad2x2(x: usize, dy: usize, dx: usize, n: i32, h: i32, w: i32, c: i32, ho: i32, wo: i32): void {
  const groups = c >> 2;
  const px = <usize>c << 2;
  const row = <usize>w * px;
  const ninf = f32x4.splat(-Infinity);
  let gp = dy;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ho; i++) {
      const r1 = 2 * i + 1 < h;
      for (let j = 0; j < wo; j++) {
        const c1 = 2 * j + 1 < w;
        const base = ((<usize>b * h + 2 * i) * w + 2 * j) * px;
        for (let g = 0; g < groups; g++) {
          const o = base + (<usize>g << 4);
          const gv = v128.load(gp);
          gp += 16;
          const v0 = v128.load(x + o);
          let best = ninf;
          const m0 = f32x4.gt(v0, best);
          best = v128.bitselect(v0, best, m0);
          let s0 = m0;
          let s1 = i32x4.splat(0);
          let s2 = i32x4.splat(0);
          let s3 = i32x4.splat(0);
          if (c1) {
            const v1 = v128.load(x + o + px);
            s1 = f32x4.gt(v1, best);
            best = v128.bitselect(v1, best, s1);
            s0 = v128.andnot(s0, s1);
          }
          if (r1) {
            const v2 = v128.load(x + o + row);
            s2 = f32x4.gt(v2, best);
            best = v128.bitselect(v2, best, s2);
            s0 = v128.andnot(s0, s2);
            s1 = v128.andnot(s1, s2);
            if (c1) {
              const v3 = v128.load(x + o + row + px);
              s3 = f32x4.gt(v3, best);
              s0 = v128.andnot(s0, s3);
              s1 = v128.andnot(s1, s3);
              s2 = v128.andnot(s2, s3);
              v128.store(dx + o + row + px, v128.and(gv, s3));
            }
            v128.store(dx + o + row, v128.and(gv, s2));
          }
          if (c1) v128.store(dx + o + px, v128.and(gv, s1));
          v128.store(dx + o, v128.and(gv, s0));
        }
      }
    }
  }
}

// Input row (b·h + r) that output row rr = b·ho + i reads through filter row a, or −1 when r is padding.
@inline function inputRow(rr: i32, ho: i32, h: i32, sh: i32, a: i32, pt: i32): i32 {
  const b = rr / ho;
  const r = (rr - b * ho) * sh + a - pt;
  return r < 0 || r >= h ? -1 : b * h + r;
}

// Conv2DBackpropFilter, NHWC, co % 8 = 0:
//   dw[a, e, k, o] = Σ over b, i, j of x[b, i·sh + a − pt, j·sw + e − pl, k] · dy[b, i, j, o]
// (taps outside x contribute 0). Output rows (b, i) are taken in tiles of ~32 KB of dy and x rows, which
// stay in L1 across every tap and channel block (measured: 22 vs 26 ms at Conv4's 32×42×42×32 against
// 192 KB tiles, 1.09–1.15 vs 1.21–1.23 ms at the Omniglot net's 10×14×14×64); within a
// tile, for each tap and each block of 4 input × 8 output channels, eight f32x4 accumulators run over
// the tile's pixels and are then added to dw (blocked summation). Input channels past the last
// multiple of 4 (ci = 1 or 3 in first layers) go one at a time against 16 output channels.
export function convFilterGrad(x: usize, dy: usize, dw: usize, n: i32, h: i32, w: i32, ci: i32, ho: i32, wo: i32, co: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32): void {
  filterGradRows(x, dy, dw, n, h, w, ci, ci, ho, wo, co, kh, kw, sh, sw, pt, pl);
}

// convFilterGrad's body, with x's pixels `pix` floats apart and `ci` channels read from each pixel's
// start (pix = ci for a plain conv; see convFilterGradMerged for ci = kw·pix).
function filterGradRows(x: usize, dy: usize, dw: usize, n: i32, h: i32, w: i32, pix: i32, ci: i32, ho: i32, wo: i32, co: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32): void {
  memory.fill(dw, 0, <usize>(kh * kw * ci * co) << 2);
  const dyPix = <usize>co << 2;
  const rowBytes = wo * co * 4 + sh * w * pix * 4;
  let tileRows = 32768 / rowBytes;
  if (tileRows < 1) tileRows = 1;
  const total = n * ho;
  for (let t0 = 0; t0 < total; t0 += tileRows) {
    const t1 = min(total, t0 + tileRows);
    for (let a = 0; a < kh; a++) {
      for (let e = 0; e < kw; e++) {
        const last = w - 1 + pl - e;
        if (last < 0) continue;
        const j0 = pl - e > 0 ? (pl - e + sw - 1) / sw : 0;
        const j1 = min(wo - 1, last / sw);
        if (j0 > j1) continue;
        const tap = dw + (<usize>((a * kw + e) * ci * co) << 2);
        const xCol = <usize>((j0 * sw + e - pl) * pix) << 2;
        const xStep = <usize>(sw * pix) << 2;
        let cb = 0;
        for (; cb + 4 <= ci; cb += 4) {
          for (let ob = 0; ob < co; ob += 8) {
            let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
            let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a30 = f32x4.splat(0), a31 = f32x4.splat(0);
            for (let rr = t0; rr < t1; rr++) {
              const row = inputRow(rr, ho, h, sh, a, pt);
              if (row < 0) continue;
              let xp = x + (<usize>(row * w * pix) << 2) + xCol + (<usize>cb << 2);
              let dp = dy + (<usize>((rr * wo + j0) * co + ob) << 2);
              for (let j = j0; j <= j1; j++) {
                const g0 = v128.load(dp);
                const g1 = v128.load(dp, 16);
                const x0 = v128.load32_splat(xp);
                const x1 = v128.load32_splat(xp, 4);
                const x2 = v128.load32_splat(xp, 8);
                const x3 = v128.load32_splat(xp, 12);
                a00 = madd(x0, g0, a00);
                a01 = madd(x0, g1, a01);
                a10 = madd(x1, g0, a10);
                a11 = madd(x1, g1, a11);
                a20 = madd(x2, g0, a20);
                a21 = madd(x2, g1, a21);
                a30 = madd(x3, g0, a30);
                a31 = madd(x3, g1, a31);
                xp += xStep;
                dp += dyPix;
              }
            }
            const d0 = tap + (<usize>(cb * co + ob) << 2);
            const rowStep = <usize>co << 2;
            v128.store(d0, f32x4.add(v128.load(d0), a00));
            v128.store(d0, f32x4.add(v128.load(d0, 16), a01), 16);
            v128.store(d0 + rowStep, f32x4.add(v128.load(d0 + rowStep), a10));
            v128.store(d0 + rowStep, f32x4.add(v128.load(d0 + rowStep, 16), a11), 16);
            v128.store(d0 + 2 * rowStep, f32x4.add(v128.load(d0 + 2 * rowStep), a20));
            v128.store(d0 + 2 * rowStep, f32x4.add(v128.load(d0 + 2 * rowStep, 16), a21), 16);
            v128.store(d0 + 3 * rowStep, f32x4.add(v128.load(d0 + 3 * rowStep), a30));
            v128.store(d0 + 3 * rowStep, f32x4.add(v128.load(d0 + 3 * rowStep, 16), a31), 16);
          }
        }
        for (; cb < ci; cb++) {
          for (let ob = 0; ob < co; ob += 8) {
            const wide = ob + 16 <= co;
            let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
            for (let rr = t0; rr < t1; rr++) {
              const row = inputRow(rr, ho, h, sh, a, pt);
              if (row < 0) continue;
              let xp = x + (<usize>(row * w * pix) << 2) + xCol + (<usize>cb << 2);
              let dp = dy + (<usize>((rr * wo + j0) * co + ob) << 2);
              if (wide) {
                for (let j = j0; j <= j1; j++) {
                  const xs = f32x4.splat(load<f32>(xp));
                  a0 = madd(xs, v128.load(dp), a0);
                  a1 = madd(xs, v128.load(dp, 16), a1);
                  a2 = madd(xs, v128.load(dp, 32), a2);
                  a3 = madd(xs, v128.load(dp, 48), a3);
                  xp += xStep;
                  dp += dyPix;
                }
              } else {
                for (let j = j0; j <= j1; j++) {
                  const xs = f32x4.splat(load<f32>(xp));
                  a0 = madd(xs, v128.load(dp), a0);
                  a1 = madd(xs, v128.load(dp, 16), a1);
                  xp += xStep;
                  dp += dyPix;
                }
              }
            }
            const d0 = tap + (<usize>(cb * co + ob) << 2);
            v128.store(d0, f32x4.add(v128.load(d0), a0));
            v128.store(d0, f32x4.add(v128.load(d0, 16), a1), 16);
            if (wide) {
              v128.store(d0, f32x4.add(v128.load(d0, 32), a2), 32);
              v128.store(d0, f32x4.add(v128.load(d0, 48), a3), 48);
              ob += 8;
            }
          }
        }
      }
    }
  }
}

// convFilterGrad for few input channels (Conv4's RGB first layer): x is first copied, zero-padded, to
// scratch as [n, hp, wp, ci] with hp = (ho−1)·sh + kh and wp = (wo−1)·sw + kw, so that the kw·ci floats
// a kernel row covers are contiguous and inside for every output pixel. dw[a, e, k, o] = dw[a, e·ci + k, o]
// is then the gradient of a kh×1 conv with kw·ci channels whose pixels are ci floats apart: blocks of 4
// of those channels instead of one channel at a time.
// Scratch bytes: 4·n·hp·wp·ci.
export function convFilterGradMerged(x: usize, dy: usize, dw: usize, scratch: usize, n: i32, h: i32, w: i32, ci: i32, ho: i32, wo: i32, co: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32): void {
  const hp = (ho - 1) * sh + kh;
  const wp = (wo - 1) * sw + kw;
  padInput(x, scratch, n, h, w, ci, hp, wp, pt, pl);
  filterGradRows(scratch, dy, dw, n, hp, wp, ci, kw * ci, ho, wo, co, kh, 1, sh, sw, 0, 0);
}

// x [n, h, w, ci] copied to dst as [n, hp, wp, ci], row r and column c of dst holding x's r − pt and
// c − pl, zeros where those are outside x.
function padInput(x: usize, dst: usize, n: i32, h: i32, w: i32, ci: i32, hp: i32, wp: i32, pt: i32, pl: i32): void {
  const pixBytes = <usize>ci << 2;
  const rowBytes = <usize>wp * pixBytes;
  // columns c of a padded row hold x's column c − pl: those in [c0, c1) exist
  const c0 = max(pl, 0), c1 = min(wp, w + pl);
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < hp; r++) {
      const sr = r - pt;
      if (sr < 0 || sr >= h || c0 >= c1) {
        memory.fill(dst, 0, rowBytes);
      } else {
        memory.fill(dst, 0, <usize>c0 * pixBytes);
        memory.copy(dst + <usize>c0 * pixBytes, x + (<usize>(((b * h + sr) * w + c0 - pl) * ci) << 2), <usize>(c1 - c0) * pixBytes);
        memory.fill(dst + <usize>c1 * pixBytes, 0, <usize>(wp - c1) * pixBytes);
      }
      dst += rowBytes;
    }
  }
}

// The two gathering conv kernels below (forward, and the input gradient) share one core: output pixels
// go four at a time, each a block of 8 channels in two pairs of accumulators (eight in all), and every
// weight pair loaded feeds all four pixels. Per group the caller lists its taps in a table of five
// pointers per tap, [weights, pixel 0, …, pixel 3]: the tap's weights as [len/4, 8] floats and each
// pixel's source row of len/4 floats (a block of zeros where the tap falls outside the input).
@inline function gatherFour(table: usize, taps: i32, len: usize, o0: usize, o1: usize, o2: usize, o3: usize): void {
  let a0 = f32x4.splat(0), e0 = f32x4.splat(0), a1 = f32x4.splat(0), e1 = f32x4.splat(0);
  let a2 = f32x4.splat(0), e2 = f32x4.splat(0), a3 = f32x4.splat(0), e3 = f32x4.splat(0);
  for (let t = 0; t < taps; t++) {
    const row = table + <usize>t * 20;
    let wp = load<usize>(row);
    const p0 = load<usize>(row, 4);
    const p1 = load<usize>(row, 8);
    const p2 = load<usize>(row, 12);
    const p3 = load<usize>(row, 16);
    for (let off: usize = 0; off < len; off += 4) {
      const w0 = v128.load(wp);
      const w1 = v128.load(wp, 16);
      const d0 = v128.load32_splat(p0 + off);
      a0 = madd(d0, w0, a0);
      e0 = madd(d0, w1, e0);
      const d1 = v128.load32_splat(p1 + off);
      a1 = madd(d1, w0, a1);
      e1 = madd(d1, w1, e1);
      const d2 = v128.load32_splat(p2 + off);
      a2 = madd(d2, w0, a2);
      e2 = madd(d2, w1, e2);
      const d3 = v128.load32_splat(p3 + off);
      a3 = madd(d3, w0, a3);
      e3 = madd(d3, w1, e3);
      wp += 32;
    }
  }
  v128.store(o0, a0);
  v128.store(o0, e0, 16);
  v128.store(o1, a1);
  v128.store(o1, e1, 16);
  v128.store(o2, a2);
  v128.store(o2, e2, 16);
  v128.store(o3, a3);
  v128.store(o3, e3, 16);
}

// One row of a gatherFour table.
@inline function tapRow(table: usize, t: i32, wp: usize, p0: usize, p1: usize, p2: usize, p3: usize): void {
  const row = table + <usize>t * 20;
  store<usize>(row, wp);
  store<usize>(row, p0, 4);
  store<usize>(row, p1, 8);
  store<usize>(row, p2, 12);
  store<usize>(row, p3, 16);
}

// Packs the filter w [taps, ci, co] for gatherFour into wt as [out/8, tap, in, 8]: blocks of 8 of the
// channels the kernel writes (out), each tap's rows running over the channels it sums (in). The forward
// conv writes o and sums k; the input gradient (`byInput`) writes k and sums o. Then writes `in` zeros
// after the packed weights (the source row a tap outside the input reads) and returns where they start.
@inline function packWeights(w: usize, wt: usize, taps: i32, ci: i32, co: i32, byInput: bool): usize {
  const sums = byInput ? co : ci;
  for (let t = 0; t < taps; t++) {
    for (let k = 0; k < ci; k++) {
      for (let o = 0; o < co; o++) {
        const out = byInput ? k : o;
        const to = ((((out >> 3) * taps + t) * sums + (byInput ? o : k)) << 3) + (out & 7);
        store<f32>(wt + (<usize>to << 2), load<f32>(w + (<usize>((t * ci + k) * co + o) << 2)));
      }
    }
  }
  const zero = wt + (<usize>(taps * ci * co) << 2);
  for (let i = 0; i < sums; i++) store<f32>(zero + (<usize>i << 2), 0);
  return zero;
}

// Conv2DBackpropInput, NHWC, ci % 8 = 0, gathered per input pixel:
//   dx[b, r, c, k] = Σ over taps (a, e) and o of dy[b, i, j, o] · w[a, e, k, o],
//   i = (r + pt − a)/sh and j = (c + pl − e)/sw where whole and inside dy.
// scratch holds w re-laid as [k/8, a, e, o, 8] (one block of 8 input channels contiguous, so it stays
// in L1 while every pixel uses it), then co zeros, 8 floats that padding lanes write to, and the tap
// table. Pixels of one row r whose columns share c + pl mod sw share their taps (a, e); they go to
// gatherFour four at a time, over images and columns.
// Scratch bytes: 4·(kh·kw·ci·co + co + 8 + 5·kh·kw).
export function convInputGrad(dy: usize, w: usize, scratch: usize, dx: usize, n: i32, h: i32, wd: i32, ci: i32, ho: i32, wo: i32, co: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32): void {
  const taps = kh * kw;
  const wt = scratch;
  const zero = packWeights(w, wt, taps, ci, co, true);
  const dummy = zero + (<usize>co << 2);
  const table = dummy + 32;
  const tapBytes = <usize>co << 5;
  const rowBytes = <usize>(wo * co) << 2;
  const len = <usize>co << 2;
  for (let kb = 0; kb < ci; kb += 8) {
    const block = wt + <usize>(kb >> 3) * <usize>taps * tapBytes;
    for (let r = 0; r < h; r++) {
      for (let ph = 0; ph < sw; ph++) {
        // columns c ≡ c0 (mod sw) have c + pl ≡ ph: their taps are e = ph, ph + sw, …
        const c0 = ((ph - pl) % sw + sw) % sw;
        const nc = c0 < wd ? (wd - c0 + sw - 1) / sw : 0;
        const total = n * nc;
        for (let q = 0; q < total; q += 4) {
          // the four pixels (b, c) of this group; lanes past the end are padding (b = −1)
          const b0 = q / nc, c_0 = c0 + (q % nc) * sw;
          const b1 = q + 1 < total ? (q + 1) / nc : -1, c_1 = c0 + ((q + 1) % nc) * sw;
          const b2 = q + 2 < total ? (q + 2) / nc : -1, c_2 = c0 + ((q + 2) % nc) * sw;
          const b3 = q + 3 < total ? (q + 3) / nc : -1, c_3 = c0 + ((q + 3) % nc) * sw;
          // tap e = ph + m·sw reads dy column (c + pl − e)/sw = j − m, j = (c + pl − ph)/sw (exact, ≥ 0)
          const j0 = (c_0 + pl - ph) / sw, j1 = (c_1 + pl - ph) / sw, j2 = (c_2 + pl - ph) / sw, j3 = (c_3 + pl - ph) / sw;
          let count = 0;
          for (let a = 0; a < kh; a++) {
            const ui = r + pt - a;
            if (ui < 0 || ui % sh != 0 || ui / sh >= ho) continue;
            const i = ui / sh;
            for (let e = ph, m = 0; e < kw; e += sw, m++) {
              tapRow(table, count++, block + <usize>(a * kw + e) * tapBytes,
                tapSource(dy, zero, b0, j0 - m, i, ho, wo, rowBytes, co), tapSource(dy, zero, b1, j1 - m, i, ho, wo, rowBytes, co),
                tapSource(dy, zero, b2, j2 - m, i, ho, wo, rowBytes, co), tapSource(dy, zero, b3, j3 - m, i, ho, wo, rowBytes, co));
            }
          }
          gatherFour(table, count, len,
            pixelOut(dx, dummy, b0, r, c_0, h, wd, ci, kb), pixelOut(dx, dummy, b1, r, c_1, h, wd, ci, kb),
            pixelOut(dx, dummy, b2, r, c_2, h, wd, ci, kb), pixelOut(dx, dummy, b3, r, c_3, h, wd, ci, kb));
        }
      }
    }
  }
}

// Conv2DBackpropFilter (the sums of convFilterGrad) for ci % 4 = 0, co % 8 = 0 and few output pixels,
// as gatherFour GEMMs over pixels p: xt holds x transposed per tap and channel, [a, e, k, p] (zeros
// outside x), and dyt holds dy as [o/8, p, 8]; then dw[a, e, k..k+3, o..o+7] = Σ_p xt[a, e, k.., p] ·
// dyt[o/8, p, :] is one gatherFour call whose rows are all contiguous, however small the image (the
// row-walking kernel above runs 2-pixel rows at the Omniglot net's last layer). Rows are padded to a
// multiple of 4 pixels, with zeros in both operands.
// Scratch bytes: 4·(P·(kh·kw·ci + co) + 5 + ci + 12), P = n·ho·wo rounded up to a multiple of 4.
export function convFilterGradCols(x: usize, dy: usize, dw: usize, scratch: usize, n: i32, h: i32, wd: i32, ci: i32, ho: i32, wo: i32, co: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32): void {
  const taps = kh * kw;
  const plane = ho * wo;
  const len = n * plane;
  const rowBytes = <usize>((len + 3) & ~3) << 2;
  const xt = scratch;
  const dyt = xt + <usize>(taps * ci) * rowBytes;
  const table = dyt + <usize>co * rowBytes;
  // what a padding pixel or a tap outside x reads
  const zeros = table + 20;
  for (let k = 0; k < ci; k++) store<f32>(zeros + (<usize>k << 2), 0);
  const origins = zeros + (<usize>ci << 2);
  const coBytes = <usize>co << 2;
  const zero = f32x4.splat(0);
  for (let q = 0; q < len; q += 4) {
    windowOrigins(origins, q, len, plane, wo, h, sh, sw, pt, pl);
    for (let a = 0; a < kh; a++) {
      for (let e = 0; e < kw; e++) {
        // four pixels' channels k..k+3, transposed into rows k..k+3 of this tap at column q
        const s0 = originSource(x, zeros, origins, 0, a, e, h, wd, ci);
        const s1 = originSource(x, zeros, origins, 1, a, e, h, wd, ci);
        const s2 = originSource(x, zeros, origins, 2, a, e, h, wd, ci);
        const s3 = originSource(x, zeros, origins, 3, a, e, h, wd, ci);
        let dst = xt + <usize>((a * kw + e) * ci) * rowBytes + (<usize>q << 2);
        for (let k = 0; k < ci; k += 4) {
          const off = <usize>k << 2;
          const v0 = v128.load(s0 + off);
          const v1 = v128.load(s1 + off);
          const v2 = v128.load(s2 + off);
          const v3 = v128.load(s3 + off);
          const t0 = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5);
          const t1 = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5);
          const t2 = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7);
          const t3 = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7);
          v128.store(dst, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
          v128.store(dst + rowBytes, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
          v128.store(dst + 2 * rowBytes, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
          v128.store(dst + 3 * rowBytes, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
          dst += 4 * rowBytes;
        }
      }
    }
    // dy of the same four pixels into dyt[o/8, p, :] (zeros for padding pixels)
    for (let p = q; p < q + 4; p++) {
      const to = dyt + (<usize>p << 5);
      const from = dy + <usize>p * coBytes;
      for (let o = 0; o < co; o += 8) {
        const at = to + <usize>(o >> 3) * rowBytes * 8;
        v128.store(at, p < len ? v128.load(from + (<usize>o << 2)) : zero);
        v128.store(at, p < len ? v128.load(from + (<usize>o << 2), 16) : zero, 16);
      }
    }
  }
  for (let t = 0; t < taps; t++) {
    for (let ob = 0; ob < co; ob += 8) {
      const dyBlock = dyt + <usize>(ob >> 3) * rowBytes * 8;
      for (let k = 0; k < ci; k += 4) {
        const row = xt + <usize>(t * ci + k) * rowBytes;
        tapRow(table, 0, dyBlock, row, row + rowBytes, row + 2 * rowBytes, row + 3 * rowBytes);
        const out = dw + (<usize>((t * ci + k) * co + ob) << 2);
        gatherFour(table, 1, rowBytes, out, out + coBytes, out + 2 * coBytes, out + 3 * coBytes);
      }
    }
  }
}

// Start of dy[b, i, j, :], or the zeros when b is padding or j is outside dy.
@inline function tapSource(dy: usize, zero: usize, b: i32, j: i32, i: i32, ho: i32, wo: i32, rowBytes: usize, co: i32): usize {
  if (b < 0 || j < 0 || j >= wo) return zero;
  return dy + <usize>(b * ho + i) * rowBytes + (<usize>(j * co) << 2);
}

// Where pixel (b, r, c)'s block of 8 channels from kb goes: dx, or the scratch floats for padding lanes.
@inline function pixelOut(dx: usize, dummy: usize, b: i32, r: i32, c: i32, h: i32, wd: i32, ci: i32, kb: i32): usize {
  if (b < 0) return dummy;
  return dx + (<usize>(((b * h + r) * wd + c) * ci + kb) << 2);
}

// Conv2D, NHWC, co % 8 = 0:
//   y[b, i, j, o] = Σ over taps (a, e) and k of x[b, i·sh + a − pt, j·sw + e − pl, k] · w[a, e, k, o].
// scratch holds w re-laid as [o/8, a, e, k, 8], then ci zeros (what a tap outside x reads), 8 floats
// for padding lanes and the tap table; output pixels go to gatherFour four at a time, over images,
// rows and columns.
// Scratch bytes: 4·(kh·kw·ci·co + ci + 8 + 5·kh·kw + 12).
export function convForward(x: usize, w: usize, scratch: usize, y: usize, n: i32, h: i32, wd: i32, ci: i32, ho: i32, wo: i32, co: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32): void {
  const taps = kh * kw;
  const wt = scratch;
  const zero = packWeights(w, wt, taps, ci, co, false);
  const dummy = zero + (<usize>ci << 2);
  const table = dummy + 32;
  const origins = table + <usize>taps * 20;
  const tapBytes = <usize>ci << 5;
  const len = <usize>ci << 2;
  const plane = ho * wo;
  const total = n * plane;
  for (let ob = 0; ob < co; ob += 8) {
    const block = wt + <usize>(ob >> 3) * <usize>taps * tapBytes;
    for (let q = 0; q < total; q += 4) {
      // the four output pixels of this group (flat index q + t; past the end: padding, −1)
      const q1 = q + 1 < total ? q + 1 : -1, q2 = q + 2 < total ? q + 2 : -1, q3 = q + 3 < total ? q + 3 : -1;
      windowOrigins(origins, q, total, plane, wo, h, sh, sw, pt, pl);
      for (let a = 0; a < kh; a++) {
        for (let e = 0; e < kw; e++) {
          tapRow(table, a * kw + e, block + <usize>(a * kw + e) * tapBytes,
            originSource(x, zero, origins, 0, a, e, h, wd, ci), originSource(x, zero, origins, 1, a, e, h, wd, ci),
            originSource(x, zero, origins, 2, a, e, h, wd, ci), originSource(x, zero, origins, 3, a, e, h, wd, ci));
        }
      }
      gatherFour(table, taps, len, y + (<usize>(q * co + ob) << 2),
        q1 < 0 ? dummy : y + (<usize>(q1 * co + ob) << 2),
        q2 < 0 ? dummy : y + (<usize>(q2 * co + ob) << 2),
        q3 < 0 ? dummy : y + (<usize>(q3 * co + ob) << 2));
    }
  }
}

// A window row for padding lanes: below any real row, so every tap of theirs reads the zeros.
const OUTSIDE: i32 = -(1 << 28);

// Window origins of output pixels q..q+3 (those from `total` on are padding) into 12 i32 at o: per pixel,
// its image's first row b·h, then the top-left input row and column of its window. The divisions happen
// here, once per group; the taps only add.
@inline function windowOrigins(o: usize, q: i32, total: i32, plane: i32, wo: i32, h: i32, sh: i32, sw: i32, pt: i32, pl: i32): void {
  for (let t = 0; t < 4; t++) {
    const p = q + t;
    const b = p / plane;
    const i = (p - b * plane) / wo;
    const at = o + <usize>t * 12;
    store<i32>(at, b * h);
    store<i32>(at, p < total ? i * sh - pt : OUTSIDE, 4);
    store<i32>(at, (p - b * plane - i * wo) * sw - pl, 8);
  }
}

// Start of tap (a, e) of pixel t's window (origins from windowOrigins), or the zeros outside x.
@inline function originSource(x: usize, zero: usize, o: usize, t: i32, a: i32, e: i32, h: i32, wd: i32, ci: i32): usize {
  const at = o + <usize>t * 12;
  return windowSource(x, zero, load<i32>(at), load<i32>(at, 4) + a, load<i32>(at, 8) + e, h, wd, ci);
}

// Start of x's row r, column c of the image whose first row is bh, or the zeros when that is outside x.
@inline function windowSource(x: usize, zero: usize, bh: i32, r: i32, c: i32, h: i32, wd: i32, ci: i32): usize {
  if (r < 0 || r >= h || c < 0 || c >= wd) return zero;
  return x + (<usize>(((bh + r) * wd + c) * ci) << 2);
}


// ReLU's gradient through its output: out = dy where y > 0, else 0 (len floats, a multiple of 4).
export function reluGrad(dy: usize, y: usize, out: usize, len: i32): void {
  const zero = f32x4.splat(0);
  const end = <usize>len << 2;
  for (let p: usize = 0; p < end; p += 16) {
    v128.store(out + p, v128.and(v128.load(dy + p), f32x4.gt(v128.load(y + p), zero)));
  }
}
