// ES module face of purr.js: `import Purr from './purr.mjs'` (or `import { Purr } from ...`).
import './purr.js';

export const Purr = globalThis.Purr;
export default Purr;
