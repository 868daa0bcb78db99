/**
 * What the other folders import through quant/: resolving, applying and describing recipes. The public API
 * (src/index.ts) and code inside quant/ import the files themselves.
 */
export type { Recipe } from './recipe.js';
export { preset, presetNames, recipeFromData, resolveRecipe } from './presets.js';
export { applyRecipe, formatResolved } from './apply.js';
