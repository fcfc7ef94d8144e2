export * from './adamw.js';
export * from './clip.js';
export * from './schedule.js';
