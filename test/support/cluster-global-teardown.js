// Jest global teardown: see cluster-global.js.
export { teardown as default } from './cluster-global.js';
