// The library's own debug log: NODE_DEBUG=shitu prints these lines on stderr
// (util.debuglog; off by default, and then each call costs one check). For
// the pipeline's life (created, models loaded, closed), each admitted job's
// wait and run time and its aborts, and index saves and loads.
import * as util from 'node:util';

export const debug = util.debuglog('shitu');
