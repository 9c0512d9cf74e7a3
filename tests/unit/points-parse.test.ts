import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parsePoints, PointsError, type ParsedPoints } from "../../models/points/parse";
import { createPointStream } from "../../models/points/stream";
import { repoRoot } from "../helpers/repo-root";

interface FixtureAnswer {
  name: string;
  text: string;
  size: [number, number];
  points: Array<[number, number]>;
  label?: string;
  labels?: string[];
  alts?: string[];
  statedCount?: number;
  count?: number;
  noneFound?: boolean;
}

const answers = (
  JSON.parse(readFileSync(join(repoRoot(), "tests/fixtures/points/molmo-answers.json"), "utf8")) as { answers: FixtureAnswer[] }
).answers;

const SIZE = { width: 1000, height: 500 };

/** The single point of `text`, asserting there is exactly one. */
function onePoint(text: string) {
  const result = parsePoints(text, SIZE);
  assert.equal(result.points.length, 1, `one point expected in ${JSON.stringify(text)}: ${JSON.stringify(result)}`);
  return result.points[0];
}

function reasons(result: ParsedPoints): string[] {
  return result.issues.map((issue) => issue.reason);
}

/** Deterministic pseudo-random numbers (mulberry32), so failures reproduce. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

void describe("parsePoints on answers in the reference's formats", () => {
  for (const answer of answers) {
    void it(answer.name, () => {
      const [width, height] = answer.size;
      const result = parsePoints(answer.text, { width, height });
      assert.deepEqual(
        result.points.map((p) => [p.xPercent, p.yPercent]),
        answer.points,
      );
      result.points.forEach((point, i) => {
        assert.equal(point.index, i + 1);
        assert.ok(Math.abs(point.x - (answer.points[i][0] / 100) * width) < 1e-9);
        assert.ok(Math.abs(point.y - (answer.points[i][1] / 100) * height) < 1e-9);
        if (answer.label !== undefined) assert.equal(point.label, answer.label);
        if (answer.labels !== undefined) assert.equal(point.label, answer.labels[i]);
        if (answer.alts !== undefined) assert.equal(point.alt, answer.alts[i]);
      });
      assert.deepEqual(result.issues, []);
      assert.equal(result.statedCount, answer.statedCount);
      assert.equal(result.count, answer.count);
      assert.equal(result.noneFound, answer.noneFound ?? false);
    });
  }
});

void describe("attribute order, quoting and spacing", () => {
  const variants = [
    '<point x="61.5" y="40.4" alt="dog">dog</point>',
    '<point alt="dog" y="40.4" x="61.5">dog</point>',
    "<point x='61.5' y='40.4' alt='dog'>dog</point>",
    "<point x=61.5 y=40.4 alt=dog>dog</point>",
    "<point x=61.5, y=40.4, alt=dog>dog</point>",
    "<point p= 615 ,404 alt=dog>dog</point>",
    '<point   x = "61.5"\n  y= " 40.4"\talt ="dog" >\n dog \n</point >',
    '<POINT X="61.5" Y="40.4" ALT="dog">dog</POINT>',
    '<Point x="61.5", y="40.4", alt="dog">dog</Point>',
    '<point x="61.5" y="40.4">dog</point>',
    '<point x="61.50" y="40.40" alt="dog">dog</points>',
    '<point x1="61.5" y1="40.4" alt="dog">dog</point>',
    '<points x1="61.5" y1="40.4" alt="dog">dog</points>',
    '<point p=615,404 alt="dog">dog</point>',
  ];
  for (const text of variants) {
    void it(JSON.stringify(text), () => {
      const point = onePoint(text);
      assert.equal(point.xPercent, 61.5);
      assert.equal(point.yPercent, 40.4);
      assert.equal(point.x, 615);
      assert.ok(Math.abs(point.y - 202) < 1e-9);
      assert.equal(point.label, "dog");
      assert.deepEqual(parsePoints(text, SIZE).issues, []);
    });
  }

  void it("pairs x_i with y_i whatever their order in the tag", () => {
    const result = parsePoints('<points y2="20" x1="1" x2="2" alt="a" y1="10">a</points>', SIZE);
    assert.deepEqual(result.points.map((p) => [p.xPercent, p.yPercent, p.indexInTag]), [[2, 20, 1], [1, 10, 2]]);
  });

  void it("leaves alt out when there is none, and uses the inner text as label", () => {
    const point = onePoint('<point x="1" y="2">the red button</point>');
    assert.equal("alt" in point, false);
    assert.equal(point.label, "the red button");
  });

  void it("decodes HTML entities in alt and label", () => {
    const point = onePoint('<point x="1" y="2" alt="Tom &amp; Jerry &quot;&lt;3&gt;&quot; &#39;x&#x27;">Tom &amp; Jerry</point>');
    assert.equal(point.alt, `Tom & Jerry "<3>" 'x'`);
    assert.equal(point.label, "Tom & Jerry");
  });

  void it("keeps a '<' that is not a point tag inside the label", () => {
    assert.equal(onePoint('<point x="1" y="2" alt="a">a <b> c</point>').label, "a <b> c");
  });
});

void describe("self-closing and unclosed tags", () => {
  void it("accepts a self-closing tag, labels it with alt and reports it", () => {
    const result = parsePoints('<point x="10" y="20" alt="cup"/>', SIZE);
    assert.equal(result.points[0].label, "cup");
    assert.deepEqual(reasons(result), ["self_closing"]);
  });

  void it("keeps the points of a tag without close tag, labelled with its alt", () => {
    const result = parsePoints('<point x="10" y="20" alt="cup">cup. Then <point x="30" y="40" alt="mug">mug</point>', SIZE);
    assert.deepEqual(result.points.map((p) => [p.xPercent, p.label]), [[10, "cup"], [30, "mug"]]);
    assert.deepEqual(reasons(result), ["unclosed"]);
  });

  void it("treats a very long inner text as prose, not a label", () => {
    const result = parsePoints(`<point x="10" y="20" alt="cup">${"word ".repeat(400)}</point>`, SIZE);
    assert.equal(result.points[0].label, "cup");
    assert.deepEqual(reasons(result), ["unclosed"]);
  });
});

void describe("other forms", () => {
  void it("reads Molmo2 coords with ids running across groups, and keeps the image index", () => {
    const result = parsePoints('<points coords="1 1 100 200 2 500 500;3 3 900 900">cat</points>', SIZE);
    assert.deepEqual(result.points.map((p) => [p.xPercent, p.yPercent, p.imageIndex]), [[10, 20, 1], [50, 50, 1], [90, 90, 3]]);
    assert.equal(result.tags[0].kind, "molmo2");
  });

  void it("reads Click and Long Press actions inside prose", () => {
    const result = parsePoints("I will tap it: Click(10.5, 20.5) then Long Press(30, 40).", SIZE);
    assert.deepEqual(result.points.map((p) => [p.xPercent, p.yPercent, p.label]), [[10.5, 20.5, "Click"], [30, 40, "Long Press"]]);
  });

  void it("does not read an (x, y) pair inside prose as a point", () => {
    const result = parsePoints("The vertex is at (10.5, 20.5) on the plot.", SIZE);
    assert.deepEqual(result.points, []);
  });

  void it("numbers points across tags and records each tag", () => {
    const text = 'A <point x="1" y="1" alt="a">a</point> and <points x1="2" y1="2" x2="3" y2="3" alt="b">b</points>.';
    const result = parsePoints(text, SIZE);
    assert.deepEqual(result.points.map((p) => [p.index, p.indexInTag, p.tagIndex]), [[1, 1, 0], [2, 1, 1], [3, 2, 1]]);
    assert.deepEqual(result.tags.map((t) => [t.kind, text.slice(t.start, t.end).slice(0, 7), t.pointCount]), [["point", "<point ", 1], ["points", "<points", 2]]);
  });
});

void describe("pixel conversion", () => {
  void it("uses the original width for x and height for y on non-square images", () => {
    for (const [width, height] of [[1920, 1080], [1080, 1920], [28, 500], [1, 1]] as const) {
      const point = parsePoints('<point x="25.0" y="75.0" alt="a">a</point>', { width, height }).points[0];
      assert.equal(point.x, width * 0.25);
      assert.equal(point.y, height * 0.75);
    }
  });

  void it("accepts the bounds 0 and 100 and maps them to the image edges", () => {
    const result = parsePoints('<points x1="0" y1="0" x2="100" y2="100" alt="a">a</points>', { width: 640, height: 480 });
    assert.deepEqual(result.points.map((p) => [p.x, p.y]), [[0, 0], [640, 480]]);
  });

  void it("rejects a bad image size with a typed error", () => {
    for (const size of [{ width: 0, height: 10 }, { width: 10, height: -1 }, { width: Number.NaN, height: 1 }, null]) {
      assert.throws(() => parsePoints("", size as never), (e: unknown) => e instanceof PointsError && e.code === "invalid_image_size");
    }
    assert.throws(() => parsePoints(42 as never, SIZE), (e: unknown) => e instanceof PointsError && e.code === "invalid_text");
  });
});

void describe("rejected and reported input", () => {
  const cases: Array<[string, string, string[], number]> = [
    ["value above 100", '<point x="100.1" y="5" alt="a">a</point>', ["out_of_range"], 0],
    ["negative value", '<point x="-1" y="5" alt="a">a</point>', ["out_of_range"], 0],
    ["Molmo2 value above 1000", '<points coords="1 1 1001 5">a</points>', ["out_of_range"], 0],
    ["one bad point of three", '<points x1="1" y1="1" x2="150" y2="1" x3="3" y3="3" alt="a">a</points>', ["out_of_range"], 2],
    ["x without y", '<points x1="1" y1="1" x2="2" alt="a">a</points>', ["unpaired"], 1],
    ["unreadable number", '<point x="1.2.3" y="4" alt="a">a</point>', ["malformed"], 0],
    ["no coordinates", '<point alt="a">a</point>', ["malformed"], 0],
    ["duplicate attribute", '<point x="1" x="2" y="3">a</point>', ["duplicate"], 1],
    ["'<' inside the opening tag", '<point x="1" y="2" <point x="3" y="4">b</point>', ["malformed"], 1],
    ["missing closing quote", '<point x="1 y="2">a</point> <point x="5" y="6">b</point>', ["malformed"], 1],
    ["garbage in the tag", '<point x="1" y="2" !>a</point>', ["malformed"], 0],
    ["truncated opening tag", 'See <point x="1" y="2" al', ["truncated"], 0],
    ["truncated tag name", "See <poin", ["truncated"], 0],
    ["bad Molmo2 triplets", '<points coords="1 1 100 200 2 300">a</points>', ["malformed"], 1],
    ["bad legacy pair", '<point p=12,456 alt="a">a</point>', ["malformed"], 0],
  ];
  for (const [name, text, expected, pointCount] of cases) {
    void it(`${name} is skipped and reported`, () => {
      const result = parsePoints(text, SIZE);
      assert.deepEqual(reasons(result), expected);
      assert.equal(result.points.length, pointCount);
      for (const issue of result.issues) {
        assert.ok(issue.offset >= 0 && issue.offset <= text.length);
        assert.ok(issue.snippet.length <= 80 && text.includes(issue.snippet));
        assert.ok(issue.detail.length > 0);
      }
    });
  }

  void it("parses the tags that follow a malformed one", () => {
    const result = parsePoints('<point x="1" y=>a</point> <point x="2" y="3" alt="b">b</point>', SIZE);
    assert.deepEqual(result.points.map((p) => p.xPercent), [2]);
  });
});

void describe("count answers", () => {
  const cases: Array<[string, number | undefined, number | undefined, boolean]> = [
    // text, statedCount, count, noneFound
    ['Counting the <points x1="1" y1="1" x2="2" y2="2" x3="3" y3="3" alt="cars">cars</points> shows a total of 3.', 3, 3, false],
    ["There are none.", 0, 0, true],
    ["There are 3 dogs in the picture.", 3, 3, false],
    ["There is one cat.", 1, 1, false],
    ["There are no cars here.", 0, 0, true],
    ["3", 3, 3, false],
    ["Seven.", 7, 7, false],
    ["none", 0, 0, true],
    ["This isn't in the image.", undefined, 0, true],
    ["No.", undefined, undefined, false],
    ["The total of the bill is twelve dollars.", undefined, undefined, false],
    ['Counting the <points x1="1" y1="1" x2="2" y2="2" alt="cars">cars</points>', undefined, 2, false],
    ['<points x1="1" y1="1" x2="2" y2="2" alt="cars">cars</points>', undefined, undefined, false],
    ["The answer is in row 5 of the table.", undefined, undefined, false],
  ];
  for (const [text, statedCount, count, noneFound] of cases) {
    void it(JSON.stringify(text), () => {
      const result = parsePoints(text, SIZE);
      assert.equal(result.statedCount, statedCount);
      assert.equal(result.count, count);
      assert.equal(result.noneFound, noneFound);
    });
  }

  void it("does not read coordinates as the count", () => {
    const result = parsePoints('<point x="12.0" y="40.0" alt="button">button</point>', SIZE);
    assert.equal(result.statedCount, undefined);
    assert.equal(result.count, undefined);
  });

  void it("reports a stated count that differs from the points", () => {
    const result = parsePoints('Counting the <points x1="1" y1="1" x2="2" y2="2" alt="a">a</points> shows a total of 3.', SIZE);
    assert.equal(result.statedCount, 3);
    assert.equal(result.points.length, 2);
    assert.deepEqual(reasons(result), ["count_mismatch"]);
    assert.equal(result.issues[0].snippet.includes("3."), true);
  });
});

/** Small fragments that look like Molmo output; random mixes of them are hard, near-valid input. */
const FRAGMENTS = [
  "<point", "<points", "</point>", "</points>", " x=", " y=", " x1=", " y2=", " alt=", " coords=", '"', "'", "=",
  ">", "/>", "<", "12.5", "100", "101", "-3", " ", "\n", "dog", "&amp;", "&#", "Click(", "(1.5, 2.5)", ",", ";",
  "1 1 460 588", "There are", " none", "a total of 3", "p=123,456", "Long Press(", ")", "\u00e9", "\ud83d\ude00",
];

