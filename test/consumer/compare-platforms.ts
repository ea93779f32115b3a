// One package, two CPUs: the boxes that test/consumer/workers.cjs printed on
// this x86-64 machine against those printed by the arm64 prebuild (in the
// emulated arm64 chroot of scripts/chroot-install-test.sh --arch arm64).
// Different SIMD (NEON against AVX2/AVX-512, int8 kernels rounding differently)
// is another CPU, not another picture: the same boxes and labels, scores within
// the cross-CPU tie margin, never a tie-break between near-equal labels
// (test/helpers/recognition.ts). Every run of the arm64 side (main thread,
// workers, after a terminate) is compared, and the suite's expected label for
// the workers' photo is checked on arm64 as on x64.
//
//   npx tap --test-arg=x64.json --test-arg=arm64.json test/consumer/compare-platforms.ts
// (not named *.test.ts: the suite has no arm64 output to compare).
import t from 'tap';
import * as fs from 'node:fs';
import { expectLabel, expectSameRecognition, SAME_BOX_IOU, TIE_MARGIN, type AnyBox } from '../helpers/recognition';
import { CASES } from '../helpers/recognition-cases';

interface WorkersOutput { sameCounts: boolean; images: string[]; labelled: number; runs: Record<string, AnyBox[][]> }

const [refFile, otherFile] = process.argv.slice(2);
const read = (f: string): WorkersOutput => JSON.parse(fs.readFileSync(f, 'utf8').trim().split('\n').pop()!) as WorkersOutput;
const ref = read(refFile);
const other = read(otherFile);

t.same(other.images, ref.images, 'the same photos on both');
t.equal(other.sameCounts, true, 'arm64: as many boxes per image at every step (main thread, workers, after a terminate)');
t.ok(other.labelled > 0, `arm64: boxes recognised (${other.labelled})`);
for (const [step, run] of Object.entries(other.runs)) {
  run.forEach((boxes, i) => expectSameRecognition(t, boxes, ref.runs.before[i], `arm64 ${step}, ${ref.images[i]}: as x64`,
    { scoreTolerance: TIE_MARGIN, minIou: SAME_BOX_IOU }));
}
const c = CASES.workersNongfu;
const at = other.images.indexOf(c.image);
t.ok(at >= 0, `${c.image} is among the photos`);
expectLabel(t, other.runs.before[at]?.[0], c.expected, `arm64: ${c.id}`);
