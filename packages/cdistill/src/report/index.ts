// `cdistill report`: the run report (page.ts) and the pieces other reports (the demo's) build on.
export * from './bench-section.js';
export * from './html.js';
export * from './log.js';
export * from './page.js';
export * from './plots.js';
export * from './sections.js';