function garbage(rng: () => number, parts: number): string {
  let text = "";
  for (let i = 0; i < parts; i++) text += FRAGMENTS[Math.floor(rng() * FRAGMENTS.length)];
  return text;
}

function checkInvariants(text: string, result: ParsedPoints): void {
  for (const point of result.points) {
    assert.ok(point.xPercent >= 0 && point.xPercent <= 100 && point.yPercent >= 0 && point.yPercent <= 100);
    assert.ok(Number.isFinite(point.x) && Number.isFinite(point.y));
  }
  for (const issue of result.issues) assert.ok(issue.offset >= 0 && issue.offset <= text.length);
  for (const tag of result.tags) assert.ok(tag.start >= 0 && tag.start <= tag.end && tag.end <= text.length);
}

void describe("garbage", () => {
  void it("never throws and keeps its invariants on random near-valid input", () => {
    const rng = random(1234);
    for (let n = 0; n < 3000; n++) {
      const text = garbage(rng, 1 + Math.floor(rng() * 40));
      checkInvariants(text, parsePoints(text, SIZE));
    }
  });

  void it("never throws on random characters", () => {
    const rng = random(99);
    for (let n = 0; n < 500; n++) {
      const length = Math.floor(rng() * 200);
      const text = Array.from({ length }, () => String.fromCharCode(Math.floor(rng() * 128))).join("");
      checkInvariants(text, parsePoints(text, SIZE));
    }
  });

  void it("finishes quickly on 1 MB adversarial strings (no catastrophic backtracking)", () => {
    const megabyte = 1 << 20;
    const fill = (unit: string) => unit.repeat(Math.ceil(megabyte / unit.length)).slice(0, megabyte);
    const inputs = [
      fill("<"), fill("<point "), fill('<point x="'), '<point x="' + fill("a"), "<point " + fill("a "),
      "<points " + fill('x1="1" '), "Click(" + fill("1"), fill("Click("), fill("(1.0, "), fill("(1.0, 2.0)"),
      fill('<point x="1" y="2">'), '<point x="1" y="2">' + fill("<b"), fill("</point>"), fill("&amp;"),
      fill("there are "), fill("isn't "), fill("total of "), "<point " + fill("p=123, "), fill("\t"),
      '<points coords="' + fill("1 ") + '">a</points>', fill('"'), "<point x" + fill("="), fill("9"),
    ];
    for (const text of inputs) {
      const started = performance.now();
      const result = parsePoints(text, SIZE);
      const elapsed = performance.now() - started;
      checkInvariants(text, result);
      assert.ok(elapsed < 3000, `${JSON.stringify(text.slice(0, 20))}… took ${elapsed.toFixed(0)} ms`);
    }
  });
});

