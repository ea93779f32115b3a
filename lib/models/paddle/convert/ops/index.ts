// Registers every op family's converters (imported once by convert.ts).
// A new family is a module here plus one import line.
import './activation';
import './elementwise';
import './nn';
import './tensor';
import './math';
import './interp';
import './pad';
import './compare';
import './control-flow';
import './detection';
import './generate';
import './indexing';
import './norm';
