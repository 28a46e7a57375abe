// AssemblyScript source of the exact preprocessing kernels (area shrink, brightness map, damage block steps) (built to shared/preprocess/shrink.wasm by
// scripts/build-simd.mjs; loaded by shared/preprocess/kernels.ts in Node and the viewer). The same whole-number
// sums as cropShrink in shared/preprocess/resize.ts, arranged for SIMD (exact either way), so both give the same doubles bit for bit. Works on its own memory,
// laid out by the caller; no data segments, no allocation, no globals in memory.

// One output row's column sums, V[b0..b1) (i32) = m·Σ whole rows + wA·rowA + wB·rowB over bytes [b0, b1): the
// `rows` whole rows (`stride` bytes apart, from `row`) are added 16 bytes at a time in u16 lanes (at most 257
// rows per round: 255·257 = 65535), then widened; rowA/rowB are the partly covered rows (weight 0: none).
function columnSums(row: usize, stride: usize, rows: i32, m: i32, rowA: usize, wA: i32, rowB: usize, wB: i32, V: usize, b0: i32, b1: i32): void {
  const vm = i32x4.splat(m);
  const va = i32x4.splat(wA);
  const vb = i32x4.splat(wB);
  let b = b0;
  for (; b + 16 <= b1; b += 16) {
    let s0 = i32x4.splat(0);
    let s1 = s0;
    let s2 = s0;
    let s3 = s0;
    let r = 0;
    while (r < rows) {
      const end = min(rows, r + 257);
      let lo = i16x8.splat(0);
      let hi = i16x8.splat(0);
      let p = row + <usize>r * stride + <usize>b;
      for (; r < end; r++, p += stride) {
        const v = v128.load(p);
        lo = i16x8.add(lo, i16x8.extend_low_i8x16_u(v));
        hi = i16x8.add(hi, i16x8.extend_high_i8x16_u(v));
      }
      s0 = i32x4.add(s0, i32x4.extend_low_i16x8_u(lo));
      s1 = i32x4.add(s1, i32x4.extend_high_i16x8_u(lo));
      s2 = i32x4.add(s2, i32x4.extend_low_i16x8_u(hi));
      s3 = i32x4.add(s3, i32x4.extend_high_i16x8_u(hi));
    }
    s0 = i32x4.mul(s0, vm);
    s1 = i32x4.mul(s1, vm);
    s2 = i32x4.mul(s2, vm);
    s3 = i32x4.mul(s3, vm);
    if (wA != 0) {
      const v = v128.load(rowA + <usize>b);
      const lo = i16x8.extend_low_i8x16_u(v);
      const hi = i16x8.extend_high_i8x16_u(v);
      s0 = i32x4.add(s0, i32x4.mul(i32x4.extend_low_i16x8_u(lo), va));
      s1 = i32x4.add(s1, i32x4.mul(i32x4.extend_high_i16x8_u(lo), va));
      s2 = i32x4.add(s2, i32x4.mul(i32x4.extend_low_i16x8_u(hi), va));
      s3 = i32x4.add(s3, i32x4.mul(i32x4.extend_high_i16x8_u(hi), va));
    }
    if (wB != 0) {
      const v = v128.load(rowB + <usize>b);
      const lo = i16x8.extend_low_i8x16_u(v);
      const hi = i16x8.extend_high_i8x16_u(v);
      s0 = i32x4.add(s0, i32x4.mul(i32x4.extend_low_i16x8_u(lo), vb));
      s1 = i32x4.add(s1, i32x4.mul(i32x4.extend_high_i16x8_u(lo), vb));
      s2 = i32x4.add(s2, i32x4.mul(i32x4.extend_low_i16x8_u(hi), vb));
      s3 = i32x4.add(s3, i32x4.mul(i32x4.extend_high_i16x8_u(hi), vb));
    }
    const o = V + (<usize>b << 2);
    v128.store(o, s0);
    v128.store(o, s1, 16);
    v128.store(o, s2, 32);
    v128.store(o, s3, 48);
  }
  for (; b < b1; b++) {
    let t: i32 = 0;
    let p = row + <usize>b;
    for (let r = 0; r < rows; r++, p += stride) t += <i32>load<u8>(p);
    t *= m;
    if (wA != 0) t += wA * <i32>load<u8>(rowA + <usize>b);
    if (wB != 0) t += wB * <i32>load<u8>(rowB + <usize>b);
    store<i32>(V + (<usize>b << 2), t);
  }
}

