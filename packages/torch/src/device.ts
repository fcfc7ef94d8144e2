// Devices and threads.
import { native } from './native.js';

export const cuda = {
  isAvailable: (): boolean => native.cudaIsAvailable(),
  deviceCount: (): number => native.cudaDeviceCount(),
  /** Waits for all queued work on the device (for timing). */
  synchronize: (device?: number): void => native.cudaSynchronize(device),
};

export function getNumThreads(): number {
  return native.getNumThreads();
}
export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}
/** libtorch's version, whether this addon was built with CUDA, and its parallel/BLAS configuration. */
export function buildInfo(): { torchVersion: string; cudaBuild: boolean; parallelInfo: string; config: string } {
  return native.buildInfo();
}
/** Native tensors currently alive (not disposed, not finalized): for leak tests. */
export function liveTensors(): number {
  return native.liveTensors();
}
/** The best available device: `cuda:0` when present, else `cpu`. */
export function defaultDevice(): string {
  return native.cudaIsAvailable() ? 'cuda:0' : 'cpu';
}
