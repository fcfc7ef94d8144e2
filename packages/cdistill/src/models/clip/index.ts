export * from './config.js';
export * from './text-tower.js';
export * from './encoder.js';