/** Streams `text` in the given chunk lengths; returns the released points and the final result. */
function streamInChunks(text: string, chunkLengths: number[]) {
  const stream = createPointStream(SIZE);
  const released = [];
  let at = 0;
  for (const length of chunkLengths) {
    released.push(...stream.push(text.slice(at, at + length)));
    at += length;
  }
  released.push(...stream.push(text.slice(at)));
  const end = stream.end();
  released.push(...end.points);
  return { released, result: end.result };
}

function assertStreamMatchesBatch(text: string, chunkLengths: number[]): void {
  const batch = parsePoints(text, SIZE);
  const { released, result } = streamInChunks(text, chunkLengths);
  assert.deepEqual(result, batch, `stream result differs for ${JSON.stringify(text)} split ${JSON.stringify(chunkLengths)}`);
  assert.deepEqual(released, batch.points);
}

void describe("streaming", () => {
  const real = answers.map((a) => a.text);
  real.push(
    'A <point x="61.5" y="40.4" alt="dog">dog</point> and <point x=\'1\' y=2 alt=cat/> then <points coords="1 1 100 200">c</points> Click(1.5, 2.5).',
    '<points 1=125,401 2=550, 382 3=100 ,200 p=123,456/> <point x=12, y=34, alt=a>a</point>',
    `<point x="10" y="20" alt="cup">${"word ".repeat(250)}</point> <point x="30" y="40">mug`,
  );

  void it("parses every prefix of a real answer without throwing", () => {
    for (const text of real) {
      for (let end = 0; end <= text.length; end++) {
        const prefix = text.slice(0, end);
        checkInvariants(prefix, parsePoints(prefix, SIZE));
      }
    }
  });

  void it("gives the batch result for every split of a real answer into two chunks", () => {
    for (const text of real) {
      for (let cut = 0; cut <= text.length; cut++) assertStreamMatchesBatch(text, [cut]);
    }
  });

  void it("gives the batch result when fed one character at a time, and for every prefix", () => {
    for (const text of real) {
      assertStreamMatchesBatch(text, Array.from({ length: text.length }, () => 1));
      for (let end = 0; end <= text.length; end += 3) {
        const prefix = text.slice(0, end);
        assertStreamMatchesBatch(prefix, Array.from({ length: prefix.length }, () => 1));
      }
    }
  });

  void it("gives the batch result for random chunkings of garbage", () => {
    const rng = random(7);
    for (let n = 0; n < 1500; n++) {
      const text = garbage(rng, 1 + Math.floor(rng() * 30));
      const chunks: number[] = [];
      for (let left = text.length; left > 0; ) {
        const length = 1 + Math.floor(rng() * 6);
        chunks.push(length);
        left -= length;
      }
      assertStreamMatchesBatch(text, chunks);
    }
  });

  void it("releases a tag's points as soon as its close tag arrives", () => {
    const stream = createPointStream(SIZE);
    assert.deepEqual(stream.push('Counting the <points x1="10" y1="20" x2="30"'), []);
    assert.deepEqual(stream.push(' y2="40" alt="cars">ca'), []);
    const released = stream.push("rs</points> shows");
    assert.deepEqual(released.map((p) => [p.index, p.xPercent, p.label]), [[1, 10, "cars"], [2, 30, "cars"]]);
    assert.deepEqual(stream.push(" a total of 2."), []);
    const end = stream.end();
    assert.deepEqual(end.points, []);
    assert.equal(end.result.count, 2);
  });

  void it("reports a truncated trailing tag at the end", () => {
    const stream = createPointStream(SIZE);
    assert.equal(stream.push('<point x="1" y="2" alt="a">a</point> <points x1="5" y1=').length, 1);
    const end = stream.end();
    assert.deepEqual(end.points, []);
    assert.deepEqual(end.result.issues.map((i) => [i.reason, i.offset]), [["truncated", 37]]);
  });

  void it("releases an unclosed last tag at the end", () => {
    const stream = createPointStream(SIZE);
    assert.deepEqual(stream.push('<point x="1" y="2" alt="dog">do'), []);
    const end = stream.end();
    assert.deepEqual(end.points.map((p) => p.label), ["dog"]);
    assert.deepEqual(end.result.issues.map((i) => i.reason), ["unclosed"]);
  });

  void it("stays fast on a 1 MB stream of small chunks", () => {
    const text = '<point x="1" y="2" alt="a">a</point> '.repeat(30_000);
    const started = performance.now();
    const stream = createPointStream(SIZE);
    let count = 0;
    for (let at = 0; at < text.length; at += 5) count += stream.push(text.slice(at, at + 5)).length;
    count += stream.end().points.length;
    assert.equal(count, 30_000);
    assert.ok(performance.now() - started < 5000);
  });

  void it("refuses push after end", () => {
    const stream = createPointStream(SIZE);
    stream.end();
    assert.throws(() => stream.push("x"), (e: unknown) => e instanceof PointsError && e.code === "stream_ended");
    assert.deepEqual(stream.end().points, []);
  });
});
