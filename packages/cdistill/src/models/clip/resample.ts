// Bicubic resizing of 8-bit RGB images with the arithmetic of Pillow's Image.resize(BICUBIC), which
// is what OpenCLIP's torchvision Resize runs on a PIL image: two separable passes (width, then
// height; a pass is skipped when that side keeps its size), each output pixel a weighted sum of the
// inputs under the Keys cubic (a = −0.5) stretched by the downscale factor (antialiasing), weights
// normalised to sum 1, rounded to 22-bit fixed point, and the result rounded and clamped to 8 bits
// after each pass. Matching Pillow's rounding byte for byte is what makes the CLIP inputs, and so the
// scores, equal to OpenCLIP's on the same files.

/** Interleaved RGB bytes, row-major: `data[(y · width + x) · 3 + c]`. */
export interface Rgb8Image {
  width: number;
  height: number;
  data: Uint8Array;
}

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;

function cubic(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

/** For each output index: the first input index and the fixed-point weights of its window. */
interface Coeffs {
  start: Int32Array;
  weights: Int32Array[];
}

function coefficients(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const start = new Int32Array(outSize);
  const weights: Int32Array[] = [];
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    // C's (int) cast truncates; the clamp makes truncation and floor agree here.
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    const w = new Float64Array(hi - lo);
    let sum = 0;
    for (let j = 0; j < w.length; j++) {
      w[j] = cubic((j + lo - center + 0.5) / filterScale);
      sum += w[j]!;
    }
    const fixed = new Int32Array(w.length);
    for (let j = 0; j < w.length; j++) {
      const v = sum === 0 ? w[j]! : w[j]! / sum;
      // Round half away from zero, as Pillow's (int)(v ± 0.5) does.
      fixed[j] = Math.trunc(v < 0 ? -0.5 + v * ONE : 0.5 + v * ONE);
    }
    start[i] = lo;
    weights.push(fixed);
  }
  return { start, weights };
}

/** The fixed-point accumulator (started at ½) → a byte: Pillow's clip8. */
function clip8(acc: number): number {
  if (acc >= ONE * 256) return 255;
  if (acc <= 0) return 0;
  return Math.floor(acc / ONE);
}

function resizeWidth(img: Rgb8Image, outW: number): Rgb8Image {
  const { width, height, data } = img;
  const k = coefficients(width, outW);
  const out = new Uint8Array(outW * height * 3);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < outW; x++) {
      const w = k.weights[x]!;
      const s0 = k.start[x]!;
      for (let c = 0; c < 3; c++) {
        let acc = ONE / 2;
        for (let j = 0; j < w.length; j++) acc += data[row + (s0 + j) * 3 + c]! * w[j]!;
        out[(y * outW + x) * 3 + c] = clip8(acc);
      }
    }
  }
  return { width: outW, height, data: out };
}

function resizeHeight(img: Rgb8Image, outH: number): Rgb8Image {
  const { width, height, data } = img;
  const k = coefficients(height, outH);
  const out = new Uint8Array(width * outH * 3);
  const stride = width * 3;
  for (let y = 0; y < outH; y++) {
    const w = k.weights[y]!;
    const s0 = k.start[y]!;
    for (let i = 0; i < stride; i++) {
      let acc = ONE / 2;
      for (let j = 0; j < w.length; j++) acc += data[(s0 + j) * stride + i]! * w[j]!;
      out[y * stride + i] = clip8(acc);
    }
  }
  return { width, height: outH, data: out };
}

/** Pillow's `img.resize((outW, outH), Image.BICUBIC)` for an RGB image. */
export function resizeBicubic(img: Rgb8Image, outW: number, outH: number): Rgb8Image {
  if (img.data.length !== img.width * img.height * 3)
    throw new Error(`resizeBicubic: ${img.data.length} bytes is not ${img.width}×${img.height} RGB`);
  if (!(Number.isInteger(outW) && Number.isInteger(outH) && outW > 0 && outH > 0))
    throw new Error(`resizeBicubic: output size must be positive integers (got ${outW}×${outH})`);
  const a = outW === img.width ? img : resizeWidth(img, outW);
  return outH === a.height ? a : resizeHeight(a, outH);
}

/** The `width`×`height` window at (`left`, `top`) of an image. */
export function crop(img: Rgb8Image, left: number, top: number, width: number, height: number): Rgb8Image {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * img.width + left) * 3;
    out.set(img.data.subarray(from, from + width * 3), y * width * 3);
  }
  return { width, height, data: out };
}
