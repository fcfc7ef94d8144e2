// Entry point for the VAE family; the implementation lives in ./vae/ (one file per upstream module).
export * from './vae/index.js';
