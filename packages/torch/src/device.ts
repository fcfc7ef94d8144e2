// Devices and threads.
import { type CpuBlockCache, native, type MallocSettings } from './native.js';

export const cuda = {
  isAvailable: (): boolean => native.cudaIsAvailable(),
  deviceCount: (): number => native.cudaDeviceCount(),
  /** Waits for all queued work on the device (for timing). */
  synchronize: (device?: number): void => native.cudaSynchronize(device),
};

export function getNumThreads(): number {
  return native.getNumThreads();
}
/**
 * Sets libtorch's intra-op threads and, on an OpenBLAS build, OpenBLAS's own pool to the same n
 * (libtorch alone leaves OpenBLAS at one spinning thread per core; native/device.cc).
 */
export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}
/** OpenBLAS's own thread count, or undefined when libtorch does not run on OpenBLAS. */
export function blasThreads(): number | undefined {
  const n = native.blasThreads();
  return n < 0 ? undefined : n;
}
/**
 * The glibc malloc settings the addon applied when it loaded (native/allocator.cc says why), in
 * bytes; `applied: false` off glibc or with CDISTILL_MALLOC=default.
 */
export function mallocSettings(): MallocSettings {
  return native.mallocSettings();
}
/**
 * The per-thread cache of small CPU blocks that serves libtorch's tensors of up to 64 KiB
 * (native/cpu_block_cache.cc says why); `installed: false` with CDISTILL_CPU_ALLOCATOR=default.
 */
export function cpuBlockCache(): CpuBlockCache {
  return native.cpuBlockCache();
}
/** libtorch's version, whether this addon was built with CUDA, and its parallel/BLAS configuration. */
export function buildInfo(): { torchVersion: string; cudaBuild: boolean; parallelInfo: string; config: string } {
  return native.buildInfo();
}
/** Native tensors currently alive (not disposed, not finalized): for leak tests. */
export function liveTensors(): number {
  return native.liveTensors();
}
/**
 * Bytes of the tensors the GC may free (those that left every scope), as counted for V8's external
 * memory: scoped tensors are not counted, since their scope frees them. For tests.
 */
export function externalBytes(): number {
  return native.externalBytes();
}
/** The best available device: `cuda:0` when present, else `cpu`. */
export function defaultDevice(): string {
  return native.cudaIsAvailable() ? 'cuda:0' : 'cpu';
}

/**
 * Checks a device string before anything runs on it, in our words: `cpu`, `cuda` (= `cuda:0`) or
 * `cuda:N` on a libtorch that has CUDA and at least N+1 devices. Returns the canonical form.
 */
export function checkDevice(device: string): string {
  const m = /^(cpu|cuda)(?::(\d+))?$/.exec(device.trim());
  if (!m) {
    const other = /^(mps|xpu|hip|xla|vulkan|meta|ipu|mkldnn)\b/.test(device)
      ? ` (this project runs on cpu and cuda; ${device.split(':')[0]} is not supported)`
      : '';
    throw new Error(`--device ${device}: unknown device; use cpu, cuda or cuda:N${other}`);
  }
  if (m[1] === 'cpu') {
    if (m[2] !== undefined && m[2] !== '0') throw new Error(`--device ${device}: there is one CPU device; use cpu`);
    return 'cpu';
  }
  const index = Number(m[2] ?? 0);
  if (!native.cudaIsAvailable()) {
    const built = native.buildInfo().cudaBuild;
    throw new Error(
      `--device ${device}: cuda requested but ${built ? 'no CUDA device is visible (driver, CUDA_VISIBLE_DEVICES?)' : 'this libtorch has no CUDA (a CPU build); use --device cpu, or build against a CUDA libtorch (LIBTORCH_USE_PYTORCH=1)'}`,
    );
  }
  const n = native.cudaDeviceCount();
  if (index >= n)
    throw new Error(
      `--device ${device}: cuda:${index} does not exist: only ${n} CUDA device${n === 1 ? '' : 's'} (cuda:0${n > 1 ? `..cuda:${n - 1}` : ''})`,
    );
  return `cuda:${index}`;
}
