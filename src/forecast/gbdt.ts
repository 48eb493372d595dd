/**
 * Gradient-boosted regression trees (squared loss), the small core LightGBM and scikit-learn's
 * HistGradientBoosting share: features are bucketed into at most `maxBins` quantile bins once, each tree is
 * grown leaf-wise (the leaf whose best split gains most is split next) from per-leaf gradient histograms,
 * the larger child's histogram is the parent's minus the smaller child's, and boosting stops early when the
 * loss on a time-ordered validation tail has not improved for `patience` rounds (the trees after the best
 * round are dropped). Deterministic: no sampling.
 */

export interface BoostOptions {
  /** Most boosting rounds (trees). */
  readonly rounds: number;
  /** Shrinkage applied to every tree's leaf values. */
  readonly learningRate: number;
  /** Leaves per tree. */
  readonly maxLeaves: number;
  /** Fewest training rows in a leaf. */
  readonly minLeaf: number;
  /** L2 penalty on leaf values (added to the row count in the leaf). */
  readonly lambda: number;
  /** Histogram bins per feature, at most 256. */
  readonly maxBins: number;
  /** Rounds without a better validation loss before stopping. */
  readonly patience: number;
}

export const BOOST_DEFAULTS: BoostOptions = { rounds: 400, learningRate: 0.05, maxLeaves: 31, minLeaf: 20, lambda: 1, maxBins: 64, patience: 40 };

/** One tree in flat arrays; node 0 is the root. A node with `feature[i] < 0` is a leaf worth `value[i]`. */
export interface Tree {
  readonly feature: number[];
  /** Rows with `x[feature] <= threshold` go left. */
  readonly threshold: number[];
  readonly left: number[];
  readonly right: number[];
  readonly value: number[];
}

export interface BoostedModel {
  readonly features: number;
  /** The starting prediction (mean of the training targets). */
  readonly base: number;
  readonly trees: Tree[];
}

export interface BoostResult {
  readonly model: BoostedModel;
  /** Mean squared error on the validation rows at the kept round (NaN without validation rows). */
  readonly validLoss: number;
  /** Predictions of the kept model on the validation rows, in their order. */
  readonly validPredictions: Float64Array;
}

/** A row-major matrix: row r, feature f at `data[r * features + f]`. */
export interface Matrix {
  readonly rows: number;
  readonly features: number;
  readonly data: Float64Array;
}

export function predictRow(m: BoostedModel, x: ArrayLike<number>, offset = 0): number {
  let out = m.base;
  for (const t of m.trees) {
    let i = 0;
    while (t.feature[i] >= 0) i = x[offset + t.feature[i]] <= t.threshold[i] ? t.left[i] : t.right[i];
    out += t.value[i];
  }
  return out;
}

/**
 * A boosted model in flat typed arrays, for prediction and for memory: all trees' nodes in one set of arrays,
 * 14 bytes a node against about 40 for `Tree`'s number arrays (a service holds one model per target). Tree t
 * starts at node `roots[t]`. An internal node sends `x[feature[k]] <= split[k]` to `left[k]` and the rest to
 * `left[k] + 1` (the grower always places the two children side by side); a leaf (`feature[k] < 0`) is worth
 * `split[k]`.
 */
export interface Forest {
  readonly features: number;
  readonly base: number;
  readonly roots: Int32Array;
  readonly feature: Int16Array;
  readonly split: Float64Array;
  readonly left: Int32Array;
}

/** Packs a model into a `Forest`; throws when a tree is not in the grower's layout (a hand-made or corrupt one). */
export function toForest(m: BoostedModel): Forest {
  if (!(m.features >= 1 && m.features <= 32767)) throw new Error(`a model needs 1 to 32767 features, ${m.features} given`);
  const total = m.trees.reduce((a, t) => a + t.feature.length, 0);
  const f = { features: m.features, base: m.base, roots: new Int32Array(m.trees.length), feature: new Int16Array(total), split: new Float64Array(total), left: new Int32Array(total) };
  let at = 0;
  m.trees.forEach((t, i) => {
    const n = t.feature.length;
    if ([t.threshold, t.left, t.right, t.value].some((a) => a.length !== n)) throw new Error(`tree ${i}: its arrays differ in length`);
    f.roots[i] = at;
    for (let k = 0; k < n; k++) {
      const leaf = t.feature[k] < 0;
      if (!leaf && !(Number.isInteger(t.feature[k]) && t.feature[k] < m.features && t.left[k] > k && t.left[k] + 1 < n && t.right[k] === t.left[k] + 1)) {
        throw new Error(`tree ${i}, node ${k}: needs a feature below ${m.features} and two children side by side after it`);
      }
      f.feature[at + k] = leaf ? -1 : t.feature[k];
      f.split[at + k] = leaf ? t.value[k] : t.threshold[k];
      f.left[at + k] = leaf ? -1 : at + t.left[k];
    }
    at += n;
  });
  return f;
}

