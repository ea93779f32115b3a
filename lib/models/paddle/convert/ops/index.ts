// Registers every op family's converters (imported once by convert.ts).
// A new family is a module here plus one import line.
import './activation';
import './elementwise';
// After the core's families: tensor.ts and vit.ts only fill the op types still missing.
import './control-flow';
import './detection';
import './tensor';
import './vit';
