// The script of autodiff.explore's page: steps through the backward pass on the picture.
// Everything it shows comes from the JSON in #ad-data (written by autodiff/explorer); all
// text is set with textContent, never parsed as HTML. Nothing is fetched.
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("ad-data").textContent);
  const nodes = data.nodes;
  const steps = data.steps;
  const places = data.places;
  const N = steps.length;
  const rootName = nodes[data.output].name;
  const $ = (id) => document.getElementById(id);
  const svg = $("ad-svg");
  const graph = $("ad-graph");

  // ---- small DOM helpers -------------------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "style") node.setAttribute("style", value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function plural(n, word) {
    return `${n.toLocaleString("en")} ${word}${n === 1 ? "" : "s"}`;
  }

  // a name as a term of a formula: in parentheses unless it is a plain name (x1, layers.0.b)
  function term(name) {
    return /^[\p{L}_][\p{L}\p{N}_.]*$/u.test(name) ? name : `(${name})`;
  }

  function shapeText(q) {
    return q && q.shape ? `(${q.shape.join(", ")}${q.shape.length === 1 ? "," : ""})` : "";
  }

  // ---- indexes over the data ---------------------------------------------------------------

  // the steps (numbered 1..N) whose product flows into each node, in order
  const stepsInto = nodes.map(() => []);
  steps.forEach((s, k) => stepsInto[s.node].push(k + 1));

  // runs: consecutive steps drawn at the same place (inside one group box, along one bundle)
  const runOf = new Int32Array(N + 1);
  const runStart = [0];
  const runEnd = [0];
  for (let k = 1; k <= N; k++) {
    if (k === 1 || steps[k - 1].place !== steps[k - 2].place) {
      runStart.push(k);
      runEnd.push(k);
    }
    runOf[k] = runStart.length - 1;
    runEnd[runEnd.length - 1] = k;
  }
  const runsMatter = runStart.length - 1 < N;

  // SVG elements by id, looked up once
  const elements = new Map();
  function svgElement(id) {
    if (!elements.has(id)) elements.set(id, document.getElementById(id));
    return elements.get(id);
  }

  // the last step along each edge of the picture, so edges passed can be marked
  const edgeLast = new Map();
  steps.forEach((s, k) => {
    const edge = places[s.place].edge;
    if (edge) edgeLast.set(edge, k + 1);
  });

  // boxes: a value's own (n<i>), its op's ellipse (n<i>op), a group's (g<k>), the hidden values'
  const ownBox = new Map(); // box id -> node index
  const members = new Map(); // group or hidden box id -> node indices
  nodes.forEach((n, i) => {
    if (n.box === `n${i}`) ownBox.set(n.box, i);
    else {
      if (!members.has(n.box)) members.set(n.box, []);
      members.get(n.box).push(i);
    }
  });
  function boxName(id) {
    if (ownBox.has(id)) return nodes[ownBox.get(id)].name;
    if (id === "hidden") return "the values beyond the node budget";
    const box = svgElement(id);
    const first = box && box.querySelector("text");
    return first ? first.textContent : id;
  }

  // each value box's "grad ..." text, which the steps fill in
  const gradTexts = new Map(); // node index -> {text, width}
  for (const [id, i] of ownBox) {
    const box = svgElement(id);
    if (!box) continue;
    const text = Array.from(box.querySelectorAll("text")).find(
      (t) => t.textContent === "grad not computed"
    );
    if (!text) continue;
    const outline = box.querySelector("polygon");
    const width = outline ? outline.getBBox().width : 0;
    gradTexts.set(i, { text, width });
  }

  // a bar along the foot of each group box (and the hidden values' box): the share of its
  // values that have their gradient so far
  const bars = new Map(); // box id -> {fill, width, list}
  for (const [id, list] of members) {
    const box = svgElement(id);
    const outline = box && box.querySelector("polygon");
    const receiving = list.filter((i) => nodes[i].gets_grad);
    if (!outline || !receiving.length) continue;
    const b = outline.getBBox();
    const make = (cls, width) => {
      const rect = document.createElementNS(svg.namespaceURI, "rect");
      rect.setAttribute("class", cls);
      rect.setAttribute("x", String(b.x + 6));
      rect.setAttribute("y", String(b.y + b.height - 8));
      rect.setAttribute("width", String(width));
      rect.setAttribute("height", "4");
      box.append(rect);
      return rect;
    };
    const width = Math.max(b.width - 16, 4);
    make("ad-bar", width);
    bars.set(id, { fill: make("ad-bar-fill", 0), width, list: receiving });
  }

  // ---- what a step shows -------------------------------------------------------------------

  // the gradient of node i once step s is taken (null: not computed yet)
  function gradientAt(i, s) {
    if (i === data.output) return s >= 1 || N === 0 ? data.seed : null;
    const k = lastStepInto(i, s);
    return k === 0 ? null : steps[k - 1].accumulated;
  }

  // the last step by step s whose product flowed into node i (0: none yet)
  function lastStepInto(i, s) {
    if (i === data.output) return s >= 1 ? 0.5 : 0; // the seed, before step 1
    const into = stepsInto[i];
    let lo = 0;
    let hi = into.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (into[mid] <= s) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0 : into[lo - 1];
  }

  function pathsAt(i, s) {
    return stepsInto[i].filter((k) => k <= s).length;
  }

  function quantityText(q) {
    return q ? q.text : "";
  }

  // ---- state -------------------------------------------------------------------------------

  let current = -1;
  let playing = false;
  let timer = null;
  let pinned = null; // {kind: "node", i} or {kind: "box", id}: what the details panel keeps
  let shown = null; // what it shows now (pinned, or hovered)
  let outlined = [];
  let fit = true;

  const slider = $("ad-slider");
  slider.max = String(N);
  const buttons = {
    first: $("ad-first"),
    prevBox: $("ad-prev-box"),
    prev: $("ad-prev"),
    play: $("ad-play"),
    next: $("ad-next"),
    nextBox: $("ad-next-box"),
    last: $("ad-last"),
  };
  if (runsMatter) {
    buttons.prevBox.hidden = false;
    buttons.nextBox.hidden = false;
  }

  function go(s) {
    s = Math.max(0, Math.min(N, s | 0));
    if (s === current) return;
    current = s;
    render();
  }

  function nextBox() {
    if (current >= N) return;
    go(current === 0 ? 1 : runEnd[runOf[current]] + 1);
  }

  function prevBox() {
    if (current <= 0) return;
    const run = runOf[current];
    // to the start of this run from inside it (as a player's "previous"), else the one before
    if (current > runStart[run]) go(runStart[run]);
    else go(run > 1 ? runStart[run - 1] : 0);
  }

  function render() {
    const s = current;
    for (const item of outlined) item.classList.remove("ad-current");
    outlined = [];
    if (s >= 1) {
      for (const id of places[steps[s - 1].place].ids) {
        const item = svgElement(id);
        if (item) {
          item.classList.add("ad-current");
          outlined.push(item);
        }
      }
    }
    for (const [edge, last] of edgeLast) {
      const item = svgElement(edge);
      if (item) item.classList.toggle("ad-done", last <= s);
    }
    const receiving = s >= 1 ? steps[s - 1].node : s === 0 ? -1 : -1;
    for (const [i, slot] of gradTexts) {
      const q = gradientAt(i, s);
      setGradText(slot, q ? `grad ${q.text}` : "grad not computed");
      slot.text.classList.toggle("ad-grad", q !== null);
      slot.text.classList.toggle("ad-grad-new", i === receiving || (i === data.output && s === 1));
    }
    for (const bar of bars.values()) {
      const done = bar.list.filter((i) => gradientAt(i, s) !== null).length;
      bar.fill.setAttribute("width", String((bar.width * done) / bar.list.length));
    }
    slider.value = String(s);
    const counter = `Step ${s.toLocaleString("en")} of ${N.toLocaleString("en")}`;
    $("ad-counter").textContent = counter;
    $("ad-step-title").textContent = s === 0 ? "Step 0: the forward pass" : counter;
    slider.setAttribute("aria-valuetext", `${counter}: ${stepSummary(s)}`);
    buttons.first.disabled = buttons.prev.disabled = buttons.prevBox.disabled = s === 0;
    buttons.last.disabled = buttons.next.disabled = buttons.nextBox.disabled = s === N;
    renderStep(s);
    renderDetails();
    renderTable();
    keepInView();
  }

  function setGradText(slot, value) {
    const text = slot.text;
    if (text.textContent === value) return;
    text.textContent = value;
    text.removeAttribute("textLength");
    text.removeAttribute("lengthAdjust");
    // a long gradient is squeezed into its box rather than spilling over the next one
    if (slot.width > 0 && value.length > 17) {
      const room = slot.width - 8;
      if (text.getComputedTextLength() > room) {
        text.setAttribute("textLength", String(room));
        text.setAttribute("lengthAdjust", "spacingAndGlyphs");
      }
    }
  }

  function stepSummary(s) {
    if (s === 0) return "the forward pass; no gradient computed yet";
    const st = steps[s - 1];
    return (
      `${nodes[st.node].name} receives ${st.upstream.text} times ${st.local.text} equals ` +
      `${st.product.text} from ${nodes[st.output].name}; its gradient so far ` +
      `${st.accumulated.text}`
    );
  }

  function renderStep(s) {
    const box = $("ad-step");
    box.replaceChildren();
    if (s === 0) {
      box.append(
        el("p", { class: "ad-where" }, el("strong", {}, "Forward pass"), ": every value is ",
          "computed; no gradient is yet (the boxes read ", el("em", {}, "grad not computed"),
          ")."),
        N === 0
          ? el("p", {}, `${rootName} is a leaf: backward() only gives it its own gradient, `,
              el("strong", { class: "ad-mono" }, data.seed.text), ".")
          : el("p", {}, "The backward pass starts at the output ",
              el("strong", { class: "ad-mono" }, rootName), ": its gradient with respect to ",
              "itself is ", el("strong", { class: "ad-mono" }, data.seed.text),
              `. Press → or Next to take the first of its ${plural(N, "step")}.`)
      );
      return;
    }
    const st = steps[s - 1];
    const input = nodes[st.node];
    const output = nodes[st.output];
    const place = places[st.place];
    const nInputs = output.inputs.length;
    box.append(
      el("p", { class: "ad-where" }, "Gradient flows from ",
        el("strong", { class: "ad-mono" }, output.name), " back to ",
        el("strong", { class: "ad-mono" }, input.name),
        el("span", { class: "ad-hint" },
          ` (input ${st.slot + 1} of ${nInputs} of the op ${st.op})`))
    );
    const isTensor = data.tensor;
    const local = st.formula
      ? st.formula
      : st.local.text + (isTensor && st.local.shape ? ` ${shapeText(st.local)}` : "");
    const d = (a, b) => `\u2202${term(a)}/\u2202${term(b)}`;
    const rows = [
      ["upstream", quantityText(st.upstream) + (isTensor ? ` ${shapeText(st.upstream)}` : ""),
        `${d(rootName, output.name)}: the gradient that reached ${output.name}`],
      ["\u00d7 local", local, `${d(output.name, input.name)}: the label on this edge`],
      ["= product", quantityText(st.product) + (isTensor ? ` ${shapeText(st.product)}` : ""),
        isTensor
          ? `what this path adds to ${input.name}'s gradient (upstream through the op's ` +
            "vector-Jacobian product)"
          : `what this path adds to ${input.name}'s gradient`],
    ];
    // scalars: number and reason side by side; arrays: the reason under the (long) value
    box.append(
      el("table", { class: isTensor ? "ad-eq ad-eq-tensor" : "ad-eq" },
        el("tbody", {}, rows.map(([head, value, why], r) =>
          el("tr", { class: r === 2 ? "ad-product" : null },
            el("th", { scope: "row" }, head),
            isTensor
              ? el("td", {}, el("div", { class: "ad-num" }, value), el("div", { class: "ad-why" }, why))
              : [el("td", { class: "ad-num" }, value), el("td", { class: "ad-why" }, why)]))))
    );
    const into = stepsInto[st.node];
    const k = pathsAt(st.node, s);
    const sum = el("p", { class: "ad-sum" }, `${input.name}'s gradient so far: `,
      el("strong", { class: "ad-mono" }, st.accumulated.text),
      el("span", { class: "ad-hint" }, `  (${k} of ${plural(into.length, "path")} summed)`));
    if (k === into.length) {
      sum.append(" ", el("span", { class: "ad-final" },
        input.kept
          ? "\u2713 final: what backward() stores in .grad"
          : "\u2713 final (backward() passes it on; it keeps it only after retain_grad())"));
    }
    box.append(sum);
    if (place.inside) {
      const run = runOf[s];
      box.append(el("p", { class: "ad-hint" },
        `This step is inside the box ${boxName(place.inside)}, outlined in the picture` +
        (runEnd[run] > runStart[run]
          ? ` (steps ${runStart[run]}\u2013${runEnd[run]} all are; Shift+\u2192 jumps past them).`
          : ".")));
    } else if (place.edge && !place.edge.match(/-\d+$/)) {
      box.append(el("p", { class: "ad-hint" },
        `The picture draws this step along the edge from ${boxName(place.boxes[0])} to ` +
        `${boxName(place.boxes[1])}, which bundles several.`));
    }
    if (s === N) {
      box.append(el("p", { class: "ad-final" },
        "Backward pass complete: every gradient is now what backward() computes."));
    }
  }

  // ---- details of a box ---------------------------------------------------------------------

  function show(target) {
    shown = target;
    renderDetails();
  }

  function renderDetails() {
    const box = $("ad-details");
    if (!shown) return;
    box.replaceChildren();
    if (shown.kind === "node") box.append(...nodeDetails(shown.i, shown.op));
    else box.append(...groupDetails(shown.id));
    if (pinned) box.append(el("p", { class: "ad-hint" }, "Pinned: click the box again to unpin."));
  }

  function roleChip(role) {
    const colour = getComputedStyle(document.documentElement).getPropertyValue(`--ad-${role}`);
    return el("span", { class: "ad-chip", style: `background:${colour.trim()}` }, role);
  }

  function arrayParts(q) {
    if (!q || !q.shape) return [];
    const parts = [el("dt", {}, "shape"), el("dd", { class: "ad-mono" }, `${shapeText(q)} ${q.dtype}`)];
    if (q.summary) parts.push(el("dt", {}, "summary"), el("dd", { class: "ad-mono" }, q.summary));
    if (q.entries) parts.push(el("dt", {}, "entries"), el("dd", { class: "ad-mono" }, q.entries));
    return parts;
  }

  function nodeDetails(i, viaOp) {
    const n = nodes[i];
    const s = current;
    const q = gradientAt(i, s);
    const rows = [el("dt", {}, "name"), el("dd", { class: "ad-mono" }, n.name)];
    if (n.label && n.label !== n.name) rows.push(el("dt", {}, "label"), el("dd", { class: "ad-mono" }, n.label));
    rows.push(el("dt", {}, "role"), el("dd", {}, roleChip(n.role)));
    const inputs = n.inputs.map((j) => nodes[j].name);
    rows.push(el("dt", {}, "op"), el("dd", {},
      n.op
        ? [el("span", { class: "ad-mono" }, n.op), ` of ${inputs.slice(0, 4).join(", ")}` +
          (inputs.length > 4 ? `, \u2026 (${inputs.length} inputs)` : "")]
        : "none: a leaf, made by you rather than by an op"));
    rows.push(el("dt", {}, "data"), el("dd", { class: "ad-mono" }, n.data.text));
    if (n.tensor) rows.push(...arrayParts(n.data).map((x) => x));
    let gradText;
    if (!n.gets_grad) gradText = "none: no gradient flows here (requires_grad is False)";
    else if (q === null) gradText = "not computed yet";
    else gradText = q.text;
    rows.push(el("dt", {}, "gradient"), el("dd", { class: "ad-mono" }, gradText));
    if (q && n.tensor) {
      for (const part of arrayParts(q)) {
        if (part.tagName === "DT") part.textContent = `grad ${part.textContent}`;
        rows.push(part);
      }
    }
    if (n.gets_grad && i !== data.output) {
      const k = pathsAt(i, s);
      const total = stepsInto[i].length;
      let state = `${k} of ${plural(total, "path")} summed`;
      if (k === total && total > 0) {
        state += n.kept ? ": final, as backward() stores it in .grad"
          : ": final; backward() passes it on and keeps it only after retain_grad()";
      }
      rows.push(el("dt", {}, "paths"), el("dd", {}, state));
    }
    if (!viaOp) return [el("dl", {}, rows)];
    const heading = el("p", { class: "ad-where" }, "The op ", el("strong", { class: "ad-mono" }, n.op),
      " that makes ", el("strong", { class: "ad-mono" }, n.name),
      ": each of its input edges is labelled with its local partial.");
    return [heading, el("dl", {}, rows)];
  }

  function groupDetails(id) {
    const list = members.get(id) || [];
    const s = current;
    const withGrad = list.filter((i) => gradientAt(i, s) !== null).length;
    const receiving = list.filter((i) => nodes[i].gets_grad).length;
    const parts = [
      el("p", { class: "ad-where" }, el("strong", {}, boxName(id)),
        el("span", { class: "ad-hint" }, `  ${plural(list.length, "value")} in one box`)),
      el("p", {}, `${withGrad.toLocaleString("en")} of ${receiving.toLocaleString("en")} ` +
        "values that receive a gradient have one so far."),
    ];
    // the values that received gradient most recently first: the step's own at the top
    const recent = list.map((i, order) => [lastStepInto(i, s), order, i]);
    recent.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    const shownRows = recent.slice(0, 14).map((entry) => entry[2]);
    const receivingNow = s >= 1 ? steps[s - 1].node : -1;
    parts.push(el("table", { class: "ad-members" },
      el("thead", {}, el("tr", {}, el("th", {}, "value"), el("th", {}, "op"),
        el("th", {}, "data"), el("th", {}, "gradient"))),
      el("tbody", {}, shownRows.map((i) => {
        const q = gradientAt(i, s);
        return el("tr", { class: i === receivingNow ? "ad-member-now" : null },
          el("td", { class: "ad-mono" }, nodes[i].name),
          el("td", { class: "ad-mono" }, nodes[i].op || "leaf"),
          el("td", { class: "ad-num" }, nodes[i].data.text),
          el("td", { class: "ad-num" }, q ? q.text : nodes[i].gets_grad ? "not computed" : "none"));
      }))));
    if (list.length > shownRows.length) {
      parts.push(el("p", { class: "ad-hint" },
        `\u2026 and ${plural(list.length - shownRows.length, "more value")}.`));
    }
    return parts;
  }

  function targetOf(g) {
    const id = g.id;
    if (ownBox.has(id)) return { kind: "node", i: ownBox.get(id) };
    const op = id.match(/^(n\d+)op$/);
    if (op && ownBox.has(op[1])) return { kind: "node", i: ownBox.get(op[1]), op: true };
    return { kind: "box", id };
  }

  function same(a, b) {
    return a && b && a.kind === b.kind && a.i === b.i && a.id === b.id && !!a.op === !!b.op;
  }

  function setPinned(target, g) {
    for (const item of svg.querySelectorAll(".ad-pinned")) item.classList.remove("ad-pinned");
    pinned = same(pinned, target) ? null : target;
    if (pinned) g.classList.add("ad-pinned");
    show(pinned || target);
  }

  for (const g of svg.querySelectorAll("g.node")) {
    const target = targetOf(g);
    const label = target.kind === "node"
      ? (target.op ? `op ${nodes[target.i].op} making ${nodes[target.i].name}` : `value ${nodes[target.i].name}`)
      : `box ${boxName(target.id)}`;
    g.setAttribute("tabindex", "0");
    g.setAttribute("role", "button");
    g.setAttribute("aria-label", `${label}: show its details`);
    g.addEventListener("mouseenter", () => show(target));
    // leaving a box keeps it shown (and kept up to date as steps pass) unless one is pinned
    g.addEventListener("mouseleave", () => {
      if (pinned) show(pinned);
    });
    g.addEventListener("focus", () => show(target));
    g.addEventListener("click", () => setPinned(target, g));
    g.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        event.stopPropagation();
        setPinned(target, g);
      }
    });
  }

  // ---- the trace table ---------------------------------------------------------------------

  const table = $("ad-table").tBodies[0];
  const traceBox = $("ad-trace");
  const WINDOW = 300;
  let rowsFrom = 0;
  let rowsTo = -1;

  function renderTable() {
    if (!traceBox.open) return;
    const s = Math.max(current, 1);
    if (N <= 2 * WINDOW) {
      if (rowsTo < 0) fillRows(1, N);
    } else if (rowsTo < 0 || s < rowsFrom + 40 || s > rowsTo - 40) {
      const from = Math.max(1, s - WINDOW);
      fillRows(from, Math.min(N, from + 2 * WINDOW));
      $("ad-trace-note").textContent =
        `Showing steps ${rowsFrom.toLocaleString("en")}\u2013${rowsTo.toLocaleString("en")} ` +
        `of ${N.toLocaleString("en")}, around the current one. Click a row to go to its step.`;
    }
    let currentRow = null;
    for (const row of table.rows) {
      const k = Number(row.dataset.step);
      row.classList.toggle("ad-row-current", k === current);
      row.classList.toggle("ad-row-future", k > current);
      if (k === current) currentRow = row;
    }
    if (currentRow) {
      const box = currentRow.closest(".ad-table-box");
      const top = currentRow.offsetTop - box.clientHeight / 2;
      if (currentRow.offsetTop < box.scrollTop + 30 ||
          currentRow.offsetTop > box.scrollTop + box.clientHeight - 30) box.scrollTop = Math.max(0, top);
    }
  }

  function fillRows(from, to) {
    rowsFrom = from;
    rowsTo = to;
    const rows = [];
    for (let k = from; k <= to; k++) {
      const st = steps[k - 1];
      rows.push(el("tr", { "data-step": k },
        el("td", {}, k), el("td", {}, nodes[st.node].name),
        el("td", {}, `${nodes[st.output].name} (${st.op})`),
        el("td", {}, st.upstream.text), el("td", {}, st.local.text),
        el("td", {}, st.product.text), el("td", {}, st.accumulated.text)));
    }
    table.replaceChildren(...rows);
  }

  table.addEventListener("click", (event) => {
    const row = event.target.closest("tr");
    if (row && row.dataset.step) go(Number(row.dataset.step));
  });
  traceBox.addEventListener("toggle", renderTable);
  $("ad-trace-note").textContent = N === 0 ? "No steps: the output is a leaf."
    : "Click a row to go to its step; the current one is outlined, those not taken yet are grey.";

  // ---- keeping the picture in view and at a legible size ---------------------------------

  const natural = { width: data.picture.width * 4 / 3, height: data.picture.height * 4 / 3 };

  function size() {
    // fitted: as wide as the frame, but never above 125% of the natural size (a small graph
    // would otherwise be blown up); full size: natural, scrolled to the step being taken
    svg.style.width = fit ? `min(100%, ${natural.width * 1.25}px)` : `${natural.width}px`;
    svg.style.maxWidth = fit ? "100%" : "none";
    svg.style.height = "auto";
    $("ad-fit").setAttribute("aria-pressed", String(!fit));
  }

  function keepInView() {
    if (current < 1) return;
    if (graph.scrollWidth <= graph.clientWidth + 2 && graph.scrollHeight <= graph.clientHeight + 2) {
      return;
    }
    const boxes = outlined.map((item) => item.getBoundingClientRect());
    if (!boxes.length) return;
    const frame = graph.getBoundingClientRect();
    const left = Math.min(...boxes.map((b) => b.left));
    const right = Math.max(...boxes.map((b) => b.right));
    const top = Math.min(...boxes.map((b) => b.top));
    const bottom = Math.max(...boxes.map((b) => b.bottom));
    if (left < frame.left + 20 || right > frame.right - 20) {
      graph.scrollLeft += (left + right) / 2 - (frame.left + frame.right) / 2;
    }
    if (top < frame.top + 20 || bottom > frame.bottom - 20) {
      graph.scrollTop += (top + bottom) / 2 - (frame.top + frame.bottom) / 2;
    }
  }

  $("ad-fit").addEventListener("click", () => {
    fit = !fit;
    size();
    keepInView();
  });
  // ---- playing -----------------------------------------------------------------------------

  function setPlaying(on) {
    playing = on;
    if (timer) clearInterval(timer);
    timer = null;
    buttons.play.setAttribute("aria-pressed", String(on));
    buttons.play.textContent = on ? "\u275a\u275a Pause" : "\u25b6 Play";
    buttons.play.setAttribute("aria-label", on ? "Pause (Space)" : "Play (Space)");
    // while playing, a screen reader is not made to read every step aloud
    $("ad-step").setAttribute("aria-live", on ? "off" : "polite");
    if (!on) return;
    if (current >= N) go(0);
    const rate = Number($("ad-speed").value) || 2;
    timer = setInterval(() => {
      if (current >= N) setPlaying(false);
      else go(current + 1);
      if (current >= N) setPlaying(false);
    }, 1000 / rate);
  }

  $("ad-speed").addEventListener("change", () => {
    if (playing) setPlaying(true);
  });

  // ---- controls ----------------------------------------------------------------------------

  buttons.first.addEventListener("click", () => go(0));
  buttons.prev.addEventListener("click", () => go(current - 1));
  buttons.next.addEventListener("click", () => go(current + 1));
  buttons.last.addEventListener("click", () => go(N));
  buttons.prevBox.addEventListener("click", prevBox);
  buttons.nextBox.addEventListener("click", nextBox);
  buttons.play.addEventListener("click", () => setPlaying(!playing));
  slider.addEventListener("input", () => go(Number(slider.value)));

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    const tag = target && target.tagName ? target.tagName.toLowerCase() : "";
    if (tag === "select" || tag === "textarea") return;
    if (tag === "input" && event.key !== " ") return; // the slider's own keys move it
    if (tag === "button" && (event.key === " " || event.key === "Enter")) return; // a click
    if (tag === "summary" && (event.key === " " || event.key === "Enter")) return;
    let handled = true;
    switch (event.key) {
      case "ArrowRight":
      case "ArrowDown":
        if (event.shiftKey) nextBox();
        else go(current + 1);
        break;
      case "ArrowLeft":
      case "ArrowUp":
        if (event.shiftKey) prevBox();
        else go(current - 1);
        break;
      case "PageDown":
        nextBox();
        break;
      case "PageUp":
        prevBox();
        break;
      case "Home":
        go(0);
        break;
      case "End":
        go(N);
        break;
      case " ":
        setPlaying(!playing);
        break;
      default:
        handled = false;
    }
    if (handled) event.preventDefault();
  });

  // ---- legend, note, start -----------------------------------------------------------------

  const words = {
    input: "input", parameter: "parameter", constant: "constant", output: "output",
    intermediate: "computed value", group: "group of values",
  };
  const legend = $("ad-legend");
  for (const item of data.legend) {
    legend.append(el("li", {}, el("span", { class: "ad-swatch", style: `background:${item.color}` }),
      words[item.role] || item.role));
  }
  legend.append(
    el("li", {}, el("span", { class: "ad-swatch ad-line", style: `border-color:${data.colors.highlight}` }),
      "the step being taken"),
    el("li", {}, el("span", { class: "ad-swatch ad-line", style: `border-color:${data.colors.done}` }),
      "edges already used"),
    el("li", {}, "edge label: local partial \u2202(op)/\u2202(input)")
  );
  const notes = [];
  if (data.note) notes.push(`${data.note}.`);
  if (runsMatter) {
    notes.push("Steps inside a box are steps of that box: it is outlined while they run, and " +
      "Shift+\u2192 (or Box \u226b) jumps to the next box.");
  }
  if (notes.length) {
    $("ad-note").textContent = notes.join(" ");
    $("ad-note").hidden = false;
  }
  if (!runsMatter) {
    document.querySelector(".ad-keys").firstChild.textContent =
      "Keys: \u2190 \u2192 one step, Home / End first and last, Space play or pause. Made by ";
  }

  fit = graph.clientWidth / natural.width >= 0.55;
  size();
  go(0);
  window.autodiffExplore = { get step() { return current; }, steps: N, go };
})();