// The crop box (boxX, boxY, n × h; C bytes per pixel) of an image W pixels wide, of which rows [ya, yb)
// are at `src` (row ya first), shrunk to outW × outH into `out` (f64 RGB). Tables per output column o:
// first/last source column (i32) and their overlaps (f64); per output row: the columns [lo, hi) to compute.
// V (i32) holds n·C column sums of one output row; they fit an i32 while 255·(h + 3·outH) < 2^31 (the caller checks).
export function shrink(
  src: usize, W: i32, C: i32, ya: i32, yb: i32, boxX: i32, boxY: i32, n: i32, h: i32, outW: i32, outH: i32,
  first: usize, last: usize, fFirst: usize, fLast: usize, lo: usize, hi: usize, V: usize, out: usize,
): void {
  const ja = max(0, -boxX);
  const jb = min(n, W - boxX);
  const area = <f64>n * <f64>h;
  const stride = <usize>W * <usize>C;
  const H64 = <i64>h;
  const M64 = <i64>outH;
  for (let oy = 0; oy < outH; oy++) {
    const l = load<i32>(lo + (<usize>oy << 2));
    const e = load<i32>(hi + (<usize>oy << 2));
    // outputs not computed are 0
    const rowOut = out + <usize>oy * <usize>outW * 24;
    if (e <= l) {
      memory.fill(rowOut, 0, <usize>outW * 24);
      continue;
    }
    memory.fill(rowOut, 0, <usize>l * 24);
    memory.fill(rowOut + <usize>e * 24, 0, <usize>(outW - e) * 24);
    const ca = max(ja, load<i32>(first + (<usize>l << 2)));
    const cb = min(jb, load<i32>(last + (<usize>(e - 1) << 2)) + 1);
    const ja0 = <i32>((<i64>oy * H64) / M64);
    const jb0 = <i32>(((<i64>oy + 1) * H64 - 1) / M64);
    const wFirst = ja0 == jb0 ? H64 : min((<i64>oy + 1) * H64, (<i64>ja0 + 1) * M64) - <i64>oy * H64;
    const wLast = (<i64>oy + 1) * H64 - <i64>jb0 * M64;
    const wholeA = wFirst == M64 ? ja0 : ja0 + 1;
    const wholeB = ja0 == jb0 ? wholeA + 1 : wLast == M64 ? jb0 + 1 : jb0;
    if (ca < cb) {
      // crop row j is image row boxY + j, at src + (boxY + j − ya)·stride; crop column 0 at byte boxX·C
      const j0 = max(wholeA, ya - boxY);
      const j1 = min(wholeB, yb - boxY);
      const base = src + <usize>(<isize>boxX * <isize>C);
      const inA = wholeA != ja0 && boxY + ja0 >= ya && boxY + ja0 < yb;
      const inB = jb0 != ja0 && wholeB == jb0 && boxY + jb0 >= ya && boxY + jb0 < yb;
      columnSums(
        base + <usize>(max(0, boxY + j0 - ya)) * stride, stride, max(0, j1 - j0), outH,
        inA ? base + <usize>(boxY + ja0 - ya) * stride : base, inA ? <i32>wFirst : 0,
        inB ? base + <usize>(boxY + jb0 - ya) * stride : base, inB ? <i32>wLast : 0,
        V, ca * C, cb * C,
      );
    }
    const fw = <f64>outW;
    let q = out + (<usize>(oy * outW + l) * 24);
    for (let o = l; o < e; o++, q += 24) {
      const c0 = load<i32>(first + (<usize>o << 2));
      const c1 = load<i32>(last + (<usize>o << 2));
      let r: f64 = 0;
      let g: f64 = 0;
      let bl: f64 = 0;
      if (c0 >= ja && c0 < jb) {
        const f = load<f64>(fFirst + (<usize>o << 3));
        const v = V + (<usize>(c0 * C) << 2);
        r = f * <f64>load<i32>(v);
        g = f * <f64>load<i32>(v, 4);
        bl = f * <f64>load<i32>(v, 8);
      }
      if (c1 != c0 && c1 >= ja && c1 < jb) {
        const f = load<f64>(fLast + (<usize>o << 3));
        const v = V + (<usize>(c1 * C) << 2);
        r += f * <f64>load<i32>(v);
        g += f * <f64>load<i32>(v, 4);
        bl += f * <f64>load<i32>(v, 8);
      }
      let ir: f64 = 0;
      let ig: f64 = 0;
      let ib: f64 = 0;
      const pe = min(c1, jb);
      for (let c = max(c0 + 1, ja); c < pe; c++) {
        const v = V + (<usize>(c * C) << 2);
        ir += <f64>load<i32>(v);
        ig += <f64>load<i32>(v, 4);
        ib += <f64>load<i32>(v, 8);
      }
      store<f64>(q, (r + fw * ir) / area);
      store<f64>(q, (g + fw * ig) / area, 8);
      store<f64>(q, (bl + fw * ib) / area, 16);
    }
  }
}

