export * from './elementwise.js';
export * from './reduce.js';
export * from './movement.js';
export * from './matmul.js';
export * from './conv.js';
export * from './pool.js';
export * from './norm.js';
export * from './loss.js';