/** The `BoostedModel` a forest was packed from (what trees.json holds). */
export function fromForest(f: Forest): BoostedModel {
  const trees: Tree[] = Array.from(f.roots, (root, i) => {
    const end = i + 1 < f.roots.length ? f.roots[i + 1] : f.feature.length;
    const tree: Tree = { feature: [], threshold: [], left: [], right: [], value: [] };
    for (let k = root; k < end; k++) {
      const leaf = f.feature[k] < 0;
      tree.feature.push(leaf ? -1 : f.feature[k]);
      tree.threshold.push(leaf ? 0 : f.split[k]);
      tree.left.push(leaf ? -1 : f.left[k] - root);
      tree.right.push(leaf ? -1 : f.left[k] - root + 1);
      tree.value.push(leaf ? f.split[k] : 0);
    }
    return tree;
  });
  return { features: f.features, base: f.base, trees };
}

/** `predictRow` on a forest: the same sum, in the same order. */
export function predictForest(f: Forest, x: ArrayLike<number>, offset = 0): number {
  let out = f.base;
  for (let t = 0; t < f.roots.length; t++) {
    let i = f.roots[t];
    while (f.feature[i] >= 0) i = x[offset + f.feature[i]] <= f.split[i] ? f.left[i] : f.left[i] + 1;
    out += f.split[i];
  }
  return out;
}

/** Up to `maxBins − 1` cut points per feature at quantiles of its values (distinct, ascending). */
function cutPoints(x: Matrix, rows: number, maxBins: number): Float64Array[] {
  const cuts: Float64Array[] = [];
  const stride = Math.max(1, Math.floor(rows / 20000));
  for (let f = 0; f < x.features; f++) {
    const vals: number[] = [];
    for (let r = 0; r < rows; r += stride) vals.push(x.data[r * x.features + f]);
    vals.sort((a, b) => a - b);
    const distinct = vals.filter((v, i) => i === 0 || v !== vals[i - 1]);
    const out: number[] = [];
    if (distinct.length <= maxBins) {
      for (let i = 0; i + 1 < distinct.length; i++) out.push((distinct[i] + distinct[i + 1]) / 2);
    } else {
      for (let b = 1; b < maxBins; b++) {
        const v = vals[Math.min(vals.length - 1, Math.floor((b * vals.length) / maxBins))];
        if (out.length === 0 || v > out[out.length - 1]) out.push(v);
      }
    }
    cuts.push(Float64Array.from(out));
  }
  return cuts;
}