// The field-of-view search's brightness map (findFovCircle in shared/preprocess/fov.ts): per k×k block of the
// W×H image at `src` (C bytes per pixel), the mean of max(R,G,B) over its pixels on rows and columns `step`
// apart (rows from the first multiple of step in the block, columns from the block's first); a whole-number
// sum divided once, as in fov.ts. Writes mw·mh f64 to `out`.
export function brightnessMap(src: usize, W: i32, H: i32, C: i32, k: i32, step: i32, out: usize): void {
  const mw = (W + k - 1) / k;
  const mh = (H + k - 1) / k;
  const rowBytes = <usize>W * <usize>C;
  const pxStep = <usize>(step * C);
  let q = out;
  for (let my = 0; my < mh; my++) {
    const y0 = ((my * k + step - 1) / step) * step;
    const y1 = min(H, (my + 1) * k);
    for (let mx = 0; mx < mw; mx++, q += 8) {
      const x0 = mx * k;
      const x1 = min(W, x0 + k);
      let s: i32 = 0;
      let n: i32 = 0;
      for (let y = y0; y < y1; y += step) {
        const row = src + <usize>y * rowBytes;
        const end = row + <usize>x1 * <usize>C;
        for (let p = row + <usize>x0 * <usize>C; p < end; p += pxStep) {
          const r = <i32>load<u8>(p);
          const g = <i32>load<u8>(p, 1);
          const b = <i32>load<u8>(p, 2);
          s += max(max(r, g), b);
          n++;
        }
      }
      store<f64>(q, <f64>s / <f64>n);
    }
  }
}

// The damage check's block steps (blockStepDamage in shared/damage.ts) for one block row: for block columns
// [bx0, bx1) at boundary row y, per channel the sum over 4 of the block's 8 columns of
// p(y) − p(y−1) − ½(p(y−3) − p(y−4)) − ½(p(y+4) − p(y+3)), divided by 4 (all multiples of ½: exact), into
// step[(rowBase + bx)·3 + ch] (f64). The image (W pixels wide, C bytes each) is at `src`.
export function blockSteps(src: usize, W: i32, C: i32, y: i32, bx0: i32, bx1: i32, step: usize, rowBase: i32): void {
  const rs = <usize>W * <usize>C;
  for (let bx = bx0; bx < bx1; bx++) {
    let s0: f64 = 0;
    let s1: f64 = 0;
    let s2: f64 = 0;
    for (let x = bx * 8; x < bx * 8 + 8; x += 2) {
      const q = src + <usize>y * rs + <usize>x * <usize>C;
      s0 += <f64>load<u8>(q) - <f64>load<u8>(q - rs) - 0.5 * (<f64>load<u8>(q - 3 * rs) - <f64>load<u8>(q - 4 * rs)) - 0.5 * (<f64>load<u8>(q + 4 * rs) - <f64>load<u8>(q + 3 * rs));
      s1 += <f64>load<u8>(q + 1) - <f64>load<u8>(q + 1 - rs) - 0.5 * (<f64>load<u8>(q + 1 - 3 * rs) - <f64>load<u8>(q + 1 - 4 * rs)) - 0.5 * (<f64>load<u8>(q + 1 + 4 * rs) - <f64>load<u8>(q + 1 + 3 * rs));
      s2 += <f64>load<u8>(q + 2) - <f64>load<u8>(q + 2 - rs) - 0.5 * (<f64>load<u8>(q + 2 - 3 * rs) - <f64>load<u8>(q + 2 - 4 * rs)) - 0.5 * (<f64>load<u8>(q + 2 + 4 * rs) - <f64>load<u8>(q + 2 + 3 * rs));
    }
    const o = step + (<usize>(rowBase + bx) * 24);
    store<f64>(o, s0 / 4);
    store<f64>(o, s1 / 4, 8);
    store<f64>(o, s2 / 4, 16);
  }
}

// The model input from a shrink's output (preprocessDetailed in shared/preprocess/apply.ts, Graham off):
// dst[i] (f32) = (src[i] / 255 − mean[c]) / std[c] over n RGB values, in f64 then rounded to f32, as there.
export function normalize(src: usize, n: i32, dst: usize, m0: f64, m1: f64, m2: f64, s0: f64, s1: f64, s2: f64): void {
  for (let i = 0; i < n; i += 3) {
    const p = src + (<usize>i << 3);
    const q = dst + (<usize>i << 2);
    store<f32>(q, <f32>((load<f64>(p) / 255 - m0) / s0));
    store<f32>(q, <f32>((load<f64>(p, 8) / 255 - m1) / s1), 4);
    store<f32>(q, <f32>((load<f64>(p, 16) / 255 - m2) / s2), 8);
  }
}