/** Index of the first cut >= v (cuts.length when none): the bin whose rows satisfy v <= cut. */
function binOf(cuts: Float64Array, v: number): number {
  let lo = 0;
  let hi = cuts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cuts[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface Split {
  readonly gain: number;
  readonly feature: number;
  readonly bin: number;
}

interface Leaf {
  readonly node: number;
  readonly begin: number;
  readonly end: number;
  readonly sumG: number;
  readonly hist: Float64Array;
  readonly count: Float64Array;
  split: Split | undefined;
}

/** The training rows bucketed: `bins[f * rows + r]` is row r's bin of feature f (bin b: value <= cuts[f][b]). */
interface Binned {
  readonly bins: Uint8Array;
  readonly rows: number;
  readonly features: number;
  readonly cuts: Float64Array[];
}

function binRows(x: Matrix, rows: number, maxBins: number): Binned {
  const F = x.features;
  const cuts = cutPoints(x, rows, maxBins);
  const bins = new Uint8Array(F * rows);
  for (let f = 0; f < F; f++) for (let r = 0; r < rows; r++) bins[f * rows + r] = binOf(cuts[f], x.data[r * F + f]);
  return { bins, rows, features: F, cuts };
}

/** Index of the leaf whose split gains most, −1 when none can be split. */
function bestLeaf(leaves: readonly Leaf[]): number {
  let pick = -1;
  for (let i = 0; i < leaves.length; i++) {
    const s = leaves[i].split;
    if (s && (pick < 0 || s.gain > (leaves[pick].split as Split).gain)) pick = i;
  }
  return pick;
}

class Grower {
  private readonly nb: number;
  private readonly bins: Uint8Array;
  private readonly rows: number;
  private readonly features: number;
  private readonly cuts: Float64Array[];

  constructor(
    b: Binned,
    private readonly o: BoostOptions,
  ) {
    this.nb = o.maxBins;
    ({ bins: this.bins, rows: this.rows, features: this.features, cuts: this.cuts } = b);
  }

  private histogram(order: Int32Array, begin: number, end: number, g: Float64Array): { hist: Float64Array; count: Float64Array } {
    const { nb, rows, bins } = this;
    const hist = new Float64Array(this.features * nb);
    const count = new Float64Array(this.features * nb);
    for (let f = 0; f < this.features; f++) {
      const col = f * rows;
      const off = f * nb;
      for (let k = begin; k < end; k++) {
        const r = order[k];
        const b = off + bins[col + r];
        hist[b] += g[r];
        count[b] += 1;
      }
    }
    return { hist, count };
  }

  private bestSplit(hist: Float64Array, count: Float64Array, sumG: number, n: number): Split | undefined {
    const { nb } = this;
    const { lambda, minLeaf } = this.o;
    const parent = (sumG * sumG) / (n + lambda);
    let best: Split | undefined;
    for (let f = 0; f < this.features; f++) {
      const off = f * nb;
      const usable = this.cuts[f].length;
      let gl = 0;
      let nl = 0;
      for (let b = 0; b < usable; b++) {
        gl += hist[off + b];
        nl += count[off + b];
        const nr = n - nl;
        if (nl < minLeaf) continue;
        if (nr < minLeaf) break;
        const gr = sumG - gl;
        const gain = (gl * gl) / (nl + lambda) + (gr * gr) / (nr + lambda) - parent;
        if (gain > 1e-12 && (best === undefined || gain > best.gain)) best = { gain, feature: f, bin: b };
      }
    }
    return best;
  }

  /** Moves the leaf's rows with bin <= split.bin to its front; returns where the right child starts. */
  private partition(order: Int32Array, leaf: Leaf, split: Split): number {
    const col = split.feature * this.rows;
    let i = leaf.begin;
    let j = leaf.end - 1;
    while (i <= j) {
      if (this.bins[col + order[i]] <= split.bin) i++;
      else {
        const t = order[i];
        order[i] = order[j];
        order[j] = t;
        j--;
      }
    }
    return i;
  }

  /** The two children of a split leaf, their histograms (the smaller built, the larger by subtraction) and best splits. */
  private children(order: Int32Array, g: Float64Array, leaf: Leaf, at: { readonly mid: number; readonly nodes: readonly [number, number] }): [Leaf, Leaf] {
    const { mid, nodes } = at;
    let gl = 0;
    for (let k = leaf.begin; k < mid; k++) gl += g[order[k]];
    const leftSmaller = mid - leaf.begin <= leaf.end - mid;
    const small = leftSmaller ? this.histogram(order, leaf.begin, mid, g) : this.histogram(order, mid, leaf.end, g);
    // The parent's histogram becomes the larger child's (the parent is split and never read again).
    const big = { hist: leaf.hist, count: leaf.count };
    for (let k = 0; k < big.hist.length; k++) {
      big.hist[k] -= small.hist[k];
      big.count[k] -= small.count[k];
    }
    const left: Leaf = { node: nodes[0], begin: leaf.begin, end: mid, sumG: gl, ...(leftSmaller ? small : big), split: undefined };
    const right: Leaf = { node: nodes[1], begin: mid, end: leaf.end, sumG: leaf.sumG - gl, ...(leftSmaller ? big : small), split: undefined };
    for (const c of [left, right]) c.split = this.bestSplit(c.hist, c.count, c.sumG, c.end - c.begin);
    return [left, right];
  }

  /** Grows one tree on the gradients `g` of the rows in `order` (permuted in place). */
  grow(order: Int32Array, g: Float64Array): { tree: Tree; leafOf: Int32Array } {
    const tree: Tree = { feature: [-1], threshold: [0], left: [-1], right: [-1], value: [0] };
    const n = order.length;
    let sumG = 0;
    for (let k = 0; k < n; k++) sumG += g[order[k]];
    const root = this.histogram(order, 0, n, g);
    const leaves: Leaf[] = [{ node: 0, begin: 0, end: n, sumG, ...root, split: undefined }];
    leaves[0].split = this.bestSplit(root.hist, root.count, sumG, n);
    while (leaves.length < this.o.maxLeaves) {
      const pick = bestLeaf(leaves);
      if (pick < 0) break;
      const leaf = leaves[pick];
      const split = leaf.split as Split;
      const mid = this.partition(order, leaf, split);
      const ln = tree.feature.length;
      tree.feature[leaf.node] = split.feature;
      tree.threshold[leaf.node] = this.cuts[split.feature][split.bin];
      tree.left[leaf.node] = ln;
      tree.right[leaf.node] = ln + 1;
      for (let k = 0; k < 2; k++) {
        tree.feature.push(-1);
        tree.threshold.push(0);
        tree.left.push(-1);
        tree.right.push(-1);
        tree.value.push(0);
      }
      const [left, right] = this.children(order, g, leaf, { mid, nodes: [ln, ln + 1] });
      leaves.splice(pick, 1, left, right);
    }
    const leafOf = new Int32Array(this.rows);
    for (const leaf of leaves) {
      const v = (-this.o.learningRate * leaf.sumG) / (leaf.end - leaf.begin + this.o.lambda);
      tree.value[leaf.node] = v;
      for (let k = leaf.begin; k < leaf.end; k++) leafOf[order[k]] = leaf.node;
    }
    return { tree, leafOf };
  }
}

/** Adds the tree's output to the predictions of the last `pred.length` rows; returns their mean squared error. */
function addTree(tree: Tree, x: Matrix, y: Float64Array, pred: Float64Array): number {
  const first = x.rows - pred.length;
  let loss = 0;
  for (let v = 0; v < pred.length; v++) {
    const at = (first + v) * x.features;
    let i = 0;
    while (tree.feature[i] >= 0) i = x.data[at + tree.feature[i]] <= tree.threshold[i] ? tree.left[i] : tree.right[i];
    pred[v] += tree.value[i];
    const e = pred[v] - y[first + v];
    loss += e * e;
  }
  return loss / pred.length;
}

function checkInputs(x: Matrix, y: Float64Array, rows: number, o: BoostOptions): void {
  if (!(o.maxBins >= 2 && o.maxBins <= 256)) throw new Error(`boost: maxBins must be 2..256, ${o.maxBins} given`);
  if (y.length !== x.rows) throw new Error(`boost: ${x.rows} rows but ${y.length} targets`);
  if (rows < 2 * o.minLeaf) throw new Error(`boost: ${rows} training rows, at least ${2 * o.minLeaf} needed`);
}

/**
 * Fits a boosted model of `y` on `x` (squared loss). The last `validRows` rows are the validation tail: never
 * trained on, they decide when to stop. Without validation rows every round is kept.
 */
export function boost(x: Matrix, y: Float64Array, validRows: number, options: Partial<BoostOptions> = {}): BoostResult {
  const o: BoostOptions = { ...BOOST_DEFAULTS, ...options };
  const rows = x.rows - validRows;
  checkInputs(x, y, rows, o);
  const F = x.features;
  let base = 0;
  for (let r = 0; r < rows; r++) base += y[r];
  base /= rows;
  const pred = new Float64Array(rows).fill(base);
  const validPred = new Float64Array(validRows).fill(base);
  const g = new Float64Array(rows);
  const order = new Int32Array(rows);
  const grower = new Grower(binRows(x, rows, o.maxBins), o);
  const trees: Tree[] = [];
  let best = { loss: Infinity, rounds: 0, preds: validPred.slice() };
  for (let round = 0; round < o.rounds; round++) {
    for (let r = 0; r < rows; r++) {
      g[r] = pred[r] - y[r];
      order[r] = r;
    }
    const { tree, leafOf } = grower.grow(order, g);
    trees.push(tree);
    for (let r = 0; r < rows; r++) pred[r] += tree.value[leafOf[r]];
    if (validRows === 0) continue;
    const loss = addTree(tree, x, y, validPred);
    if (loss < best.loss - 1e-12) best = { loss, rounds: trees.length, preds: validPred.slice() };
    else if (trees.length - best.rounds >= o.patience) break;
  }
  const kept = validRows === 0 ? trees : trees.slice(0, best.rounds);
  return { model: { features: F, base, trees: kept }, validLoss: validRows === 0 ? NaN : best.loss, validPredictions: validRows === 0 ? validPred : best.preds };
}
